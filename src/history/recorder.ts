// Which messages are kept in history, and stamping them: the router calls stamp() for every
// message it is about to store and route (broker/router.ts), so the id is on the message before
// any delivery and live deliveries carry what a client resumes from. Built only when the
// `history` configuration has rules (server.ts passes null otherwise: no cost per publish).
// A topic not covered costs one trie match, answered from the trie's bounded match cache.
import type { Logger } from '../logger.js';
import type { Clock, Timer } from '../shared/clock.js';
import { withHistoryId, type Message } from '../shared/message.js';
import { TopicTrie } from '../shared/topic-trie.js';
import type { HistoryKeep, HistoryStore } from '../store/history-store.js';

/** One `history` rule of the configuration. */
export interface HistoryRule {
  readonly filter: string;
  readonly maxMessages: number;
  /** 0: kept until maxMessages or the global caps push it out. */
  readonly maxAgeSeconds: number;
}

export interface HistoryRecorderOptions {
  store: HistoryStore;
  rules: readonly HistoryRule[];
  clock: Clock;
  logger?: Logger;
  /** How often maxAge is enforced on topics nobody writes to; default 60 s. */
  sweepEveryMs?: number;
}

export class HistoryRecorder {
  readonly store: HistoryStore;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly rules = new TopicTrie<HistoryRule>();
  /** One combined bound per distinct match result (the trie returns the same frozen array for a cached topic). */
  private readonly keeps = new WeakMap<readonly HistoryRule[], HistoryKeep>();
  private readonly sweepEveryMs: number;
  private timer: Timer | null = null;

  /** null when there are no rules: nothing is kept and the router skips history entirely. */
  static create(options: HistoryRecorderOptions): HistoryRecorder | null {
    return options.rules.length === 0 ? null : new HistoryRecorder(options);
  }

  constructor(options: HistoryRecorderOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
    this.sweepEveryMs = options.sweepEveryMs ?? 60_000;
    for (const rule of options.rules) this.rules.add(rule.filter, rule);
    // What was kept under an earlier configuration follows this one (dropped when no rule covers it).
    this.store.configure((topic) => this.keepFor(topic), this.clock.now());
  }

  /** The bound for `topic`: the most generous of the rules matching it; null when none does. */
  keepFor(topic: string): HistoryKeep | null {
    const matched = this.rules.match(topic);
    if (matched.length === 0) return null;
    let keep = this.keeps.get(matched);
    if (keep === undefined) {
      let maxMessages = 0;
      let maxAgeSeconds: number | null = null;
      for (const r of matched) {
        if (r.maxMessages > maxMessages) maxMessages = r.maxMessages;
        // 0 = no age limit wins over any age.
        if (maxAgeSeconds === null || r.maxAgeSeconds === 0 || (maxAgeSeconds !== 0 && r.maxAgeSeconds > maxAgeSeconds)) maxAgeSeconds = r.maxAgeSeconds;
      }
      keep = { maxMessages, maxAgeMs: (maxAgeSeconds ?? 0) * 1000 };
      this.keeps.set(matched, keep);
    }
    return keep;
  }

  /**
   * The message as it is to be stored and routed: with a history id and kept, when its topic is
   * covered; the same object otherwise. Every call is a new publish, so a message object that
   * carries an id already (one delivered earlier, published again) gets a new one; messages from
   * other nodes, stamped where they were published, never come here (the router routes them).
   */
  stamp(message: Message): Message {
    const keep = this.keepFor(message.topic);
    if (keep === null) return message;
    const now = this.clock.now();
    let stamped = message;
    try {
      // nextSeq may write (SQLite reserves sequence numbers ahead) and so may fail with the store:
      // the message is then delivered without an id, as on a topic that is not kept.
      stamped = withHistoryId(message, { origin: this.store.origin, seq: this.store.nextSeq() }, message.receivedAt ?? now);
      this.store.append(stamped, keep, now);
    } catch (err) {
      // Delivery goes on; a reader will see a gap only as a missing message, so say it loudly.
      this.logger?.error({ err, topic: message.topic }, 'history: message not kept');
    }
    return stamped;
  }

  /** Starts the periodic maxAge sweep. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = this.clock.setInterval(() => this.store.sweep(this.clock.now()), this.sweepEveryMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
