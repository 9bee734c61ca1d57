/**
 * A bounded cache of authorizer responses, so a client reconnecting with the same credentials
 * (or a fleet reconnecting after an outage) does not invoke the authorizer again each time.
 * AWS caches the returned policy for `refreshAfterInSeconds` per connection and invokes the
 * authorizer for every MQTT connection; this extends the reuse to identical requests across
 * connections (MQTT and HTTP alike), which also lets a revoked or one-time token work again until
 * the entry expires. So it is off unless `auth.resultCacheSize` > 0, a deviation documented in
 * docs/compatibility.md.
 *
 * What is cached: only responses that passed `validateAuthorizerResponse`. Errors, timeouts and
 * invalid responses never are, so a flaky authorizer is retried on the next attempt.
 *   - isAuthenticated true:  kept for refreshAfterInSeconds.
 *   - isAuthenticated false: kept for min(refreshAfterInSeconds, maxDenyTtlMs), 10 s by default:
 *     enough to absorb a client retrying bad credentials in a loop, short enough that a fixed
 *     account works again at once.
 *
 * Key: sha256 of the authorizer name and the event without `connectionMetadata` (a fresh id per
 * connection) and without the `sec-websocket-key` header (a random nonce per Upgrade that carries
 * no credential). Everything else the authorizer sees is in the key, token and password included,
 * so a hit is a response to an identical request. Only the hash is kept, never the credentials.
 *
 * Bounds: at most `maxEntries` (default 10,000), least recently used evicted first; concurrent
 * lookups of one key share a single invocation.
 */
import { createHash } from 'node:crypto';

import { systemClock, type Clock } from '../shared/clock.js';
import type { AuthorizerEvent, AuthorizerResponse } from './authorizer.js';

export const DEFAULT_RESULT_CACHE_SIZE = 10_000;
export const DEFAULT_MAX_DENY_TTL_MS = 10_000;

/** Upgrade headers that differ on every connection without carrying credentials. */
const VOLATILE_HEADERS: ReadonlySet<string> = new Set(['sec-websocket-key']);

export interface ResultCacheOptions {
  maxEntries?: number;
  maxDenyTtlMs?: number;
  /** Reads the time entries expire by; default the system clock (tests move a ManualClock). */
  clock?: Clock;
}

interface Entry {
  response: AuthorizerResponse;
  expiresAt: number;
}

export function resultCacheKey(authorizerName: string, event: AuthorizerEvent): string {
  const { connectionMetadata: _id, ...rest } = event;
  let keyed: unknown = rest;
  const headers = rest.protocolData?.http?.headers;
  if (headers !== undefined && Object.keys(headers).some((h) => VOLATILE_HEADERS.has(h.toLowerCase()))) {
    const kept = Object.fromEntries(Object.entries(headers).filter(([h]) => !VOLATILE_HEADERS.has(h.toLowerCase())));
    keyed = { ...rest, protocolData: { ...rest.protocolData, http: { ...rest.protocolData?.http, headers: kept } } };
  }
  return createHash('sha256').update(stableJson([authorizerName, keyed])).digest('base64url');
}

export class ResultCache {
  private readonly maxEntries: number;
  private readonly maxDenyTtlMs: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<AuthorizerResponse>>();

  constructor(opts: ResultCacheOptions = {}) {
    const maxEntries = opts.maxEntries ?? DEFAULT_RESULT_CACHE_SIZE;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`ResultCache maxEntries must be a positive integer, got ${maxEntries}`);
    }
    const maxDenyTtlMs = opts.maxDenyTtlMs ?? DEFAULT_MAX_DENY_TTL_MS;
    if (!Number.isFinite(maxDenyTtlMs) || maxDenyTtlMs < 0) {
      throw new RangeError(`ResultCache maxDenyTtlMs must be a non-negative number, got ${maxDenyTtlMs}`);
    }
    this.maxEntries = maxEntries;
    this.maxDenyTtlMs = maxDenyTtlMs;
    this.clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached response, shared and not to be mutated; undefined when absent or expired. */
  get(authorizerName: string, event: AuthorizerEvent): AuthorizerResponse | undefined {
    return this.getByKey(resultCacheKey(authorizerName, event));
  }

  /** Stores a validated response for its lifetime (see the file note). */
  set(authorizerName: string, event: AuthorizerEvent, response: AuthorizerResponse): void {
    this.setByKey(resultCacheKey(authorizerName, event), response);
  }

  /**
   * The cached response, or the result of `compute` (which must return a validated response),
   * stored on success. Concurrent calls for one request share one `compute`; a rejection is
   * shared by them and not cached.
   */
  lookup(authorizerName: string, event: AuthorizerEvent, compute: () => Promise<AuthorizerResponse>): Promise<AuthorizerResponse> {
    const key = resultCacheKey(authorizerName, event);
    const hit = this.getByKey(key);
    if (hit !== undefined) return Promise.resolve(hit);
    let flight = this.inFlight.get(key);
    if (flight === undefined) {
      flight = compute().then(
        (response) => {
          this.inFlight.delete(key);
          this.setByKey(key, response);
          return response;
        },
        (error: unknown) => {
          this.inFlight.delete(key);
          throw error;
        },
      );
      this.inFlight.set(key, flight);
    }
    return flight;
  }

  delete(authorizerName: string, event: AuthorizerEvent): void {
    this.entries.delete(resultCacheKey(authorizerName, event));
  }

  /** Drops everything, e.g. when an authorizer is updated or deleted. */
  clear(): void {
    this.entries.clear();
  }

  private getByKey(key: string): AuthorizerResponse | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.clock.now()) return undefined;
    this.entries.set(key, entry); // most recently used goes last
    return entry.response;
  }

  private setByKey(key: string, response: AuthorizerResponse): void {
    let ttlMs = response.refreshAfterInSeconds * 1000;
    if (!response.isAuthenticated) ttlMs = Math.min(ttlMs, this.maxDenyTtlMs);
    this.entries.delete(key);
    if (ttlMs <= 0) return;
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { response, expiresAt: this.clock.now() + ttlMs });
  }
}

/** JSON with object keys sorted, so equal events give equal keys whatever their key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${stableJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
