// Per-topic message history (docs/history.md): what every backend keeps and answers. The ids and
// cursors are shared/history-id.ts's; what to keep is decided by src/history/recorder.ts from the
// `history` configuration, which stamps each message and appends it here before delivery.
//
// Invariants every backend keeps (test/store/history-contract.ts):
// - a topic's entries are in append order, which per origin is sequence order;
// - an entry leaves a topic only by trimming (maxMessages, maxAge, the global caps), and the
//   highest sequence trimmed per origin is remembered for the topic (its "mark"), so a reader can
//   tell "nothing was published" from "it was published and is gone" (a reset);
// - a topic forgotten entirely (the cap on topics) folds its marks into a per-origin floor, which
//   makes every cursor below it a reset (conservative: a reset may be reported that a client's own
//   filters would not have needed; never the other way round);
// - a cursor naming an origin this store never knew (a memory store after a restart) is a reset.
import type { HistoryCursor, HistoryId } from '../shared/history-id.js';
import type { Message } from '../shared/message.js';

/** How much of one topic to keep (from the matching `history` rules). */
export interface HistoryKeep {
  readonly maxMessages: number;
  /** 0: no age limit. */
  readonly maxAgeMs: number;
}

/** Bounds over every topic together. */
export interface HistoryCaps {
  /** Messages over all topics; also the bound on topics remembered (with or without messages). */
  readonly maxMessages: number;
  /** Payload + topic bytes over all topics. */
  readonly maxBytes: number;
}

/** One kept message; `message.historyId` is `id`. */
export interface HistoryEntry {
  readonly id: HistoryId;
  readonly message: Message;
}

export interface HistoryQuery {
  /** Topic filters (MQTT wildcards allowed; no $share); a topic matching several counts once. */
  readonly filters: readonly string[];
  /** What the reader has had; null: everything kept (no reset is ever reported). */
  readonly after: HistoryCursor | null;
  /** At most this many entries: when more are after the cursor, the NEWEST `limit` are returned. */
  readonly limit: number;
  /** iot:Receive per message (the reader's permissions); omitted: everything. */
  readonly canReceive?: (topic: string) => boolean;
  /** Time, for maxAge and message expiry. */
  readonly now: number;
}

export interface HistoryPage {
  /** Oldest first (per origin in sequence order; origins merged by receive time). */
  readonly entries: HistoryEntry[];
  /**
   * Some message after the cursor on a matching topic is no longer kept (trimmed, forgotten, or
   * the cursor names an origin this store does not know): the reader must be told it lost some.
   */
  readonly reset: boolean;
  /** More entries were after the cursor than `limit`: the oldest were left out. */
  readonly truncated: boolean;
}

export interface HistoryStore {
  /** For logs, /metrics and docs: where history lives. */
  readonly kind: 'memory' | 'sqlite' | 'redis';
  /** History survives a restart of this process (sqlite, redis). */
  readonly durable: boolean;
  /** The origin this node stamps new messages with. */
  readonly origin: string;
  /** The next sequence of `origin` (synchronous: called in the publish path). */
  nextSeq(): number;
  /**
   * Keeps `message` (already stamped: historyId set, origin this store's or another node's) on
   * its topic, trims the topic to `keep` and everything to the caps. Synchronous; written
   * through in the store's batch (sqlite) or pipeline (redis).
   */
  append(message: Message, keep: HistoryKeep, now: number): void;
  /** What `query.after` has not had on topics matching `query.filters`. */
  read(query: HistoryQuery): Promise<HistoryPage>;
  /** Every origin at its newest sequence: where a reader that wants nothing old starts. */
  head(): Promise<HistoryCursor>;
  /**
   * Applies the current configuration to what was kept before (at start, after a reload):
   * `keepFor(topic)` is the topic's bound, null when no rule covers it any more (dropped).
   */
  configure(keepFor: (topic: string) => HistoryKeep | null, now: number): void;
  /** Drops what is older than its topic's maxAge; the recorder runs it periodically. */
  sweep(now: number): void;
  /** Messages and bytes kept (this node's view; for /metrics). */
  readonly stats: { readonly messages: number; readonly bytes: number; readonly topics: number };
}

/** What a message costs against HistoryCaps.maxBytes. */
export function historyBytes(message: Message): number {
  return message.payload.length + Buffer.byteLength(message.topic) + 64;
}
