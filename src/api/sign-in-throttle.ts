// Console sign-in attempts, limited per caller address: a password guessed over the network gets
// a handful of tries per window, not thousands a second. Failures alone count (a user who signs in
// is not slowed), the map is bounded (oldest entry evicted first), and the clock is injected so
// the window can be tested without waiting.
//
// Behind a reverse proxy that is not in listeners.http.trustedProxies every caller shares the
// proxy's address, so a guesser also locks out the others for the window: name the proxy.
//
// An IPv6 caller is counted by its /64: one host is routinely given a whole /64 (SLAAC privacy
// addresses, RFC 8981) and can pick a fresh address per request, so counting single addresses
// would give it 2^64 budgets. An IPv4-mapped address counts as the IPv4 address it carries.

import { isIP } from 'node:net';
import { systemClock, type Clock } from '../shared/clock.js';

/** The bucket an address is counted in: IPv4 as is, IPv6 by its /64, anything else as given. */
export function throttleKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address.split('%')[0]!);
  if (groups === null) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail folded in). */
function ipv6Groups(address: string): number[] | null {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 0) return null;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  return groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff) ? null : groups;
}

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
    const entry = this.current(throttleKey(address));
    if (entry === undefined || entry.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((entry.windowStart + this.windowMs - this.clock.now()) / 1000));
  }

  failed(address: string): void {
    const key = throttleKey(address);
    let entry = this.current(key);
    if (entry === undefined) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      entry = { failures: 0, windowStart: this.clock.now() };
      this.entries.set(key, entry);
    }
    entry.failures++;
  }

  succeeded(address: string): void {
    this.entries.delete(throttleKey(address));
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
