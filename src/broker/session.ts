// A session: what the server keeps for one client ID, across connections when it is persistent
// [MQTT-4.1]: subscriptions, QoS 1/2 messages in flight and queued, QoS 2 ids received. Data plus
// small methods; its connection (a ClientConnection), the router and the session manager act on it.
import type { ClientPermissions } from '../auth/authorization.js';
import { BoundedQueue } from '../shared/bounded-queue.js';
import type { ClientConnection } from './client-connection.js';
import type { Timer } from '../shared/clock.js';
import type { Message, QoS } from '../shared/message.js';
import { PacketIdAllocator } from './packet-ids.js';
import type { SessionStore, StoredSession, StoredSubscription } from '../store/session-store.js';

export interface Subscription {
  readonly kind: 'direct';
  readonly session: Session;
  /** The filter as the client sent it, including any `$share/group/` prefix. */
  readonly key: string;
  /** The filter matched against topics. */
  readonly filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
  readonly group: SharedGroup | undefined;
}

/** One `$share/{name}/{filter}` group; the trie holds the group, which picks one member per message. */
export interface SharedGroup {
  readonly kind: 'shared';
  readonly name: string;
  readonly filter: string;
  readonly members: Subscription[];
  next: number;
  /** Members whose session has a connection now (router.ts keeps it with presenceChanged). */
  connected: number;
  /** Whether a member is connected, as last told to the cluster (router.ts, refreshLive). */
  live: boolean;
}

export interface Will {
  /** Its expiresAt is 0; expirySeconds applies from the moment the will is published. */
  message: Message;
  delaySeconds: number;
  expirySeconds: number;
}

/** A message on its way to this session's client. */
export interface Delivery {
  readonly message: Message;
  readonly qos: QoS;
  /** RETAIN flag as sent: set for retained-on-subscribe, or live with retain-as-published. */
  readonly retain: boolean;
  readonly subscriptionIds: number[] | undefined;
}

/** A delivery waiting in a session's queue; `seq` orders it and names it in the store. */
export interface Queued extends Delivery {
  readonly seq: number;
}

export interface InflightEntry extends Delivery {
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
}

export class Session {
  readonly clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** Session Expiry Interval in seconds; 0 ends the session with the connection. */
  expirySeconds: number;
  private clientRef: ClientConnection | null = null;
  /**
   * Told when a connection attaches to this session or leaves it (set by the session manager): the
   * router keeps, per shared group, whether any member is connected, which a cluster announces.
   */
  onPresence: ((session: Session) => void) | null = null;
  /** The connection attached to it now; null while the client is away. */
  get client(): ClientConnection | null {
    return this.clientRef;
  }
  set client(connection: ClientConnection | null) {
    const changed = (connection === null) !== (this.clientRef === null);
    this.clientRef = connection;
    if (changed) this.onPresence?.(this);
  }
  /** Rights of the last connection, kept to filter what an offline persistent session queues. */
  permissions: ClientPermissions | null = null;
  // The collections below are allocated on first use (an idle connection's session never needs
  // them; empty, they were ~0.7 KB of every connection). Read the counts through `inflightCount`
  // and `queueLength`, which allocate nothing.
  private subscriptionMap: Map<string, Subscription> | null = null;
  private inflightMap: Map<number, InflightEntry> | null = null;
  private queued: BoundedQueue<Queued> | null = null;
  private inboundIds: Set<number> | null = null;
  private packetIds: PacketIdAllocator | null = null;
  private readonly queueLimit: number;
  private nextSeq = 1;
  /** Where changes are recorded while the session is persistent; null for the memory store. */
  private readonly store: SessionStore | null;
  /** True once the session row exists in the store. */
  stored = false;
  droppedMessages = 0;
  /** Lifecycle events' sessionIdentifier: one UUID for the session's life. */
  identifier: string | undefined = undefined;
  expiryTimer: Timer | null = null;
  /** A will whose delay is running [MQTT-3.1.3-9]. */
  pendingWill: { will: Will; timer: Timer } | null = null;
  /** Per-publish scratch used by the router to merge overlapping subscriptions without a Map. */
  mark = 0;
  markQos: QoS = 0;
  markRetain = false;
  markIds: number[] | undefined = undefined;

  constructor(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, queueLimit: number, store: SessionStore | null) {
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
    this.expirySeconds = expirySeconds;
    this.queueLimit = queueLimit;
    this.store = store;
  }

  get subscriptions(): Map<string, Subscription> {
    return (this.subscriptionMap ??= new Map());
  }

  /** QoS 1/2 deliveries sent and not yet acknowledged, by packet identifier. */
  get inflight(): Map<number, InflightEntry> {
    return (this.inflightMap ??= new Map());
  }

  /** Subscriptions held, without allocating the map. */
  get subscriptionCount(): number {
    return this.subscriptionMap?.size ?? 0;
  }

  get inflightCount(): number {
    return this.inflightMap === null ? 0 : this.inflightMap.size;
  }

  /** QoS 1/2 deliveries waiting for room in flight (or for the client to return). */
  get queue(): BoundedQueue<Queued> {
    return (this.queued ??= new BoundedQueue(this.queueLimit));
  }

  get queueLength(): number {
    return this.queued === null ? 0 : this.queued.length;
  }

  /** QoS 2 packet ids received and PUBREC'd, awaiting PUBREL [MQTT-4.3.3]. */
  get inboundQos2(): Set<number> {
    return (this.inboundIds ??= new Set());
  }

  get ids(): PacketIdAllocator {
    return (this.packetIds ??= new PacketIdAllocator());
  }

  get persistent(): boolean {
    return this.expirySeconds > 0;
  }

  /** The store to record a change in, when this session must survive a restart. */
  private get recorder(): SessionStore | null {
    return this.store !== null && this.stored ? this.store : null;
  }

  /**
   * Brings the stored copy in line with `persistent`: writes the session row (and, the first
   * time, everything it holds) or deletes it. Called when the session opens, detaches or changes
   * its expiry.
   */
  syncStored(disconnectedAt: number | null): void {
    if (this.store === null) return;
    if (!this.persistent) {
      if (this.stored) this.store.deleteSession(this.clientId);
      this.stored = false;
      return;
    }
    this.store.putSession(this.clientId, this.protocolVersion, this.expirySeconds, disconnectedAt);
    if (!this.stored) {
      this.stored = true;
      if (this.subscriptionMap !== null) for (const sub of this.subscriptionMap.values()) this.store.putSubscription(this.clientId, storedSubscription(sub));
      if (this.queued !== null) for (const q of this.queued) this.store.enqueue(this.clientId, q.seq, q);
      if (this.inflightMap !== null) for (const [id, e] of this.inflightMap) this.store.putInflight(this.clientId, id, e.state, e);
      if (this.inboundIds !== null) for (const id of this.inboundIds) this.store.addInboundQos2(this.clientId, id);
    }
  }

  /** Forgets the stored copy (the session ended). */
  dropStored(): void {
    if (this.store !== null && this.stored) this.store.deleteSession(this.clientId);
    this.stored = false;
  }

  recordSubscription(sub: Subscription): void {
    this.recorder?.putSubscription(this.clientId, storedSubscription(sub));
  }

  forgetSubscription(key: string): void {
    this.recorder?.deleteSubscription(this.clientId, key);
  }

  /** Queues a QoS 1/2 delivery; when full the oldest is dropped and counted. Returns true on a drop. */
  enqueue(delivery: Delivery): boolean {
    const queued: Queued = {
      message: delivery.message,
      qos: delivery.qos,
      retain: delivery.retain,
      subscriptionIds: delivery.subscriptionIds,
      seq: this.nextSeq++,
    };
    const dropped = this.queue.push(queued);
    const rec = this.recorder;
    rec?.enqueue(this.clientId, queued.seq, queued);
    if (dropped !== undefined) {
      rec?.dequeue(this.clientId, dropped.seq);
      this.droppedMessages++;
      return true;
    }
    return false;
  }

  dequeue(): Queued | undefined {
    if (this.queued === null) return undefined;
    const queued = this.queued.shift();
    if (queued !== undefined) this.recorder?.dequeue(this.clientId, queued.seq);
    return queued;
  }

  setInflight(id: number, entry: InflightEntry): void {
    this.inflight.set(id, entry);
    this.recorder?.putInflight(this.clientId, id, entry.state, entry);
  }

  /** QoS 2: PUBREC received, PUBREL sent; only the packet id matters from now on. */
  markReleased(id: number, entry: InflightEntry): void {
    entry.state = 'pubrel';
    this.recorder?.putInflight(this.clientId, id, 'pubrel', entry);
  }

  completeInflight(id: number): void {
    if (this.inflightMap !== null && this.inflightMap.delete(id)) this.recorder?.deleteInflight(this.clientId, id);
  }

  addInbound(id: number): void {
    this.inboundQos2.add(id);
    this.recorder?.addInboundQos2(this.clientId, id);
  }

  releaseInbound(id: number): boolean {
    const known = this.inboundIds !== null && this.inboundIds.delete(id);
    if (known) this.recorder?.deleteInboundQos2(this.clientId, id);
    return known;
  }

  /** Restores state read from the store at start-up (nothing is recorded back). */
  restore(stored: StoredSession, attach: (sub: StoredSubscription) => void): void {
    this.stored = true;
    for (const sub of stored.subscriptions) attach(sub);
    for (const q of stored.queue) {
      // The queue limit may have been lowered since: what no longer fits is dropped for good.
      const dropped = this.queue.push({ ...q.delivery, seq: q.seq });
      if (dropped !== undefined) this.store?.dequeue(this.clientId, dropped.seq);
      if (q.seq >= this.nextSeq) this.nextSeq = q.seq + 1;
    }
    for (const e of stored.inflight) this.inflight.set(e.packetId, { ...e.delivery, state: e.state });
    for (const id of stored.inboundQos2) this.inboundQos2.add(id);
  }
}

function storedSubscription(sub: Subscription): StoredSubscription {
  return {
    key: sub.key,
    qos: sub.qos,
    noLocal: sub.noLocal,
    retainAsPublished: sub.retainAsPublished,
    retainHandling: sub.retainHandling,
    subscriptionId: sub.subscriptionId,
  };
}
