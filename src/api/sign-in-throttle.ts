// Console sign-in attempts, limited per caller address: a password guessed over the network gets
// a handful of tries per window, not thousands a second. Failures alone count (a user who signs in
// is not slowed), the map is bounded (oldest entry evicted first), and the clock is injected so
// the window can be tested without waiting.
//
// Behind a reverse proxy that is not in listeners.http.trustedProxies every caller shares the
// proxy's address, so a guesser also locks out the others for the window: name the proxy.

import { systemClock, type Clock } from '../shared/clock.js';

export interface SignInThrottleOptions {
  /** Failed attempts allowed per address within `windowMs`. */
  maxFailures?: number;
  windowMs?: number;
  /** Addresses tracked at once. */
  maxEntries?: number;
  /** Default the system clock. */
  clock?: Clock;
}

interface Entry {
  failures: number;
  windowStart: number;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;

  constructor(options: SignInThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Seconds until `address` may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const entry = this.current(address);
    if (entry === undefined || entry.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((entry.windowStart + this.windowMs - this.clock.now()) / 1000));
  }

  failed(address: string): void {
    let entry = this.current(address);
    if (entry === undefined) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      entry = { failures: 0, windowStart: this.clock.now() };
      this.entries.set(address, entry);
    }
    entry.failures++;
  }

  succeeded(address: string): void {
    this.entries.delete(address);
  }

  private current(address: string): Entry | undefined {
    const entry = this.entries.get(address);
    if (entry !== undefined && this.clock.now() - entry.windowStart >= this.windowMs) {
      this.entries.delete(address);
      return undefined;
    }
    return entry;
  }
}
