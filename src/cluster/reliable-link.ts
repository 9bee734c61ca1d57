// QoS 1/2 between nodes must survive a Redis restart, while Redis pub/sub delivers at most once.
// So each (sender, receiver) pair numbers its reliable frames 1, 2, 3...; the sender keeps each
// frame until the receiver acknowledges it, the receiver delivers frames strictly in order and
// acknowledges cumulatively, and the sender re-sends everything unacknowledged when it has waited
// too long (go-back-N: simple, keeps MQTT's per-topic order, and a Redis outage is the only
// reason frames go missing, so retransmissions are rare). The receiver drops duplicates by seq.
//
// Bounded: a link holds at most `limit` unacknowledged frames and at most `byteLimit` bytes of them
// (a frame larger than `byteLimit` is held alone); beyond either the oldest are dropped and counted
// as lost (the target node is then far behind or gone). The receiver, which delivers
// strictly in order, would then wait forever for the dropped frames and refuse every later one as
// a gap; so the sender tells it where to continue ('skip' control, see `gap`): every frame up to
// `gap` was acknowledged or given up, the receiver moves its position there (logging how many it
// never got) and acknowledges, and the link goes on from the oldest frame still held. The sender
// repeats the skip with every retransmission round until an acknowledgement reaches `gap`, so a
// skip lost on the way (Redis is down: that is when outboxes fill) is sent again. Skip and frames
// travel on one channel over one connection, so a skip never overtakes a frame sent before it.
//
// Overflow drops rather than pushing back on publishers: broker.publish is synchronous and shared
// by every client of this node, so waiting for one slow or unreachable node would stall them all
// (docs/cluster.md).

export interface PendingFrame {
  seq: number;
  frame: Buffer;
  sentAt: number;
  /** Publishes whose acknowledgement waits for this frame (durability.ts); null: none. */
  waiters: Ticket[] | null;
  /** Acknowledged, or given up: its waiters were settled. */
  settled: boolean;
}

/**
 * One publish waiting for its frames to be safe on the nodes they went to: acknowledged by the
 * receiver once what the delivery stored is durable there, or re-sent to the node that adopted a
 * dead receiver's sessions and acknowledged by that one (links.ts). `done` runs once, when the
 * last frame is settled.
 */
export class Ticket {
  remaining = 0;
  private lost = false;
  /** `done(delivered)`: false when any of its frames was given up rather than acknowledged. */
  constructor(private readonly done: (delivered: boolean) => void) {}

  settle(delivered: boolean): void {
    if (!delivered) this.lost = true;
    if (--this.remaining === 0) this.done(!this.lost);
  }
}

/** Settles what waited for `frame`: acknowledged (`delivered`) or given up. Idempotent. */
export function settleFrame(frame: PendingFrame, delivered: boolean): void {
  if (frame.settled) return;
  frame.settled = true;
  const waiters = frame.waiters;
  if (waiters === null) return;
  frame.waiters = null;
  for (const t of waiters) t.settle(delivered);
}

export class OutboundLink {
  private nextSeq = 1;
  /** Unacknowledged frames, oldest first (seq increases by one from the first). */
  private readonly pending: PendingFrame[] = [];
  private head = 0;
  /** Bytes of the unacknowledged frames. */
  private bytes = 0;
  lost = 0;
  /** Frames given up because of `byteLimit` (a subset of `lost`). */
  lostToBytes = 0;
  /** Every frame up to this seq was acknowledged or given up, and the receiver has not yet acknowledged it; 0: no gap. */
  gap = 0;
  /** Frames given up since the receiver last caught up (for the log when the gap closes). */
  gapLost = 0;

  constructor(
    private readonly limit: number,
    private readonly byteLimit = Infinity,
  ) {}

  /** Reserves the next sequence number. */
  take(): number {
    return this.nextSeq++;
  }

  /**
   * Keeps `frame` until acknowledged; returns how many of the oldest frames were given up to stay
   * within the count and byte bounds (0 when it fitted). The frame just held is never given up.
   */
  hold(seq: number, frame: Buffer, now: number): number {
    return this.holdFrame({ seq, frame, sentAt: now, waiters: null, settled: false });
  }

  /** As hold, with the pending entry made by the caller (to attach waiters to it). */
  holdFrame(frame: PendingFrame): number {
    this.pending.push(frame);
    this.bytes += frame.frame.length;
    let dropped = 0;
    while (this.pending.length - this.head > 1) {
      const overCount = this.pending.length - this.head > this.limit;
      const overBytes = this.bytes > this.byteLimit;
      if (!overCount && !overBytes) break;
      const oldest = this.pending[this.head]!;
      this.gap = oldest.seq;
      this.bytes -= oldest.frame.length;
      // Given up (lost, counted by the caller): whoever waited for it is told, not kept waiting
      // forever, and its publisher gets a refusal instead of an acknowledgement.
      settleFrame(oldest, false);
      this.head++;
      this.lost++;
      this.gapLost++;
      if (!overCount) this.lostToBytes++;
      dropped++;
    }
    this.compact();
    return dropped;
  }

  /** Bytes of the frames held, not yet acknowledged. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Everything up to and including `upTo` has been delivered. Returns the number of given-up
   * frames the receiver has now moved past (the gap closed), else 0.
   */
  ack(upTo: number): number {
    while (this.head < this.pending.length && this.pending[this.head]!.seq <= upTo) {
      const frame = this.pending[this.head++]!;
      this.bytes -= frame.frame.length;
      settleFrame(frame, true);
    }
    this.compact();
    if (this.gap === 0 || !(upTo >= this.gap)) return 0;
    const closed = this.gapLost;
    this.gap = 0;
    this.gapLost = 0;
    return closed;
  }

  /** Takes every unacknowledged frame out (the receiver died: they go to the node adopting its sessions). */
  drain(): PendingFrame[] {
    const out = this.pending.slice(this.head);
    this.pending.length = 0;
    this.head = 0;
    this.bytes = 0;
    return out;
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
  /**
   * Delivered (or skipped-to) seqs not yet acknowledgeable, oldest first from `head`. What makes
   * one ready (its commit, a frame it passed on being acknowledged) may finish out of order, but
   * acknowledgements are cumulative, so `acked` moves only past a run of ready ones.
   */
  private readonly waiting: Array<{ seq: number; ready: boolean }> = [];
  private head = 0;

  /** `seq` may be acknowledged once release() was called with what this returns, and for every earlier one. */
  hold(seq: number): { seq: number; ready: boolean } {
    const entry = { seq, ready: false };
    this.waiting.push(entry);
    return entry;
  }

  release(entry: { seq: number; ready: boolean }): void {
    entry.ready = true;
    const waiting = this.waiting;
    while (this.head < waiting.length && waiting[this.head]!.ready) {
      const seq = waiting[this.head++]!.seq;
      if (seq > this.acked) this.acked = seq;
    }
    if (this.head === waiting.length) {
      waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      waiting.splice(0, this.head);
      this.head = 0;
    }
  }

  accept(seq: number): Arrival {
    if (seq <= this.delivered) return 'duplicate';
    if (seq !== this.delivered + 1) return 'gap';
    this.delivered = seq;
    return 'deliver';
  }

  /**
   * The sender gave up every frame up to `seq` (its outbox overflowed): continue after it.
   * Returns how many of those frames never arrived here (0 for a repeated or stale skip).
   */
  skip(seq: number): number {
    if (!(seq > this.delivered)) return 0;
    const missed = seq - this.delivered;
    this.delivered = seq;
    return missed;
  }
}
