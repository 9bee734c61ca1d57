// Persistent sessions on Redis (key layout in redis-keys.ts). Nothing is mirrored: the broker holds
// the live state, records each change here (one op in the next batch), and reads sessions back
// only when it needs them: every one at start (loadSessions), one when a client arrives whose
// session another node held (loadSession). Reads come from Redis after this node's own pending
// changes are committed, so they return the latest committed state.
//
// In-flight order: resending after a reconnect must follow the original order [MQTT-4.4.0-1,
// MQTT-4.6.0-1] and packet ids wrap, so each entry has a send-order score in a sorted set, added
// with ZADD NX so it is kept when the entry moves to PUBREL. The counter starts from the clock
// (x1000) and is raised past every score a load sees, so a node that takes a session over keeps
// ordering after the previous owner's entries.
//
// Expiry at load (as SQLite does at open): a session whose expiry passed is removed and not
// returned; queued and not-yet-released in-flight messages past their Message Expiry Interval
// [MQTT-3.3.2-5] are removed and not returned. The removals are scripts that check again in Redis,
// so a session or entry another node has just renewed is left alone.
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RedisWriteBatch } from './redis-batch.js';
import {
  CodecError,
  decodeDelivery,
  decodeSessionRow,
  decodeSubscription,
  encodeDelivery,
  encodeSessionRow,
  encodeSubscription,
} from './redis-codec.js';
import type { RedisKeys } from './redis-keys.js';
import { PURGE_MESSAGES, PURGE_SESSION } from './redis-scripts.js';
import type { SessionStore, StoredDelivery, StoredInflight, StoredQueued, StoredSession, StoredSubscription } from './session-store.js';

/** Sessions read per MULTI by loadSessions (each MULTI is one consistent view of its sessions). */
const LOAD_CHUNK = 200;
/** Commands queued per session read (see queueReads). */
const READS_PER_SESSION = 6;

export interface SessionReads {
  /** Resolves once every change made before the call is committed; rejects StoreUnavailableError. */
  settled(): Promise<void>;
  /** Runs a read transaction; rejects StoreUnavailableError when Redis cannot answer. */
  exec(multi: ChainableCommander): Promise<[Error | null, unknown][]>;
}

export interface RedisSessionOptions {
  client: Redis;
  writer: RedisWriteBatch;
  keys: RedisKeys;
  reads: SessionReads;
  logger: Logger;
}

export class RedisSessionStore implements SessionStore {
  private nextOrd = Date.now() * 1000;
  private readonly client: Redis;
  private readonly writer: RedisWriteBatch;
  private readonly keys: RedisKeys;
  private readonly reads: SessionReads;
  private readonly logger: Logger;

  constructor(options: RedisSessionOptions) {
    this.client = options.client;
    this.writer = options.writer;
    this.keys = options.keys;
    this.reads = options.reads;
    this.logger = options.logger;
  }

  async loadSessions(): Promise<StoredSession[]> {
    await this.reads.settled();
    const [[, members]] = (await this.reads.exec(this.client.multi().smembers(this.keys.sessions))) as [[null, string[]]];
    const ids = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: StoredSession[] = [];
    const now = Date.now();
    for (let i = 0; i < ids.length; i += LOAD_CHUNK) {
      const chunk = ids.slice(i, i + LOAD_CHUNK);
      const multi = this.client.multi();
      for (const id of chunk) this.queueReads(multi, id);
      const results = await this.reads.exec(multi);
      for (let j = 0; j < chunk.length; j++) {
        const s = this.decode(chunk[j]!, results, j * READS_PER_SESSION, now);
        if (s !== undefined) out.push(s);
      }
    }
    return out;
  }

  async loadSession(clientId: string): Promise<StoredSession | undefined> {
    await this.reads.settled();
    const multi = this.client.multi();
    this.queueReads(multi, clientId);
    return this.decode(clientId, await this.reads.exec(multi), 0, Date.now());
  }

  putSession(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): void {
    this.writer.add({
      key: `s\0${clientId}`,
      group: clientId,
      commands: [
        ['SET', this.keys.session(clientId), encodeSessionRow(protocolVersion, expirySeconds, disconnectedAt)],
        ['SADD', this.keys.sessions, clientId],
      ],
    });
  }

  deleteSession(clientId: string): void {
    this.writer.add({
      group: clientId,
      supersedeGroup: true,
      commands: [
        ['DEL', ...this.keys.sessionKeys(clientId)],
        ['SREM', this.keys.sessions, clientId],
      ],
    });
  }

  putSubscription(clientId: string, s: StoredSubscription): void {
    this.writer.add({
      key: `b\0${clientId}\0${s.key}`,
      group: clientId,
      commands: [['HSET', this.keys.subscriptions(clientId), s.key, encodeSubscription(s)]],
    });
  }

  deleteSubscription(clientId: string, key: string): void {
    this.writer.add({ key: `b\0${clientId}\0${key}`, group: clientId, commands: [['HDEL', this.keys.subscriptions(clientId), key]] });
  }

  enqueue(clientId: string, seq: number, delivery: StoredDelivery): void {
    this.writer.add({
      key: `q\0${clientId}\0${seq}`,
      group: clientId,
      commands: [['HSET', this.keys.queue(clientId), seq, encodeDelivery(delivery)]],
    });
  }

  dequeue(clientId: string, seq: number): void {
    this.writer.add({ key: `q\0${clientId}\0${seq}`, group: clientId, commands: [['HDEL', this.keys.queue(clientId), seq]] });
  }

  putInflight(clientId: string, packetId: number, state: 'publish' | 'pubrel', delivery: StoredDelivery): void {
    const key = `f\0${clientId}\0${packetId}`;
    // A waiting put of the same entry is superseded: keep its place in the send order.
    const ord = this.writer.waitingOp(key)?.ord ?? this.nextOrd++;
    this.writer.add({
      key,
      group: clientId,
      ord,
      commands: [
        ['HSET', this.keys.inflight(clientId), packetId, encodeDelivery(delivery, state)],
        ['ZADD', this.keys.inflightOrder(clientId), 'NX', ord, packetId],
      ],
    });
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.writer.add({
      key: `f\0${clientId}\0${packetId}`,
      group: clientId,
      commands: [
        ['HDEL', this.keys.inflight(clientId), packetId],
        ['ZREM', this.keys.inflightOrder(clientId), packetId],
      ],
    });
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.writer.add({ key: `i\0${clientId}\0${packetId}`, group: clientId, commands: [['SADD', this.keys.inboundQos2(clientId), packetId]] });
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.writer.add({ key: `i\0${clientId}\0${packetId}`, group: clientId, commands: [['SREM', this.keys.inboundQos2(clientId), packetId]] });
  }

  /** READS_PER_SESSION commands, in the order decode() expects. */
  private queueReads(multi: ChainableCommander, clientId: string): void {
    multi
      .get(this.keys.session(clientId))
      .hgetallBuffer(this.keys.subscriptions(clientId))
      .hgetallBuffer(this.keys.queue(clientId))
      .hgetallBuffer(this.keys.inflight(clientId))
      .zrange(this.keys.inflightOrder(clientId), '0', '-1', 'WITHSCORES')
      .smembers(this.keys.inboundQos2(clientId));
  }

  private decode(clientId: string, results: [Error | null, unknown][], at: number, now: number): StoredSession | undefined {
    const value = (i: number) => {
      const [err, v] = results[at + i]!;
      if (err !== null) throw err;
      return v;
    };
    const rowText = value(0) as string | null;
    if (rowText === null) return undefined;
    let row;
    try {
      row = decodeSessionRow(rowText);
    } catch (err) {
      this.logger.error({ err, clientId }, 'store: undecodable session row in Redis; session ignored');
      return undefined;
    }
    if (row.disconnectedAt !== null && row.disconnectedAt + row.expirySeconds * 1000 < now) {
      this.writer.add({
        group: clientId,
        commands: [['EVAL', PURGE_SESSION, 7, ...this.keys.sessionKeys(clientId), this.keys.sessions, clientId, now]],
      });
      return undefined;
    }
    const session: StoredSession = {
      clientId,
      protocolVersion: row.protocolVersion,
      expirySeconds: row.expirySeconds,
      disconnectedAt: row.disconnectedAt,
      subscriptions: [],
      inflight: [],
      queue: [],
      inboundQos2: [],
    };

    for (const [key, v] of Object.entries(value(1) as Record<string, Buffer>)) {
      try {
        session.subscriptions.push(decodeSubscription(key, v));
      } catch (err) {
        this.skip(err, clientId, 'subscription', key);
      }
    }

    const expiredSeqs: string[] = [];
    for (const [field, v] of Object.entries(value(2) as Record<string, Buffer>)) {
      try {
        const { delivery } = decodeDelivery(v);
        if (isExpiredAt(delivery, now)) expiredSeqs.push(field);
        else session.queue.push({ seq: Number(field), delivery } satisfies StoredQueued);
      } catch (err) {
        this.skip(err, clientId, 'queued message', field);
      }
    }
    session.queue.sort((a, b) => a.seq - b.seq);
    if (expiredSeqs.length > 0) {
      this.writer.add({ group: clientId, commands: [['EVAL', PURGE_MESSAGES, 1, this.keys.queue(clientId), now, ...expiredSeqs]] });
    }

    const entries = new Map<string, StoredInflight>();
    const expiredIds: string[] = [];
    for (const [field, v] of Object.entries(value(3) as Record<string, Buffer>)) {
      try {
        const { delivery, state } = decodeDelivery(v);
        if (state === undefined) throw new CodecError('not an in-flight entry');
        if (state === 'publish' && isExpiredAt(delivery, now)) expiredIds.push(field);
        else entries.set(field, { packetId: Number(field), state, delivery });
      } catch (err) {
        this.skip(err, clientId, 'in-flight message', field);
      }
    }
    const order = value(4) as string[];
    for (let i = 0; i < order.length; i += 2) {
      const entry = entries.get(order[i]!);
      const score = Number(order[i + 1]);
      if (score >= this.nextOrd) this.nextOrd = score + 1;
      if (entry === undefined) continue;
      session.inflight.push(entry);
      entries.delete(order[i]!);
    }
    // Entries without a score (not expected): after the others, by packet id.
    session.inflight.push(...[...entries.values()].sort((a, b) => a.packetId - b.packetId));
    if (expiredIds.length > 0) {
      this.writer.add({
        group: clientId,
        commands: [['EVAL', PURGE_MESSAGES, 2, this.keys.inflight(clientId), this.keys.inflightOrder(clientId), now, ...expiredIds]],
      });
    }

    session.inboundQos2 = (value(5) as string[]).map(Number).sort((a, b) => a - b);
    return session;
  }

  private skip(err: unknown, clientId: string, what: string, field: string): void {
    this.logger.error({ err, clientId, field }, `store: undecodable ${what} in Redis; skipped`);
  }
}

function isExpiredAt(d: StoredDelivery, now: number): boolean {
  return d.message.expiresAt !== 0 && d.message.expiresAt <= now;
}
