// One message on its way to several subscribers at once. The router makes one per publish that
// reaches more than one session; each front-end keeps its own encodings of the message in it,
// under a key only that front-end holds (MQTT: one PUBLISH per protocol version, QoS and RETAIN
// flag), so every subscriber that shares an encoding shares the bytes, and the core never learns
// what an encoding is.
import type { Message } from '../shared/message.js';

/** A front-end's key into a Broadcast: makes its encoding cache for one message. */
export interface EncodingKey<T> {
  create(message: Message, now: number): T;
}

export class Broadcast {
  readonly message: Message;
  /** When the broadcast started: what a countdown (Message Expiry Interval) is encoded from. */
  readonly now: number;
  // One front-end is the common case: its cache sits in two fields; more go to a Map.
  private firstKey: EncodingKey<unknown> | null = null;
  private firstValue: unknown = undefined;
  private others: Map<EncodingKey<unknown>, unknown> | null = null;

  constructor(message: Message, now: number) {
    this.message = message;
    this.now = now;
  }

  /** The cache `key` made for this message, made on first use. */
  encoding<T>(key: EncodingKey<T>): T {
    // Only `key` stores under `key`, and it stores what key.create returned: a T.
    if (this.firstKey === key) return this.firstValue as T;
    if (this.firstKey === null) {
      this.firstKey = key;
      return (this.firstValue = key.create(this.message, this.now));
    }
    const others = (this.others ??= new Map());
    let value = others.get(key) as T | undefined;
    if (value === undefined) {
      value = key.create(this.message, this.now);
      others.set(key, value);
    }
    return value;
  }
}
