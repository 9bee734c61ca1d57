// Retained messages on Redis: one hash, topic -> encoded message (redis-codec.ts), mirrored in a
// Map loaded at open so get/match answer synchronously (the broker needs them on SUBSCRIBE).
// Local changes update the Map at once and go to Redis in the next batch; other nodes' changes
// arrive as change notices (redis-changes.ts).
//
// Bounded: the mirror holds at most `maxMessages` topics, the broker's limits.maxRetainedMessages.
// The broker enforces it for local publishes; topics other nodes add beyond it are left out of
// this node's mirror (a warning says how many), and deletes are then always sent to Redis, since
// the topic may be there without being here.
//
// Expiry: an expired message met in the mirror is dropped there and removed from Redis only if the
// message Redis holds NOW has expired (EXPIRE_RETAINED decides atomically; another node may have
// just set a fresh one). Expired messages are also dropped when the mirror is loaded.
import type { Message } from '../shared/message.js';
import { isExpired } from '../shared/message.js';
import type { Logger } from '../logger.js';
import type { RedisWriteBatch } from './redis-batch.js';
import type { ChangeFeed, MirrorTable } from './redis-changes.js';
import { mirrorKey } from './redis-changes.js';
import { decodeRetained, encodeNoticeHead, encodeRetained, WireKind } from './redis-codec.js';
import type { RedisKeys } from './redis-keys.js';
import { EXPIRE_RETAINED } from './redis-scripts.js';
import { matchRetained, type RetainedStore } from './retained-store.js';

const BOUND_WARNING_INTERVAL_MS = 60_000;

export interface RedisRetainedOptions {
  feed: ChangeFeed;
  writer: RedisWriteBatch;
  keys: RedisKeys;
  nodeId: string;
  maxMessages: number;
  logger: Logger;
}

export class RedisRetainedStore implements RetainedStore, MirrorTable {
  readonly kind = WireKind.Retained;
  readonly redisType = 'hash';
  readonly redisKey: string;
  private byTopic = new Map<string, Message>();
  /** Topics Redis holds that this mirror left out (the bound); deletes then always go to Redis. */
  private skipped = 0;
  private lastBoundWarning = 0;
  private readonly feed: ChangeFeed;
  private readonly writer: RedisWriteBatch;
  private readonly keys: RedisKeys;
  private readonly nodeId: string;
  private readonly maxMessages: number;
  private readonly logger: Logger;

  constructor(options: RedisRetainedOptions) {
    this.feed = options.feed;
    this.writer = options.writer;
    this.keys = options.keys;
    this.nodeId = options.nodeId;
    this.maxMessages = options.maxMessages;
    this.logger = options.logger;
    this.redisKey = options.keys.retained;
  }

  set(message: Message): void {
    this.byTopic.set(message.topic, message);
    const value = encodeRetained(message);
    this.feed.write({ kind: WireKind.Retained, key: message.topic, value }, [['HSET', this.redisKey, message.topic, value]]);
  }

  /** Returns whether this node's mirror held the topic. */
  delete(topic: string): boolean {
    const existed = this.byTopic.delete(topic);
    // Nothing to write for a topic nobody holds: an empty retained publish to a fresh topic costs
    // no command (unless the mirror is incomplete).
    if (existed || this.skipped > 0) {
      this.feed.write({ kind: WireKind.Retained, key: topic, value: undefined }, [['HDEL', this.redisKey, topic]]);
    }
    return existed;
  }

  get(topic: string): Message | undefined {
    const m = this.byTopic.get(topic);
    if (m !== undefined && isExpired(m, Date.now())) {
      this.expire(topic);
      return undefined;
    }
    return m;
  }

  match(filter: string): Message[] {
    return matchRetained(this.byTopic, filter, (topic) => this.expire(topic));
  }

  get size(): number {
    return this.byTopic.size;
  }

  applyEncoded(topic: string, value: Buffer | undefined): boolean {
    if (value === undefined) return this.byTopic.delete(topic);
    let message: Message;
    try {
      message = decodeRetained(topic, value);
    } catch (err) {
      this.logger.error({ err, topic }, 'store: undecodable retained message in Redis; ignored');
      return false;
    }
    if (!this.byTopic.has(topic) && this.byTopic.size >= this.maxMessages) {
      this.skipped++;
      this.warnBound();
      return false;
    }
    this.byTopic.set(topic, message);
    return true;
  }

  replaceAll(entries: Map<string, Buffer>): string[] {
    const previous = this.byTopic;
    const next = new Map<string, Message>();
    const changed: string[] = [];
    const now = Date.now();
    let skipped = 0;
    const expired: string[] = [];
    for (const [topic, value] of entries) {
      let message: Message;
      try {
        message = decodeRetained(topic, value);
      } catch (err) {
        this.logger.error({ err, topic }, 'store: undecodable retained message in Redis; ignored');
        continue;
      }
      if (isExpired(message, now)) {
        expired.push(topic);
        continue;
      }
      if (next.size >= this.maxMessages) {
        skipped++;
        continue;
      }
      next.set(topic, message);
      const before = previous.get(topic);
      if (before === undefined || !encodeRetained(before).equals(value)) changed.push(topic);
    }
    for (const topic of previous.keys()) if (!next.has(topic)) changed.push(topic);
    this.byTopic = next;
    this.skipped = skipped;
    if (skipped > 0) this.warnBound();
    for (const topic of expired) this.expire(topic);
    return changed;
  }

  /** Drops an expired message here, and in Redis if what Redis holds has expired too. */
  private expire(topic: string): void {
    this.byTopic.delete(topic);
    const now = Date.now();
    const op = this.writer.add({
      key: mirrorKey(WireKind.Retained, topic),
      size: 1,
      commands: (batch) => [
        ['EVAL', EXPIRE_RETAINED, 2, this.redisKey, this.keys.version, topic, now, this.keys.changes, encodeNoticeHead(this.nodeId, batch, WireKind.Retained, topic)],
      ],
    });
    this.feed.track(WireKind.Retained, topic, op);
  }

  private warnBound(): void {
    const now = Date.now();
    if (now - this.lastBoundWarning < BOUND_WARNING_INTERVAL_MS) return;
    this.lastBoundWarning = now;
    this.logger.warn(
      { limit: this.maxMessages, leftOut: this.skipped },
      'store: Redis holds more retained messages than limits.maxRetainedMessages; this node leaves the rest out of its mirror',
    );
  }
}
