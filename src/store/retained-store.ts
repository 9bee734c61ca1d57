// Retained messages: one per topic [MQTT-3.3.1-5]. Implementations: retained-memory.ts (this issue),
// sqlite and redis later; all must pass test/store/retained-store.suite.ts.
import type { Message } from '../broker/message.js';

export interface RetainedStore {
  /** Stores or replaces; the caller never passes an empty payload (that means delete). */
  set(message: Message): void;
  delete(topic: string): void;
  get(topic: string): Message | undefined;
  /** Every retained message whose topic matches the filter, per the spec's matching rules. */
  match(filter: string): Message[];
  readonly size: number;
}
