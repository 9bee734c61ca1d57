// QoS 1/2 between nodes must survive a Redis restart, while Redis pub/sub delivers at most once.
// So each (sender, receiver) pair numbers its reliable frames 1, 2, 3...; the sender keeps each
// frame until the receiver acknowledges it, the receiver delivers frames strictly in order and
// acknowledges cumulatively, and the sender re-sends everything unacknowledged when it has waited
// too long (go-back-N: simple, keeps MQTT's per-topic order, and a Redis outage is the only
// reason frames go missing, so retransmissions are rare). The receiver drops duplicates by seq.
//
// Bounded: a link holds at most `limit` unacknowledged frames; beyond that the oldest is dropped
// and counted as lost (the target node is then far behind or gone).

export interface PendingFrame {
  seq: number;
  frame: Buffer;
  sentAt: number;
}

export class OutboundLink {
  private nextSeq = 1;
  /** Unacknowledged frames, oldest first (seq increases by one from the first). */
  private readonly pending: PendingFrame[] = [];
  private head = 0;
  lost = 0;

  constructor(private readonly limit: number) {}

  /** Reserves the next sequence number. */
  take(): number {
    return this.nextSeq++;
  }

  hold(seq: number, frame: Buffer, now: number): void {
    this.pending.push({ seq, frame, sentAt: now });
    if (this.pending.length - this.head > this.limit) {
      this.head++;
      this.lost++;
    }
    this.compact();
  }

  /** Everything up to and including `upTo` has been delivered. */
  ack(upTo: number): void {
    while (this.head < this.pending.length && this.pending[this.head]!.seq <= upTo) this.head++;
    this.compact();
  }

  get unacked(): number {
    return this.pending.length - this.head;
  }

  /** Frames to send again: all unacknowledged ones once the oldest has waited `afterMs`, at most `max`. */
  due(now: number, afterMs: number, max: number): PendingFrame[] {
    if (this.head >= this.pending.length) return [];
    if (now - this.pending[this.head]!.sentAt < afterMs) return [];
    const out = this.pending.slice(this.head, this.head + max);
    for (const p of out) p.sentAt = now;
    return out;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

export type Arrival = 'deliver' | 'duplicate' | 'gap';

export class InboundLink {
  /** Highest seq delivered in order. */
  delivered = 0;
  /** Highest seq whose delivery is durable and may be acknowledged. */
  acked = 0;

  accept(seq: number): Arrival {
    if (seq <= this.delivered) return 'duplicate';
    if (seq !== this.delivered + 1) return 'gap';
    this.delivered = seq;
    return 'deliver';
  }
}
