// Token buckets for the throttles (limits.maxPublishesPerSecond and the like): `rate` tokens a
// second, at most one second's worth saved up (and at least one token, so a rate below 1 still
// lets one request through), so a client idle for a minute cannot then burst a minute's worth. Time comes from the injected Clock, so a test moves it with ManualClock.
//
// Two ways to spend:
// - take(n): all or nothing; false leaves the bucket as it was (a refused PUBLISH costs nothing).
// - debit(n): always succeeds and may leave a debt; waitMs() is how long until the debt is paid.
//   For bytes already read from a socket: they are handled, and the next read waits.
import type { Clock } from './clock.js';

const capacity = (rate: number) => Math.max(rate, 1);

export class TokenBucket {
  private tokens: number;
  private last: number;
  private rate: number;

  constructor(
    rate: number,
    private readonly clock: Clock,
  ) {
    this.rate = rate;
    this.tokens = capacity(rate);
    this.last = clock.now();
  }

  /** A new rate (a config reload); the tokens saved are capped to it. */
  setRate(rate: number): void {
    if (rate === this.rate) return;
    this.refill();
    this.rate = rate;
    if (this.tokens > capacity(rate)) this.tokens = capacity(rate);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    this.tokens = Math.min(capacity(this.rate), this.tokens + (elapsed * this.rate) / 1000);
  }

  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  debit(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until the bucket is out of debt (0 when it is not in debt). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}

/**
 * One bucket per key (a client ID, chosen by the peer), bounded: past `maxKeys`, keys whose bucket
 * is full again (idle for a second or more, so forgetting them changes nothing) are dropped, and if
 * none is, the oldest key is. Forgetting a key only ever lets its next request through early.
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; at: number }>();

  constructor(
    private rate: number,
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  take(key: string): boolean {
    const now = this.clock.now();
    let entry = this.buckets.get(key);
    if (entry === undefined) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      entry = { bucket: new TokenBucket(this.rate, this.clock), at: now };
      this.buckets.set(key, entry);
    } else {
      entry.bucket.setRate(this.rate);
      // Most recently used last, so the oldest is first when pruning has to drop one.
      this.buckets.delete(key);
      this.buckets.set(key, entry);
      entry.at = now;
    }
    return entry.bucket.take(1);
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    const idleMs = Math.ceil(1000 / Math.max(this.rate, 1e-9));
    // Least recently used first: stop at the first key still in use.
    for (const [key, entry] of this.buckets) {
      if (now - entry.at < idleMs) break;
      this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
