// Persistent sessions on SQLite. Every change is one prepared statement in the current batch
// (sqlite-batch.ts); reads (loadSessions at start-up, loadSession) flush first, so they see every
// change made before them.
//
// In-flight order: resending after a reconnect must follow the original order [MQTT-4.4.0-1,
// MQTT-4.6.0-1], and packet ids wrap (65535 then 1), so rows carry `ord`, a counter taken when the
// entry is first written and kept when it is replaced (publish -> pubrel).
//
// Messages stored once (schema version 3): a QoS 1/2 publish delivered to N persistent sessions is
// one `messages` row plus N small queued/in-flight rows naming it by message_id. The broker hands
// every session's delivery the same Message object, so the store recognises a message by identity
// (a WeakMap from the object to its MessageRef) and counts, in memory, the rows that name it; the
// row whose removal takes the count to zero also removes the message. Order keeps the file
// consistent at every commit (a commit applies a prefix of the changes): a message's INSERT is
// added before the first row naming it, its DELETE after the last row's DELETE. The count covers
// the rows as they will be once every pending change is applied. Loading shares one decoded
// message between the rows that name it, and records their references, so a session resumed after
// a restart keeps naming the same message (queued -> in flight reuses its id).
//
// Cancelling pairs: a delivery written to a connected subscriber is usually acknowledged within a
// millisecond or two, before the batch holding its in-flight row commits (sqlite-batch.ts waits
// store.commitDelayMs for that). Its row then never reaches the file: deleteInflight cancels the
// pending INSERT instead of adding a DELETE; likewise dequeue for a pending enqueue. That is sound
// because those INSERTs create rows that did not exist: a 'publish' in-flight entry takes a packet
// id the session does not have in flight (packet-ids.ts), and queue seqs only grow. Anything else
// on the same key in between (a second put, a PUBREL state, deleteSession) makes the pair ordinary
// changes again. The same holds one level up: when every row naming a message was cancelled, the
// message's own pending INSERT is cancelled with the last of them, so a fan-out acknowledged by
// every subscriber before its commit writes nothing at all. If any row naming it was written and
// deleted instead, the message's INSERT and DELETE are both kept (the rows' INSERT may commit in
// a batch before their DELETE, and must find their message there).
import type Database from 'better-sqlite3';
import type { WriteBatch } from './sqlite-batch.js';
import { decodeMessage, MESSAGE_COLUMNS, MESSAGE_PLACEHOLDERS, messageParams, type LazyParams, type MessageRow, type SqlValue } from './sqlite-codec.js';
import type {
  SessionStore,
  StoredDelivery,
  StoredInflight,
  StoredMessage,
  StoredQueued,
  StoredSession,
  StoredSubscription,
} from './session-store.js';

const CHILD_TABLES = ['subscriptions', 'queued', 'inflight', 'inbound_qos2'] as const;
/** How a queued or in-flight row sends its message to that session. */
const SEND_COLUMNS = 'message_id, qos, retain, subscription_ids';
const MESSAGE_FIELDS = MESSAGE_COLUMNS.split(', ')
  .map((c) => `m.${c}`)
  .join(', ');

export interface PurgeCounts {
  /** Sessions whose expiry interval ran out while the server was down. */
  sessions: number;
  /** Their subscriptions, messages and ids, plus rows left without a session or a message. */
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

/** A queued or in-flight row joined with its message. */
interface SendRow extends MessageRow {
  client_id: string;
  message_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
}
type QueuedRow = SendRow & { seq: number };
type InflightRow = SendRow & { packet_id: number; state: 'publish' | 'pubrel' };
type InboundRow = { client_id: string; packet_id: number };

/** One stored message and the rows naming it (see file-top note). */
interface MessageRef {
  readonly id: number;
  /** Queued and in-flight rows naming it, once every pending change is applied. 0: gone. */
  refs: number;
  /** Change number of its pending INSERT while it may still be cancelled, else -1. */
  put: number;
  /** No row names it, and it waits for the end of the turn to be removed (see release()). */
  dying: boolean;
}

/** A queued or in-flight row the store knows of: its message, and its INSERT if cancellable. */
interface RowRef {
  readonly ref: MessageRef;
  /** Change number of the INSERT that created the row, while a DELETE may cancel it; else -1. */
  put: number;
}

/** A row put: the RowRef kept for it and its parameters, computed only if it is committed. */
class QueuedPut implements RowRef, LazyParams {
  put = -1;
  constructor(
    private readonly clientId: string,
    private readonly seq: number,
    readonly ref: MessageRef,
    private readonly delivery: StoredDelivery,
  ) {}

  values(): SqlValue[] {
    return [this.clientId, this.seq, ...sendParams(this.ref, this.delivery)];
  }
}

class InflightPut implements RowRef, LazyParams {
  put = -1;
  constructor(
    private readonly clientId: string,
    private readonly packetId: number,
    private readonly ord: number,
    private readonly state: 'publish' | 'pubrel',
    readonly ref: MessageRef,
    private readonly delivery: StoredDelivery,
  ) {}

  values(): SqlValue[] {
    return [this.clientId, this.packetId, this.ord, this.state, ...sendParams(this.ref, this.delivery)];
  }
}

/** Rows by client ID, then seq (queue) or packet id (in flight). */
type Rows = Map<string, Map<number, RowRef>>;

/** A message row's parameters, computed only if its INSERT is committed. */
class MessageParams implements LazyParams {
  constructor(
    private readonly id: number,
    private readonly message: StoredMessage,
  ) {}

  values(): SqlValue[] {
    const params = messageParams(this.message);
    params.unshift(this.id);
    return params;
  }
}

function sendParams(ref: MessageRef, d: StoredDelivery): SqlValue[] {
  return [ref.id, d.qos, d.retain ? 1 : 0, d.subscriptionIds === undefined ? null : JSON.stringify(d.subscriptionIds)];
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

function deliveryOf(row: SendRow, message: StoredMessage): StoredDelivery {
  return {
    message,
    qos: row.qos as StoredDelivery['qos'],
    retain: row.retain !== 0,
    subscriptionIds: row.subscription_ids === null ? undefined : (JSON.parse(row.subscription_ids) as number[]),
  };
}

function rowsOf(rows: Rows, clientId: string): Map<number, RowRef> {
  let byKey = rows.get(clientId);
  if (byKey === undefined) rows.set(clientId, (byKey = new Map()));
  return byKey;
}

/**
 * What one load read: each message decoded once, and the references counted before it (reused by
 * id, so the objects the broker already holds keep naming the same MessageRef).
 */
interface LoadContext {
  decoded: Map<number, StoredMessage>;
  known: Map<number, MessageRef>;
}

export class SqliteSessionStore implements SessionStore {
  private readonly putSessionStmt: Database.Statement;
  private readonly deleteStmts: Database.Statement[];
  private readonly putSubscriptionStmt: Database.Statement;
  private readonly deleteSubscriptionStmt: Database.Statement;
  private readonly putMessageStmt: Database.Statement;
  private readonly deleteMessageStmt: Database.Statement;
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
  private nextMessageId: number;
  /** The stored message of a Message object the broker delivers (see file-top note). */
  private readonly byMessage = new WeakMap<StoredMessage, MessageRef>();
  /** Messages some row names, by id. */
  private byId = new Map<number, MessageRef>();
  private readonly queuedRows: Rows = new Map();
  private readonly inflightRows: Rows = new Map();
  /** Messages whose last row went this turn (release()). */
  private dying: MessageRef[] = [];
  private sweepScheduled = false;
  private readonly onSweep = () => {
    this.sweepScheduled = false;
    this.sweep();
  };

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
    this.putMessageStmt = db.prepare(`INSERT INTO messages (id, ${MESSAGE_COLUMNS}) VALUES (?, ${MESSAGE_PLACEHOLDERS})`);
    this.deleteMessageStmt = db.prepare('DELETE FROM messages WHERE id = ?');
    this.enqueueStmt = db.prepare(`INSERT OR REPLACE INTO queued (client_id, seq, ${SEND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.dequeueStmt = db.prepare('DELETE FROM queued WHERE client_id = ? AND seq = ?');
    this.putInflightStmt = db.prepare(
      `INSERT INTO inflight (client_id, packet_id, ord, state, ${SEND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id, packet_id) DO UPDATE SET state = excluded.state, message_id = excluded.message_id,
         qos = excluded.qos, retain = excluded.retain, subscription_ids = excluded.subscription_ids`,
    );
    this.deleteInflightStmt = db.prepare('DELETE FROM inflight WHERE client_id = ? AND packet_id = ?');
    this.addInboundStmt = db.prepare('INSERT OR IGNORE INTO inbound_qos2 (client_id, packet_id) VALUES (?, ?)');
    this.deleteInboundStmt = db.prepare('DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?');
    this.nextOrd = (db.prepare('SELECT coalesce(max(ord), 0) + 1 AS n FROM inflight').get() as { n: number }).n;
    this.nextMessageId = (db.prepare('SELECT coalesce(max(id), 0) + 1 AS n FROM messages').get() as { n: number }).n;
    this.oneSession = db.prepare('SELECT * FROM sessions WHERE client_id = ?');
    this.oneSubscriptions = db.prepare('SELECT * FROM subscriptions WHERE client_id = ? ORDER BY rowid');
    this.oneQueue = db.prepare(`SELECT q.*, ${MESSAGE_FIELDS} FROM queued q JOIN messages m ON m.id = q.message_id WHERE q.client_id = ? ORDER BY q.seq`);
    this.oneInflight = db.prepare(
      `SELECT f.*, ${MESSAGE_FIELDS} FROM inflight f JOIN messages m ON m.id = f.message_id WHERE f.client_id = ? ORDER BY f.ord`,
    );
    this.oneInbound = db.prepare('SELECT * FROM inbound_qos2 WHERE client_id = ? ORDER BY packet_id');
  }

  /**
   * Run once at open, in one transaction: removes sessions whose expiry passed while the server
   * was down (disconnectedAt + expirySeconds < now; a session with no disconnectedAt was
   * connected when the server stopped, so its interval starts now and it is kept), everything
   * they owned, rows without a session or without their message, queued or unreleased in-flight
   * messages past their expiry [MQTT-3.3.2-5], and messages no row names any more. In-flight
   * entries in 'pubrel' are kept whatever their message: the QoS 2 exchange must complete.
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
      // Never left by this code (a message's DELETE follows its rows'); a damaged file could.
      for (const t of ['queued', 'inflight']) {
        sessionRows += db.prepare(`DELETE FROM ${t} WHERE message_id NOT IN (SELECT id FROM messages)`).run().changes;
      }
      const expired = 'SELECT id FROM messages WHERE expires_at <> 0 AND expires_at <= ?';
      const messages =
        db.prepare(`DELETE FROM queued WHERE message_id IN (${expired})`).run(now).changes +
        db.prepare(`DELETE FROM inflight WHERE state = 'publish' AND message_id IN (${expired})`).run(now).changes;
      db.prepare('DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM queued) AND id NOT IN (SELECT message_id FROM inflight)').run();
      return { sessions, sessionRows, messages };
    })();
  }

  /** Stored messages that some queued or in-flight row names (pending changes included). */
  get storedMessages(): number {
    return this.byId.size;
  }

  /** Commits what is pending, then reads every session back. */
  async loadSessions(): Promise<StoredSession[]> {
    this.sweep();
    this.batch.flush();
    // Count every reference again from the file (what it holds is now everything).
    const ctx = this.startLoad();
    for (const ref of ctx.known.values()) ref.refs = 0;
    this.byId = new Map();
    this.queuedRows.clear();
    this.inflightRows.clear();
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
    const queue = this.db.prepare(`SELECT q.*, ${MESSAGE_FIELDS} FROM queued q JOIN messages m ON m.id = q.message_id ORDER BY q.client_id, q.seq`);
    for (const row of queue.iterate() as IterableIterator<QueuedRow>) {
      const s = byClient.get(row.client_id);
      if (s !== undefined) s.queue.push({ seq: row.seq, delivery: this.loaded(ctx, this.queuedRows, row, row.seq) });
    }
    const inflight = this.db.prepare(`SELECT f.*, ${MESSAGE_FIELDS} FROM inflight f JOIN messages m ON m.id = f.message_id ORDER BY f.client_id, f.ord`);
    for (const row of inflight.iterate() as IterableIterator<InflightRow>) {
      const s = byClient.get(row.client_id);
      if (s !== undefined) s.inflight.push(this.inflightOf(ctx, row));
    }
    for (const row of this.db.prepare('SELECT * FROM inbound_qos2 ORDER BY client_id, packet_id').iterate() as IterableIterator<InboundRow>) {
      byClient.get(row.client_id)?.inboundQos2.push(row.packet_id);
    }
    return out;
  }

  /** Commits what is pending, then reads one session back (undefined: none). */
  async loadSession(clientId: string): Promise<StoredSession | undefined> {
    this.sweep();
    this.batch.flush();
    const ctx = this.startLoad();
    // Its rows are read again below: their references are counted afresh (nothing is written).
    for (const rows of [this.queuedRows, this.inflightRows]) {
      const byKey = rows.get(clientId);
      if (byKey === undefined) continue;
      rows.delete(clientId);
      for (const row of byKey.values()) if (--row.ref.refs === 0) this.byId.delete(row.ref.id);
    }
    const row = this.oneSession.get(clientId) as SessionRow | undefined;
    if (row === undefined) return undefined;
    const s = sessionOf(row);
    for (const r of this.oneSubscriptions.iterate(clientId) as IterableIterator<SubscriptionRow>) s.subscriptions.push(subscriptionOf(r));
    for (const r of this.oneQueue.iterate(clientId) as IterableIterator<QueuedRow>) {
      s.queue.push({ seq: r.seq, delivery: this.loaded(ctx, this.queuedRows, r, r.seq) });
    }
    for (const r of this.oneInflight.iterate(clientId) as IterableIterator<InflightRow>) s.inflight.push(this.inflightOf(ctx, r));
    for (const r of this.oneInbound.iterate(clientId) as IterableIterator<InboundRow>) s.inboundQos2.push(r.packet_id);
    return s;
  }

  putSession(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): void {
    this.batch.add(this.putSessionStmt, [clientId, protocolVersion, expirySeconds, disconnectedAt]);
  }

  deleteSession(clientId: string): void {
    for (const stmt of this.deleteStmts) this.batch.add(stmt, [clientId]);
    // After the rows' DELETEs: a message goes only once nothing names it.
    for (const rows of [this.queuedRows, this.inflightRows]) {
      const byKey = rows.get(clientId);
      if (byKey === undefined) continue;
      rows.delete(clientId);
      for (const row of byKey.values()) this.release(row.ref, false);
    }
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
    // Queue seqs only grow: a new seq creates its row (file-top note).
    const ref = this.acquire(delivery.message);
    this.putRow(this.queuedRows, this.enqueueStmt, clientId, seq, new QueuedPut(clientId, seq, ref, delivery), true);
  }

  dequeue(clientId: string, seq: number): void {
    this.deleteRow(this.queuedRows, this.dequeueStmt, clientId, seq);
  }

  putInflight(clientId: string, packetId: number, state: 'publish' | 'pubrel', delivery: StoredDelivery): void {
    // Only a 'publish' entry is created by its put; 'pubrel' replaces one (see file-top note).
    const ref = this.acquire(delivery.message);
    const row = new InflightPut(clientId, packetId, this.nextOrd++, state, ref, delivery);
    this.putRow(this.inflightRows, this.putInflightStmt, clientId, packetId, row, state === 'publish');
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.deleteRow(this.inflightRows, this.deleteInflightStmt, clientId, packetId);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.batch.add(this.addInboundStmt, [clientId, packetId]);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.batch.add(this.deleteInboundStmt, [clientId, packetId]);
  }

  /** The stored message for `message`, written now if no row names it yet; counts one more row. */
  private acquire(message: StoredMessage): MessageRef {
    let ref = this.byMessage.get(message);
    // A dying message named again in the same turn (a queued message moving in flight) is kept.
    if (ref === undefined || (ref.refs === 0 && !ref.dying)) {
      const id = this.nextMessageId++;
      ref = { id, refs: 0, put: this.batch.add(this.putMessageStmt, new MessageParams(id, message)), dying: false };
      this.byMessage.set(message, ref);
      this.byId.set(id, ref);
    }
    ref.refs++;
    return ref;
  }

  /**
   * One row fewer names `ref`. The last one marks the message dying: at the end of the turn, unless
   * a row names it again by then (the broker dequeues a message, then puts it in flight), it is
   * removed, by cancelling its INSERT when every row naming it was cancelled too (`rowCancelled`
   * for each), else with a DELETE. Either comes after the DELETEs of its rows.
   */
  private release(ref: MessageRef, rowCancelled: boolean): void {
    if (!rowCancelled) ref.put = -1;
    if (--ref.refs > 0 || ref.dying) return;
    ref.dying = true;
    this.dying.push(ref);
    if (!this.sweepScheduled) {
      this.sweepScheduled = true;
      setImmediate(this.onSweep);
    }
  }

  /** Removes the dying messages that no row names again (release()). Also run before reads and at close. */
  sweep(): void {
    if (this.dying.length === 0) return;
    const dying = this.dying;
    this.dying = [];
    for (const ref of dying) {
      ref.dying = false;
      if (ref.refs > 0) continue;
      this.byId.delete(ref.id);
      const put = ref.put;
      ref.put = -1;
      if (put >= 0 && this.batch.cancel(put)) continue;
      this.batch.add(this.deleteMessageStmt, [ref.id]);
    }
  }

  /**
   * Writes a queued or in-flight row naming its message (acquired by the caller, so that the
   * message's INSERT comes first). `creates`: the put makes a row that did not exist, so a DELETE
   * before its commit may cancel it.
   */
  private putRow(rows: Rows, statement: Database.Statement, clientId: string, key: number, row: QueuedPut | InflightPut, creates: boolean): void {
    const byKey = rowsOf(rows, clientId);
    const old = byKey.get(key);
    const n = this.batch.add(statement, row);
    if (old === undefined && creates) row.put = n;
    byKey.set(key, row);
    // After the row's put: the old message, if no other row names it, goes after it.
    if (old !== undefined) this.release(old.ref, false);
  }

  private deleteRow(rows: Rows, statement: Database.Statement, clientId: string, key: number): void {
    const byKey = rows.get(clientId);
    const row = byKey?.get(key);
    if (row === undefined) {
      this.batch.add(statement, [clientId, key]);
      return;
    }
    byKey!.delete(key);
    if (row.put >= 0 && this.batch.cancel(row.put)) {
      this.release(row.ref, true);
      return;
    }
    this.batch.add(statement, [clientId, key]);
    this.release(row.ref, false);
  }

  /** Begins a load: messages decoded afresh, references reused by id. */
  private startLoad(): LoadContext {
    return { decoded: new Map(), known: new Map(this.byId) };
  }

  /** Records a row read from the file and returns its delivery, sharing its message with other rows. */
  private loaded(ctx: LoadContext, rows: Rows, row: SendRow, key: number): StoredDelivery {
    let message = ctx.decoded.get(row.message_id);
    if (message === undefined) ctx.decoded.set(row.message_id, (message = decodeMessage(row)));
    let ref = this.byId.get(row.message_id);
    if (ref === undefined) {
      ref = ctx.known.get(row.message_id) ?? { id: row.message_id, refs: 0, put: -1, dying: false };
      ref.put = -1;
      this.byId.set(ref.id, ref);
    }
    ref.refs++;
    this.byMessage.set(message, ref);
    rowsOf(rows, row.client_id).set(key, { ref, put: -1 });
    return deliveryOf(row, message);
  }

  private inflightOf(ctx: LoadContext, row: InflightRow): StoredInflight {
    return { packetId: row.packet_id, state: row.state, delivery: this.loaded(ctx, this.inflightRows, row, row.packet_id) };
  }
}
