// Acknowledgements leave in the order their PUBLISHes came [MQTT-4.6.0-2, 4.6.0-3], even when a
// later message becomes durable first (a message that went to another node waits for that node's
// commit; one that stayed here waits only for the local one). One per connection; its length is
// bounded by the connection's unacknowledged publishes (our Receive Maximum for QoS 2; QoS 1
// publishers wait for their PUBACKs in the same window).
export class AckOrder {
  /** Allocated on first use: a connection that never publishes at QoS 1 or 2 keeps none. */
  private waiting: Array<{ ready: boolean; send: () => void }> | null = null;

  /** No acknowledgement is waiting: one that is ready may go at once. */
  get idle(): boolean {
    return this.waiting === null || this.waiting.length === 0;
  }

  /** Queues `send`; returns the function that says it may go (it goes after every earlier one). */
  add(send: () => void): () => void {
    const entry = { ready: false, send };
    const waiting = (this.waiting ??= []);
    waiting.push(entry);
    return () => {
      entry.ready = true;
      while (waiting.length > 0 && waiting[0]!.ready) waiting.shift()!.send();
    };
  }
}
