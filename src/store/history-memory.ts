// History in memory: per topic a queue of entries in append order, one global queue in the same
// order for the caps (the oldest entry overall is always the oldest of its topic, so evicting it
// is O(1)), and per topic the highest sequence trimmed per origin (its marks). With
// `store.type: memory` this is all there is and nothing survives a restart; the SQLite store
// extends it, writing every change through (history-sqlite.ts), so reads stay synchronous.
import { randomBytes } from 'node:crypto';
import { topicMatches } from '../protocol/topic.js';
import { HistoryCursor } from '../shared/history-id.js';
import type { Message } from '../shared/message.js';
import { isExpired } from '../shared/message.js';
import type { HistoryCaps, HistoryEntry, HistoryKeep, HistoryPage, HistoryQuery, HistoryStore } from './history-store.js';
import { historyBytes } from './history-store.js';

interface Kept extends HistoryEntry {
  readonly log: TopicLog;
  readonly bytes: number;
  removed: boolean;
}

class TopicLog {
  readonly topic: string;
  keep: HistoryKeep | null;
  entries: Kept[] = [];
  start = 0;
  /** Per origin, the highest sequence trimmed from this topic. */
  readonly marks = new Map<string, number>();

  constructor(topic: string, keep: HistoryKeep | null) {
    this.topic = topic;
    this.keep = keep;
  }

  get length(): number {
    return this.entries.length - this.start;
  }

  oldest(): Kept | undefined {
    return this.entries[this.start];
  }

  shift(): Kept | undefined {
    const e = this.entries[this.start];
    if (e === undefined) return undefined;
    this.entries[this.start++] = undefined as unknown as Kept;
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return e;
  }
}

/** A fresh origin: 8 characters from [a-z0-9]. */
export function newOrigin(): string {
  const bytes = randomBytes(8);
  let out = '';
  for (const b of bytes) out += 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36];
  return out;
}

export class MemoryHistoryStore implements HistoryStore {
  readonly kind: 'memory' | 'sqlite' = 'memory';
  readonly durable: boolean = false;
  readonly origin: string;
  protected seq: number;
  protected readonly caps: HistoryCaps;
  /** Topics in order of last write (a Map keeps insertion order; a write re-inserts). */
  private readonly topics = new Map<string, TopicLog>();
  private fifo: Kept[] = [];
  private fifoStart = 0;
  private messages = 0;
  private bytes = 0;
  /** Per origin: below this, a forgotten topic may have lost messages. */
  protected readonly floor = new Map<string, number>();
  /** Origins whose messages this store has held. */
  protected readonly known = new Set<string>();

  constructor(caps: HistoryCaps, origin: string = newOrigin(), seq = 0) {
    this.caps = caps;
    this.origin = origin;
    this.seq = seq;
    this.known.add(origin);
  }

  nextSeq(): number {
    return ++this.seq;
  }

  get stats(): { messages: number; bytes: number; topics: number } {
    return { messages: this.messages, bytes: this.bytes, topics: this.topics.size };
  }

  append(message: Message, keep: HistoryKeep, now: number): void {
    const id = message.historyId;
    if (id === undefined) return;
    let log = this.topics.get(message.topic);
    if (log === undefined) log = new TopicLog(message.topic, keep);
    else {
      log.keep = keep;
      this.topics.delete(message.topic);
    }
    this.topics.set(message.topic, log);
    this.known.add(id.origin);
    const kept: Kept = { id, message, log, bytes: historyBytes(message), removed: false };
    log.entries.push(kept);
    this.fifo.push(kept);
    this.messages++;
    this.bytes += kept.bytes;
    this.wrote(kept);
    this.trim(log, now);
    this.enforceCaps();
  }

  /** Drops entries past the topic's bounds, oldest first. */
  private trim(log: TopicLog, now: number): void {
    const keep = log.keep;
    // Not configured yet (loaded at open, before the recorder's configure()): kept as it is.
    if (keep === null) return;
    while (log.length > keep.maxMessages) this.remove(log.oldest()!);
    if (keep.maxAgeMs > 0) {
      const before = now - keep.maxAgeMs;
      for (let e = log.oldest(); e !== undefined && (e.message.receivedAt ?? 0) <= before; e = log.oldest()) this.remove(e);
    }
  }

  private enforceCaps(): void {
    while (this.messages > this.caps.maxMessages || this.bytes > this.caps.maxBytes) {
      const e = this.fifo[this.fifoStart];
      if (e === undefined) break;
      this.fifo[this.fifoStart++] = undefined as unknown as Kept;
      if (!e.removed) this.remove(e);
    }
    this.compactFifo();
    // Topics remembered only for their marks are bounded too: the least recently written go first.
    if (this.topics.size > this.caps.maxMessages) {
      for (const log of this.topics.values()) {
        if (this.topics.size <= this.caps.maxMessages) break;
        if (log.length === 0) this.forget(log);
      }
    }
  }

  private compactFifo(): void {
    while (this.fifoStart < this.fifo.length && this.fifo[this.fifoStart]!.removed) this.fifoStart++;
    if (this.fifoStart > 1024 && this.fifoStart * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoStart);
      this.fifoStart = 0;
    }
  }

  /** Removes the oldest entry of its topic (callers pass only that one), remembering its mark. */
  private remove(e: Kept): void {
    const log = e.log;
    if (log.oldest() !== e) throw new Error('history: removing an entry that is not its topic\'s oldest');
    log.shift();
    e.removed = true;
    this.messages--;
    this.bytes -= e.bytes;
    const mark = log.marks.get(e.id.origin);
    if (mark === undefined || mark < e.id.seq) {
      log.marks.set(e.id.origin, e.id.seq);
      this.marked(log.topic, e.id.origin, e.id.seq);
    }
    this.removed(e);
  }

  /** Forgets a topic with no entries; its marks raise the floor. */
  private forget(log: TopicLog): void {
    while (log.length > 0) this.remove(log.oldest()!);
    this.topics.delete(log.topic);
    for (const [origin, seq] of log.marks) {
      const f = this.floor.get(origin);
      if (f === undefined || f < seq) {
        this.floor.set(origin, seq);
        this.floored(origin, seq);
      }
    }
    this.forgot(log.topic);
  }

  configure(keepFor: (topic: string) => HistoryKeep | null, now: number): void {
    for (const log of [...this.topics.values()]) {
      log.keep = keepFor(log.topic);
      if (log.keep === null) this.forget(log);
      else this.trim(log, now);
    }
    this.enforceCaps();
  }

  sweep(now: number): void {
    for (const log of [...this.topics.values()]) this.trim(log, now);
    this.compactFifo();
  }

  async read(query: HistoryQuery): Promise<HistoryPage> {
    return this.readNow(query);
  }

  async head(): Promise<HistoryCursor> {
    const cursor = new HistoryCursor();
    if (this.seq > 0) cursor.advance({ origin: this.origin, seq: this.seq });
    return cursor;
  }

  /** read(), synchronously (memory and SQLite hold everything in memory). */
  readNow(query: HistoryQuery): HistoryPage {
    const after = query.after;
    let reset = false;
    if (after !== null) {
      for (const id of after.ids()) if (!this.known.has(id.origin)) reset = true;
      for (const [origin, seq] of this.floor) if (seq > (after.seqOf(origin) ?? 0)) reset = true;
    }
    const logs = this.matching(query.filters);
    const found: HistoryEntry[] = [];
    let origins = 0;
    let lastOrigin = '';
    for (const log of logs) {
      this.trim(log, query.now);
      if (after !== null && !reset) {
        for (const [origin, seq] of log.marks) if (seq > (after.seqOf(origin) ?? 0)) reset = true;
      }
      if (query.canReceive !== undefined && !query.canReceive(log.topic)) continue;
      for (let i = log.start; i < log.entries.length; i++) {
        const e = log.entries[i]!;
        if (after !== null && after.covers(e.id)) continue;
        if (isExpired(e.message, query.now)) continue;
        found.push({ id: e.id, message: e.message });
        if (e.id.origin !== lastOrigin) (origins++, (lastOrigin = e.id.origin));
      }
    }
    sortEntries(found, origins > 1);
    const truncated = found.length > query.limit;
    const entries = truncated ? found.slice(found.length - query.limit) : found;
    return { entries, reset, truncated };
  }

  private matching(filters: readonly string[]): TopicLog[] {
    const out = new Set<TopicLog>();
    for (const filter of filters) {
      if (!filter.includes('+') && !filter.includes('#')) {
        const log = this.topics.get(filter);
        if (log !== undefined) out.add(log);
        continue;
      }
      for (const log of this.topics.values()) if (topicMatches(filter, log.topic)) out.add(log);
    }
    return [...out];
  }

  // ---- write-through hooks (history-sqlite.ts) ----------------------------------------------------
  protected wrote(_entry: HistoryEntry): void {}
  protected removed(_entry: HistoryEntry): void {}
  protected marked(_topic: string, _origin: string, _seq: number): void {}
  protected floored(_origin: string, _seq: number): void {}
  protected forgot(_topic: string): void {}

  /** Loads a kept entry (SQLite at open) without writing it back. */
  protected load(message: Message): void {
    const id = message.historyId;
    if (id === undefined) return;
    let log = this.topics.get(message.topic);
    if (log === undefined) {
      log = new TopicLog(message.topic, null);
      this.topics.set(message.topic, log);
    }
    this.known.add(id.origin);
    const kept: Kept = { id, message, log, bytes: historyBytes(message), removed: false };
    log.entries.push(kept);
    this.fifo.push(kept);
    this.messages++;
    this.bytes += kept.bytes;
  }

  /** Loads a topic's mark (SQLite at open). */
  protected loadMark(topic: string, origin: string, seq: number): void {
    let log = this.topics.get(topic);
    if (log === undefined) {
      log = new TopicLog(topic, null);
      this.topics.set(topic, log);
    }
    log.marks.set(origin, seq);
    this.known.add(origin);
  }
}

/**
 * Oldest first. One origin: by sequence. Several: each origin's entries stay in sequence order,
 * origins interleaved by receive time (a stable merge: sort by (receivedAt, origin, seq) would
 * break an origin's order if its clock stepped back, so sort by seq within origin first and merge).
 */
export function sortEntries(entries: HistoryEntry[], severalOrigins: boolean): void {
  if (!severalOrigins) {
    entries.sort((a, b) => a.id.seq - b.id.seq);
    return;
  }
  const byOrigin = new Map<string, HistoryEntry[]>();
  for (const e of entries) {
    let list = byOrigin.get(e.id.origin);
    if (list === undefined) byOrigin.set(e.id.origin, (list = []));
    list.push(e);
  }
  const lists = [...byOrigin.values()];
  for (const list of lists) list.sort((a, b) => a.id.seq - b.id.seq);
  const at = lists.map(() => 0);
  entries.length = 0;
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const e = lists[i]![at[i]!];
      if (e === undefined) continue;
      const b = best < 0 ? undefined : lists[best]![at[best]!]!;
      if (b === undefined || (e.message.receivedAt ?? 0) < (b.message.receivedAt ?? 0)) best = i;
    }
    if (best < 0) return;
    entries.push(lists[best]![at[best]!++]!);
  }
}
