// Retained messages: one per topic [MQTT-3.3.1-5]. Implementations: retained-memory.ts (this issue),
// sqlite and redis later; all must pass test/store/retained-store.suite.ts.
import type { Message } from '../shared/message.js';
import { isExpired } from '../shared/message.js';
import { topicMatches } from '../protocol/topic.js';

export interface RetainedStore {
  /** Stores or replaces; the caller never passes an empty payload (that means delete). */
  set(message: Message): void;
  delete(topic: string): void;
  get(topic: string): Message | undefined;
  /** Every retained message whose topic matches the filter, per the spec's matching rules. */
  match(filter: string): Message[];
  readonly size: number;
}

/**
 * The messages held in `byTopic` (an in-memory copy: the memory store, the Redis store's mirror)
 * that `filter` matches. An exact filter is one look-up; a wildcard scans, which is fine at the
 * sizes these serve. Expired messages are left out and named to `expire` after the scan.
 */
export function matchRetained(byTopic: ReadonlyMap<string, Message>, filter: string, expire: (topic: string) => void): Message[] {
  const now = Date.now();
  if (!filter.includes('+') && !filter.includes('#')) {
    const m = byTopic.get(filter);
    if (m === undefined) return [];
    if (!isExpired(m, now)) return [m];
    expire(filter);
    return [];
  }
  const out: Message[] = [];
  let expired: string[] | undefined;
  for (const [topic, m] of byTopic) {
    if (isExpired(m, now)) (expired ??= []).push(topic);
    else if (topicMatches(filter, topic)) out.push(m);
  }
  if (expired !== undefined) for (const topic of expired) expire(topic);
  return out;
}
