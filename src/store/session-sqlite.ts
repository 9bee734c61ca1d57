// Persistent sessions on SQLite. Every change is one prepared statement in the current batch
// (sqlite-batch.ts); reads (loadSessions at start-up, loadSession) flush first, so they see every
// change made before them.
//
// In-flight order: resending after a reconnect must follow the original order [MQTT-4.4.0-1,
// MQTT-4.6.0-1], and packet ids wrap (65535 then 1), so rows carry `ord`, a counter taken when the
// entry is first written and kept when it is replaced (publish -> pubrel).
//
// Cancelling pairs: a delivery written to a connected subscriber is usually acknowledged within a
// millisecond or two, before the batch holding its in-flight row commits (sqlite-batch.ts waits
// store.commitDelayMs for that). Its row then never reaches the file: deleteInflight cancels the
// pending INSERT instead of adding a DELETE; likewise dequeue for a pending enqueue. That is sound
// because those INSERTs create rows that did not exist: a 'publish' in-flight entry takes a packet
// id the session does not have in flight (packet-ids.ts), and queue seqs only grow. Anything else
// on the same key in between (a second put, a PUBREL state, deleteSession) makes the pair ordinary
// changes again. The row's parameters are computed only if it is committed.
import type Database from 'better-sqlite3';
import type { WriteBatch } from './sqlite-batch.js';
import { decodeDelivery, DELIVERY_COLUMNS, deliveryParams, type DeliveryRow, type LazyParams, type SqlValue } from './sqlite-codec.js';
import { MESSAGE_PLACEHOLDERS } from './sqlite-codec.js';
import type {
  SessionStore,
  StoredDelivery,
  StoredInflight,
  StoredQueued,
  StoredSession,
  StoredSubscription,
} from './session-store.js';

const CHILD_TABLES = ['subscriptions', 'queued', 'inflight', 'inbound_qos2'] as const;
const DELIVERY_PLACEHOLDERS = `${MESSAGE_PLACEHOLDERS}, ?, ?, ?`;

export interface PurgeCounts {
  /** Sessions whose expiry interval ran out while the server was down. */
  sessions: number;
  /** Their subscriptions, messages and ids, plus rows left without a session. */
  sessionRows: number;
  /** Queued and in-flight (not yet released) messages past their Message Expiry Interval. */
  messages: number;
}

interface SessionRow {
  client_id: string;
  protocol_version: 3 | 4 | 5;
  expiry_seconds: number;
  disconnected_at: number | null;
}

interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: 0 | 1 | 2;
  no_local: number;
  retain_as_published: number;
  retain_handling: 0 | 1 | 2;
  subscription_id: number | null;
}

type QueuedRow = DeliveryRow & { client_id: string; seq: number };
type InflightRow = DeliveryRow & { client_id: string; packet_id: number; state: 'publish' | 'pubrel' };
type InboundRow = { client_id: string; packet_id: number };

/** An in-flight or queued row: its first columns, then the delivery's, computed at commit. */
class DeliveryParams implements LazyParams {
  constructor(
    private readonly head: SqlValue[],
    private readonly delivery: StoredDelivery,
  ) {}

  values(): SqlValue[] {
    const params = deliveryParams(this.delivery);
    params.unshift(...this.head);
    return params;
  }
}

/**
 * Change numbers of pending INSERTs a later DELETE may cancel, by client ID then packet id or seq.
 * A negative entry -(n + 1) marks a key written twice while pending: not cancellable.
 */
type PendingPuts = Map<string, Map<number, number>>;

function notePut(puts: PendingPuts, clientId: string, id: number, n: number): void {
  if (n < 0) return;
  let byId = puts.get(clientId);
  if (byId === undefined) puts.set(clientId, (byId = new Map()));
  const earlier = byId.get(id);
  byId.set(id, earlier === undefined ? n : -(n + 1));
}

/** A pending INSERT for the key, if any, may no longer be cancelled (`n`: the change that replaced it). */
function blockPut(puts: PendingPuts, clientId: string, id: number, n: number): void {
  const byId = puts.get(clientId);
  if (byId !== undefined && byId.has(id)) byId.set(id, -(Math.max(n, 0) + 1));
}

/** Removes and returns the cancellable change number for the key, or -1. */
function takePut(puts: PendingPuts, clientId: string, id: number): number {
  const byId = puts.get(clientId);
  if (byId === undefined) return -1;
  const n = byId.get(id);
  if (n === undefined) return -1;
  byId.delete(id);
  if (byId.size === 0) puts.delete(clientId);
  return n;
}

/** Forgets the entries of changes committed by now (numbered below `committedBelow`). */
function prunePuts(puts: PendingPuts, committedBelow: number): void {
  for (const [clientId, byId] of puts) {
    for (const [id, n] of byId) if ((n < 0 ? -n - 1 : n) < committedBelow) byId.delete(id);
    if (byId.size === 0) puts.delete(clientId);
  }
}

function sessionOf(row: SessionRow): StoredSession {
  return {
    clientId: row.client_id,
    protocolVersion: row.protocol_version,
    expirySeconds: row.expiry_seconds,
    disconnectedAt: row.disconnected_at,
    subscriptions: [],
    inflight: [],
    queue: [],
    inboundQos2: [],
  };
}

function subscriptionOf(row: SubscriptionRow): StoredSubscription {
  return {
    key: row.filter,
    qos: row.qos,
    noLocal: row.no_local !== 0,
    retainAsPublished: row.retain_as_published !== 0,
    retainHandling: row.retain_handling,
    subscriptionId: row.subscription_id ?? undefined,
  };
}

function queuedOf(row: QueuedRow): StoredQueued {
  return { seq: row.seq, delivery: decodeDelivery(row) };
}

function inflightOf(row: InflightRow): StoredInflight {
  return { packetId: row.packet_id, state: row.state, delivery: decodeDelivery(row) };
}

export class SqliteSessionStore implements SessionStore {
  private readonly putSessionStmt: Database.Statement;
  private readonly deleteStmts: Database.Statement[];
  private readonly putSubscriptionStmt: Database.Statement;
  private readonly deleteSubscriptionStmt: Database.Statement;
  private readonly enqueueStmt: Database.Statement;
  private readonly dequeueStmt: Database.Statement;
  private readonly putInflightStmt: Database.Statement;
  private readonly deleteInflightStmt: Database.Statement;
  private readonly addInboundStmt: Database.Statement;
  private readonly deleteInboundStmt: Database.Statement;
  /** loadSession's reads, by client ID: session, subscriptions, queued, in-flight, inbound QoS 2. */
  private readonly oneSession: Database.Statement;
  private readonly oneSubscriptions: Database.Statement;
  private readonly oneQueue: Database.Statement;
  private readonly oneInflight: Database.Statement;
  private readonly oneInbound: Database.Statement;
  private nextOrd: number;
  private readonly inflightPuts: PendingPuts = new Map();
  private readonly queuedPuts: PendingPuts = new Map();

  constructor(
    private readonly db: Database.Database,
    private readonly batch: WriteBatch,
  ) {
    this.putSessionStmt = db.prepare(
      `INSERT INTO sessions (client_id, protocol_version, expiry_seconds, disconnected_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET protocol_version = excluded.protocol_version,
         expiry_seconds = excluded.expiry_seconds, disconnected_at = excluded.disconnected_at`,
    );
    this.deleteStmts = ['sessions', ...CHILD_TABLES].map((t) => db.prepare(`DELETE FROM ${t} WHERE client_id = ?`));
    this.putSubscriptionStmt = db.prepare(
      `INSERT INTO subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id, filter) DO UPDATE SET qos = excluded.qos, no_local = excluded.no_local,
         retain_as_published = excluded.retain_as_published, retain_handling = excluded.retain_handling,
         subscription_id = excluded.subscription_id`,
    );
    this.deleteSubscriptionStmt = db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?');
    this.enqueueStmt = db.prepare(`INSERT OR REPLACE INTO queued (client_id, seq, ${DELIVERY_COLUMNS}) VALUES (?, ?, ${DELIVERY_PLACEHOLDERS})`);
    this.dequeueStmt = db.prepare('DELETE FROM queued WHERE client_id = ? AND seq = ?');
    const deliveryUpdates = DELIVERY_COLUMNS.split(', ')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.putInflightStmt = db.prepare(
      `INSERT INTO inflight (client_id, packet_id, ord, state, ${DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ${DELIVERY_PLACEHOLDERS})
       ON CONFLICT (client_id, packet_id) DO UPDATE SET state = excluded.state, ${deliveryUpdates}`,
    );
    this.deleteInflightStmt = db.prepare('DELETE FROM inflight WHERE client_id = ? AND packet_id = ?');
    this.addInboundStmt = db.prepare('INSERT OR IGNORE INTO inbound_qos2 (client_id, packet_id) VALUES (?, ?)');
    this.deleteInboundStmt = db.prepare('DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?');
    this.nextOrd = (db.prepare('SELECT coalesce(max(ord), 0) + 1 AS n FROM inflight').get() as { n: number }).n;
    batch.onCommitted(() => {
      if (batch.pending === 0) {
        this.inflightPuts.clear();
        this.queuedPuts.clear();
      } else {
        prunePuts(this.inflightPuts, batch.committedBelow);
        prunePuts(this.queuedPuts, batch.committedBelow);
      }
    });
    this.oneSession = db.prepare('SELECT * FROM sessions WHERE client_id = ?');
    this.oneSubscriptions = db.prepare('SELECT * FROM subscriptions WHERE client_id = ? ORDER BY rowid');
    this.oneQueue = db.prepare('SELECT * FROM queued WHERE client_id = ? ORDER BY seq');
    this.oneInflight = db.prepare('SELECT * FROM inflight WHERE client_id = ? ORDER BY ord');
    this.oneInbound = db.prepare('SELECT * FROM inbound_qos2 WHERE client_id = ? ORDER BY packet_id');
  }

  /**
   * Run once at open, in one transaction: removes sessions whose expiry passed while the server
   * was down (disconnectedAt + expirySeconds < now; a session with no disconnectedAt was
   * connected when the server stopped, so its interval starts now and it is kept), everything
   * they owned, rows without a session, and queued or unreleased in-flight messages past their
   * expiry [MQTT-3.3.2-5]. In-flight entries in 'pubrel' are kept whatever their message: the
   * QoS 2 exchange must complete.
   */
  static purgeExpired(db: Database.Database, now: number): PurgeCounts {
    return db.transaction((): PurgeCounts => {
      const sessions = db
        .prepare('DELETE FROM sessions WHERE disconnected_at IS NOT NULL AND disconnected_at + expiry_seconds * 1000 < ?')
        .run(now).changes;
      let sessionRows = 0;
      for (const t of CHILD_TABLES) {
        sessionRows += db.prepare(`DELETE FROM ${t} WHERE client_id NOT IN (SELECT client_id FROM sessions)`).run().changes;
      }
      const messages =
        db.prepare('DELETE FROM queued WHERE expires_at <> 0 AND expires_at <= ?').run(now).changes +
        db.prepare("DELETE FROM inflight WHERE state = 'publish' AND expires_at <> 0 AND expires_at <= ?").run(now).changes;
      return { sessions, sessionRows, messages };
    })();
  }

  /** Commits what is pending, then reads every session back. */
  async loadSessions(): Promise<StoredSession[]> {
    this.batch.flush();
    const byClient = new Map<string, StoredSession>();
    const out: StoredSession[] = [];
    for (const row of this.db.prepare('SELECT * FROM sessions ORDER BY client_id').iterate() as IterableIterator<SessionRow>) {
      const s = sessionOf(row);
      byClient.set(s.clientId, s);
      out.push(s);
    }
    for (const row of this.db.prepare('SELECT * FROM subscriptions ORDER BY client_id, rowid').iterate() as IterableIterator<SubscriptionRow>) {
      byClient.get(row.client_id)?.subscriptions.push(subscriptionOf(row));
    }
    for (const row of this.db.prepare('SELECT * FROM queued ORDER BY client_id, seq').iterate() as IterableIterator<QueuedRow>) {
      byClient.get(row.client_id)?.queue.push(queuedOf(row));
    }
    for (const row of this.db.prepare('SELECT * FROM inflight ORDER BY client_id, ord').iterate() as IterableIterator<InflightRow>) {
      byClient.get(row.client_id)?.inflight.push(inflightOf(row));
    }
    for (const row of this.db.prepare('SELECT * FROM inbound_qos2 ORDER BY client_id, packet_id').iterate() as IterableIterator<InboundRow>) {
      byClient.get(row.client_id)?.inboundQos2.push(row.packet_id);
    }
    return out;
  }

  /** Commits what is pending, then reads one session back (undefined: none). */
  async loadSession(clientId: string): Promise<StoredSession | undefined> {
    this.batch.flush();
    const row = this.oneSession.get(clientId) as SessionRow | undefined;
    if (row === undefined) return undefined;
    const s = sessionOf(row);
    for (const r of this.oneSubscriptions.iterate(clientId) as IterableIterator<SubscriptionRow>) s.subscriptions.push(subscriptionOf(r));
    for (const r of this.oneQueue.iterate(clientId) as IterableIterator<QueuedRow>) s.queue.push(queuedOf(r));
    for (const r of this.oneInflight.iterate(clientId) as IterableIterator<InflightRow>) s.inflight.push(inflightOf(r));
    for (const r of this.oneInbound.iterate(clientId) as IterableIterator<InboundRow>) s.inboundQos2.push(r.packet_id);
    return s;
  }

  putSession(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): void {
    this.batch.add(this.putSessionStmt, [clientId, protocolVersion, expirySeconds, disconnectedAt]);
  }

  deleteSession(clientId: string): void {
    this.inflightPuts.delete(clientId);
    this.queuedPuts.delete(clientId);
    for (const stmt of this.deleteStmts) this.batch.add(stmt, [clientId]);
  }

  putSubscription(clientId: string, s: StoredSubscription): void {
    this.batch.add(this.putSubscriptionStmt, [
      clientId,
      s.key,
      s.qos,
      s.noLocal ? 1 : 0,
      s.retainAsPublished ? 1 : 0,
      s.retainHandling,
      s.subscriptionId ?? null,
    ]);
  }

  deleteSubscription(clientId: string, key: string): void {
    this.batch.add(this.deleteSubscriptionStmt, [clientId, key]);
  }

  enqueue(clientId: string, seq: number, delivery: StoredDelivery): void {
    notePut(this.queuedPuts, clientId, seq, this.batch.add(this.enqueueStmt, new DeliveryParams([clientId, seq], delivery)));
  }

  dequeue(clientId: string, seq: number): void {
    const put = takePut(this.queuedPuts, clientId, seq);
    if (put >= 0 && this.batch.cancel(put)) return;
    this.batch.add(this.dequeueStmt, [clientId, seq]);
  }

  putInflight(clientId: string, packetId: number, state: 'publish' | 'pubrel', delivery: StoredDelivery): void {
    const n = this.batch.add(this.putInflightStmt, new DeliveryParams([clientId, packetId, this.nextOrd++, state], delivery));
    // Only a 'publish' entry is created by its put; 'pubrel' replaces one (see file-top note).
    if (state === 'publish') notePut(this.inflightPuts, clientId, packetId, n);
    else blockPut(this.inflightPuts, clientId, packetId, n);
  }

  deleteInflight(clientId: string, packetId: number): void {
    const put = takePut(this.inflightPuts, clientId, packetId);
    if (put >= 0 && this.batch.cancel(put)) return;
    this.batch.add(this.deleteInflightStmt, [clientId, packetId]);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.batch.add(this.addInboundStmt, [clientId, packetId]);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.batch.add(this.deleteInboundStmt, [clientId, packetId]);
  }
}
