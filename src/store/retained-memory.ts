import type { Message } from '../broker/message.js';
import { isExpired } from '../broker/message.js';
import { topicMatches } from '../protocol/topic.js';
import type { RetainedStore } from './retained-store.js';

/**
 * Retained messages in a Map; wildcard look-ups scan, which is fine at the sizes it serves.
 * Expired messages are dropped when met (through `delete`, so a durable subclass forgets them too).
 */
export class MemoryRetainedStore implements RetainedStore {
  private readonly byTopic = new Map<string, Message>();

  set(message: Message): void {
    this.byTopic.set(message.topic, message);
  }

  /** Returns whether the topic held a message. */
  delete(topic: string): boolean {
    return this.byTopic.delete(topic);
  }

  get(topic: string): Message | undefined {
    const m = this.byTopic.get(topic);
    if (m !== undefined && isExpired(m, Date.now())) {
      this.delete(topic);
      return undefined;
    }
    return m;
  }

  match(filter: string): Message[] {
    if (!filter.includes('+') && !filter.includes('#')) {
      const m = this.get(filter);
      return m ? [m] : [];
    }
    const now = Date.now();
    const out: Message[] = [];
    for (const [topic, m] of this.byTopic) {
      if (isExpired(m, now)) {
        this.delete(topic);
        continue;
      }
      if (topicMatches(filter, topic)) out.push(m);
    }
    return out;
  }

  get size(): number {
    return this.byTopic.size;
  }
}
