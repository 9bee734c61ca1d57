import type { Message } from '../shared/message.js';
import { isExpired } from '../shared/message.js';
import { matchRetained, type RetainedStore } from './retained-store.js';

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
    return matchRetained(this.byTopic, filter, (topic) => this.delete(topic));
  }

  get size(): number {
    return this.byTopic.size;
  }
}
