// Sessions kept in Maps: nothing survives the process. Children are keyed by client ID apart from
// the session row, as in the SQL backends: a session's subscriptions, queue, in-flight messages and
// inbound QoS 2 ids are returned by loadSessions / loadSession only while its row exists, and
// deleteSession removes them all. Nothing expires here: the memory store never outlives the
// process that would expire its sessions.
import type {
  SessionStore,
  StoredDelivery,
  StoredInflight,
  StoredQueued,
  StoredSession,
  StoredSubscription,
} from './session-store.js';

interface SessionRow {
  protocolVersion: 3 | 4 | 5;
  expirySeconds: number;
  disconnectedAt: number | null;
}

interface Children {
  readonly subscriptions: Map<string, StoredSubscription>;
  readonly queue: Map<number, StoredDelivery>;
  /** Map order is insertion order, kept when an entry is replaced (publish -> pubrel). */
  readonly inflight: Map<number, StoredInflight>;
  readonly inboundQos2: Set<number>;
}

export class MemorySessionStore implements SessionStore {
  private readonly rows = new Map<string, SessionRow>();
  private readonly children = new Map<string, Children>();

  async loadSessions(): Promise<StoredSession[]> {
    const out: StoredSession[] = [];
    for (const clientId of this.rows.keys()) out.push(this.snapshot(clientId)!);
    return out;
  }

  async loadSession(clientId: string): Promise<StoredSession | undefined> {
    return this.snapshot(clientId);
  }

  /** The session as stored now, in fresh arrays (callers may keep or change them). */
  private snapshot(clientId: string): StoredSession | undefined {
    const row = this.rows.get(clientId);
    if (row === undefined) return undefined;
    const c = this.children.get(clientId);
    const queue: StoredQueued[] = [];
    if (c !== undefined) for (const [seq, delivery] of c.queue) queue.push({ seq, delivery });
    queue.sort((a, b) => a.seq - b.seq);
    return {
      clientId,
      protocolVersion: row.protocolVersion,
      expirySeconds: row.expirySeconds,
      disconnectedAt: row.disconnectedAt,
      subscriptions: c === undefined ? [] : [...c.subscriptions.values()],
      inflight: c === undefined ? [] : [...c.inflight.values()],
      queue,
      inboundQos2: c === undefined ? [] : [...c.inboundQos2],
    };
  }

  putSession(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): void {
    this.rows.set(clientId, { protocolVersion, expirySeconds, disconnectedAt });
  }

  deleteSession(clientId: string): void {
    this.rows.delete(clientId);
    this.children.delete(clientId);
  }

  putSubscription(clientId: string, subscription: StoredSubscription): void {
    this.of(clientId).subscriptions.set(subscription.key, { ...subscription });
  }

  deleteSubscription(clientId: string, key: string): void {
    this.children.get(clientId)?.subscriptions.delete(key);
  }

  enqueue(clientId: string, seq: number, delivery: StoredDelivery): void {
    this.of(clientId).queue.set(seq, copyDelivery(delivery));
  }

  dequeue(clientId: string, seq: number): void {
    this.children.get(clientId)?.queue.delete(seq);
  }

  putInflight(clientId: string, packetId: number, state: 'publish' | 'pubrel', delivery: StoredDelivery): void {
    this.of(clientId).inflight.set(packetId, { packetId, state, delivery: copyDelivery(delivery) });
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.children.get(clientId)?.inflight.delete(packetId);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.of(clientId).inboundQos2.add(packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.children.get(clientId)?.inboundQos2.delete(packetId);
  }

  private of(clientId: string): Children {
    let c = this.children.get(clientId);
    if (c === undefined) {
      c = { subscriptions: new Map(), queue: new Map(), inflight: new Map(), inboundQos2: new Set() };
      this.children.set(clientId, c);
    }
    return c;
  }
}

/**
 * Keeps only the StoredDelivery fields: the broker passes its live objects (a Queued with `seq`,
 * an InflightEntry whose `state` it later changes), which must not leak into what is loaded back.
 */
function copyDelivery(d: StoredDelivery): StoredDelivery {
  return { message: d.message, qos: d.qos, retain: d.retain, subscriptionIds: d.subscriptionIds };
}
