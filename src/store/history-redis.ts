// History in Redis, shared by every node of a cluster (docs/history.md, "Redis").
//
// Keys (prefix p, default 'sb:'):
//   p h:s:{topic}  STREAM   one entry per kept message: o origin, s seq, c write counter, t receivedAt, m message
//   p h:m:{topic}  HASH     origin -> highest seq trimmed from the topic (its marks)
//   p h:k:{topic}  STRING   "maxMessages maxAgeMs": the bound last applied (the sweep uses it)
//   p h:topics     ZSET     topic -> write counter of its last append (listing; the cap on topics)
//   p h:oldest     ZSET     topic -> write counter of its oldest entry (the global caps evict the lowest)
//   p h:origins    HASH     origin -> highest seq appended (known origins)
//   p h:live       HASH     origin -> entries kept (the head names only origins with some)
//   p h:floor      HASH     origin -> highest seq a forgotten topic took with it
//   p h:clock, h:count, h:bytes   STRING   write counter; messages and bytes kept
//
// Every append is one Lua script run inside this node's MULTI/EXEC batch (redis-batch.ts), so it
// is ordered with the node's other changes, retried whole after an outage, and acknowledgements
// that wait for afterCommit wait for it too. Idempotent as the batch requires: an entry whose seq
// is not above its origin's recorded head was already appended (an origin's appends reach Redis in
// order) and is skipped. Trimming (maxMessages, maxAge, caps) happens in the same script, so marks
// are exact: Redis's own MAXLEN trimming would not say what it removed.
//
// The origin is new for every run of a node (no sequence to recover after a crash); cursors from
// earlier runs stay valid because their origins stay known.
import type { Redis } from 'ioredis';
import { topicMatches } from '../protocol/topic.js';
import { HistoryCursor, type HistoryId } from '../shared/history-id.js';
import type { Message } from '../shared/message.js';
import { isExpired, withHistoryId } from '../shared/message.js';
import type { RedisWriteBatch } from './redis-batch.js';
import { decodeRetained, encodeRetained } from './redis-codec.js';
import { newOrigin, sortEntries } from './history-memory.js';
import type { HistoryCaps, HistoryEntry, HistoryKeep, HistoryPage, HistoryQuery, HistoryStore } from './history-store.js';
import { historyBytes } from './history-store.js';

// Shared by the scripts: drop the oldest entry of a topic, remembering its mark.
const DROP_OLDEST = `
local function drop_oldest(prefix, topic)
  local s = prefix .. 'h:s:' .. topic
  local first = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)[1]
  if first == nil then return false end
  local f = first[2]
  local origin, seq, bytes = f[2], tonumber(f[4]), tonumber(f[10])
  redis.call('XDEL', s, first[1])
  if redis.call('HINCRBY', prefix .. 'h:live', origin, -1) <= 0 then redis.call('HDEL', prefix .. 'h:live', origin) end
  local m = prefix .. 'h:m:' .. topic
  if tonumber(redis.call('HGET', m, origin) or '0') < seq then redis.call('HSET', m, origin, seq) end
  redis.call('DECR', prefix .. 'h:count')
  redis.call('DECRBY', prefix .. 'h:bytes', bytes)
  local next = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)[1]
  if next == nil then redis.call('ZREM', prefix .. 'h:oldest', topic)
  else redis.call('ZADD', prefix .. 'h:oldest', tonumber(next[2][6]), topic) end
  return true
end
local function forget(prefix, topic)
  while drop_oldest(prefix, topic) do end
  local m = prefix .. 'h:m:' .. topic
  local marks = redis.call('HGETALL', m)
  for i = 1, #marks, 2 do
    if tonumber(redis.call('HGET', prefix .. 'h:floor', marks[i]) or '0') < tonumber(marks[i + 1]) then
      redis.call('HSET', prefix .. 'h:floor', marks[i], marks[i + 1])
    end
  end
  redis.call('DEL', m, prefix .. 'h:s:' .. topic, prefix .. 'h:k:' .. topic)
  redis.call('ZREM', prefix .. 'h:topics', topic)
  redis.call('ZREM', prefix .. 'h:oldest', topic)
end
local function trim(prefix, topic, max, before)
  local s = prefix .. 'h:s:' .. topic
  while redis.call('XLEN', s) > max do drop_oldest(prefix, topic) end
  if before > 0 then
    while true do
      local first = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)[1]
      if first == nil or tonumber(first[2][8]) > before then break end
      drop_oldest(prefix, topic)
    end
  end
end`;

/**
 * Appends one entry, trims its topic, then the caps. KEYS: none (all under ARGV[1], one node's
 * prefix). ARGV: prefix, topic, origin, seq, receivedAt, message, bytes, maxMessages, maxAgeMs,
 * now, capMessages, capBytes.
 */
const APPEND = `${DROP_OLDEST}
local p, topic, origin, seq = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if tonumber(redis.call('HGET', p .. 'h:origins', origin) or '0') >= seq then return 0 end
redis.call('HSET', p .. 'h:origins', origin, seq)
local c = redis.call('INCR', p .. 'h:clock')
local s = p .. 'h:s:' .. topic
redis.call('HINCRBY', p .. 'h:live', origin, 1)
redis.call('XADD', s, '*', 'o', origin, 's', seq, 'c', c, 't', ARGV[5], 'b', ARGV[7], 'm', ARGV[6])
if redis.call('XLEN', s) == 1 then redis.call('ZADD', p .. 'h:oldest', c, topic) end
redis.call('ZADD', p .. 'h:topics', c, topic)
redis.call('SET', p .. 'h:k:' .. topic, ARGV[8] .. ' ' .. ARGV[9])
redis.call('INCR', p .. 'h:count')
redis.call('INCRBY', p .. 'h:bytes', ARGV[7])
local age = tonumber(ARGV[9])
trim(p, topic, tonumber(ARGV[8]), age > 0 and (tonumber(ARGV[10]) - age) or 0)
local capM, capB = tonumber(ARGV[11]), tonumber(ARGV[12])
while tonumber(redis.call('GET', p .. 'h:count') or '0') > capM or tonumber(redis.call('GET', p .. 'h:bytes') or '0') > capB do
  local oldest = redis.call('ZRANGE', p .. 'h:oldest', 0, 0)[1]
  if oldest == nil then break end
  drop_oldest(p, oldest)
end
while redis.call('ZCARD', p .. 'h:topics') > capM do
  forget(p, redis.call('ZRANGE', p .. 'h:topics', 0, 0)[1])
end
return 1`;

/** Applies a topic's bound now (sweep, configure). ARGV: prefix, topic, maxMessages (-1: forget), maxAgeMs, now. */
const TRIM = `${DROP_OLDEST}
local p, topic, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
if max < 0 then forget(p, topic) return 1 end
local age = tonumber(ARGV[4])
trim(p, topic, max, age > 0 and (tonumber(ARGV[5]) - age) or 0)
return 1`;

export interface RedisHistoryOptions {
  /** For reads (the writer's batches carry the appends). */
  client: Redis;
  writer: RedisWriteBatch;
  prefix: string;
  caps: HistoryCaps;
  /** Resolves once this node's earlier changes are committed, so a read sees its own appends. */
  settled: () => Promise<void>;
}

export class RedisHistoryStore implements HistoryStore {
  readonly kind = 'redis';
  readonly durable = true;
  readonly origin = newOrigin();
  private seq = 0;
  private readonly o: RedisHistoryOptions;
  private lastStats = { messages: 0, bytes: 0, topics: 0 };
  /** The latest sweep or configure in progress: reads wait for it, so they see what it decided. */
  private background: Promise<void> = Promise.resolve();

  constructor(options: RedisHistoryOptions) {
    this.o = options;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** What Redis held at this node's last read (shared by every node). */
  get stats(): { messages: number; bytes: number; topics: number } {
    return this.lastStats;
  }

  append(message: Message, keep: HistoryKeep, now: number): void {
    const id = message.historyId;
    if (id === undefined) return;
    const o = this.o;
    o.writer.add({
      size: 1,
      commands: [
        [
          'EVAL', APPEND, 0, o.prefix, message.topic, id.origin, id.seq, message.receivedAt ?? now, encodeRetained(message), historyBytes(message),
          keep.maxMessages, keep.maxAgeMs, now, o.caps.maxMessages, o.caps.maxBytes,
        ],
      ],
    });
  }

  configure(keepFor: (topic: string) => HistoryKeep | null, now: number): void {
    // Every node applies the configuration it was started with; the nodes of a cluster share one.
    this.inBackground(async () => {
      await this.o.settled();
      for (const topic of await this.o.client.zrange(`${this.o.prefix}h:topics`, '0', '-1')) this.trimTopic(topic, keepFor(topic), now);
    });
  }

  sweep(now: number): void {
    const p = this.o.prefix;
    this.inBackground(async () => {
      await this.o.settled();
      const topics = await this.o.client.zrange(`${p}h:topics`, '0', '-1');
      const keeps = topics.length === 0 ? [] : await this.o.client.mget(topics.map((t) => `${p}h:k:${t}`));
      topics.forEach((topic, i) => {
        const [max, age] = (keeps[i] ?? '').split(' ').map(Number);
        if (max !== undefined && age !== undefined && age > 0) this.trimTopic(topic, { maxMessages: max, maxAgeMs: age }, now);
      });
    });
  }

  private inBackground(work: () => Promise<void>): void {
    // Redis unreachable: the next append or sweep applies the bounds; nothing to report here.
    this.background = this.background.then(work).catch(() => {});
  }

  private trimTopic(topic: string, keep: HistoryKeep | null, now: number): void {
    this.o.writer.add({ size: 1, commands: [['EVAL', TRIM, 0, this.o.prefix, topic, keep === null ? -1 : keep.maxMessages, keep?.maxAgeMs ?? 0, now]] });
  }

  async head(): Promise<HistoryCursor> {
    await this.background;
    await this.o.settled();
    // Only origins with something kept: a node run whose messages have all gone has nothing to
    // replay, and leaving it out keeps new clients' cursors short however often nodes restart.
    const [origins, live] = await Promise.all([this.o.client.hgetall(`${this.o.prefix}h:origins`), this.o.client.hgetall(`${this.o.prefix}h:live`)]);
    const cursor = new HistoryCursor();
    for (const [origin, seq] of Object.entries(origins)) if (Number(live[origin] ?? 0) > 0) cursor.advance({ origin, seq: Number(seq) });
    return cursor;
  }

  async read(query: HistoryQuery): Promise<HistoryPage> {
    await this.background;
    await this.o.settled();
    const p = this.o.prefix;
    const client = this.o.client;
    const exact = query.filters.filter((f) => !f.includes('+') && !f.includes('#'));
    const wild = query.filters.filter((f) => f.includes('+') || f.includes('#'));
    const topics = new Set<string>(exact);
    if (wild.length > 0) {
      for (const t of await client.zrange(`${p}h:topics`, '0', '-1')) if (wild.some((f) => topicMatches(f, t))) topics.add(t);
    }
    const list = [...topics];
    const multi = client.multi();
    multi.hgetall(`${p}h:origins`);
    multi.hgetall(`${p}h:floor`);
    multi.get(`${p}h:count`);
    multi.get(`${p}h:bytes`);
    multi.zcard(`${p}h:topics`);
    for (const t of list) {
      multi.xrangeBuffer(`${p}h:s:${t}`, '-', '+');
      multi.hgetall(`${p}h:m:${t}`);
      multi.get(`${p}h:k:${t}`);
    }
    const results = await multi.exec();
    if (results === null) throw new Error('history: the read transaction was aborted');
    for (const [err] of results) if (err) throw err;
    const value = (i: number) => results[i]![1];
    const origins = value(0) as Record<string, string>;
    const floor = value(1) as Record<string, string>;
    this.lastStats = { messages: Number(value(2) ?? 0), bytes: Number(value(3) ?? 0), topics: Number(value(4) ?? 0) };
    const after = query.after;
    let reset = false;
    if (after !== null) {
      for (const id of after.ids()) if (origins[id.origin] === undefined) reset = true;
      for (const [origin, seq] of Object.entries(floor)) if (Number(seq) > (after.seqOf(origin) ?? 0)) reset = true;
    }
    const found: HistoryEntry[] = [];
    const seen = new Set<string>();
    list.forEach((topic, i) => {
      const stream = value(5 + i * 3) as [Buffer, Buffer[]][];
      const marks = value(6 + i * 3) as Record<string, string>;
      const [, ageText] = String(value(7 + i * 3) ?? '').split(' ');
      const age = Number(ageText ?? 0) || 0;
      if (after !== null) for (const [origin, seq] of Object.entries(marks)) if (Number(seq) > (after.seqOf(origin) ?? 0)) reset = true;
      const allowed = query.canReceive === undefined || query.canReceive(topic);
      for (const [, fields] of stream) {
        const f = fieldMap(fields);
        const id: HistoryId = { origin: f.get('o')!.toString(), seq: Number(f.get('s')!.toString()) };
        const receivedAt = Number(f.get('t')!.toString());
        if (age > 0 && receivedAt <= query.now - age) {
          // Past maxAge but not swept yet: as good as trimmed.
          if (after !== null && !after.covers(id)) reset = true;
          continue;
        }
        if (!allowed || (after !== null && after.covers(id))) continue;
        const message = withHistoryId(decodeRetained(topic, f.get('m')!), id, receivedAt);
        if (isExpired(message, query.now)) continue;
        found.push({ id, message });
        seen.add(id.origin);
      }
    });
    sortEntries(found, seen.size > 1);
    const truncated = found.length > query.limit;
    return { entries: truncated ? found.slice(found.length - query.limit) : found, reset, truncated };
  }
}

function fieldMap(fields: Buffer[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
  return map;
}
