/**
 * A bounded memo of verdicts for one connection, for the per-message checks
 * (iot:Publish on every PUBLISH, iot:Receive on every delivery, iot-policy-actions.md).
 * Most connections use a few topics over and over, so a hit replaces pattern matching with
 * one Map lookup.
 *
 * Invariants:
 * - Verdicts are pure functions of (compiled policy, action, resource), so a cached verdict
 *   is exact until the policy changes; on an authorizer refresh call `reset(newPolicy)`.
 * - At most `maxEntries` verdicts are kept in total; when full, the oldest entry is evicted
 *   first, so a client cycling through unique topics costs bounded memory.
 *
 * Entries are keyed by the resource ARN itself inside one Map per action, never by a key that
 * joins action and resource, so a lookup builds no second string. Hits do no bookkeeping (FIFO,
 * not LRU): a hit is two Map lookups and nothing else. On the delivery path this cache is seldom
 * reached: PolicyPermissions (auth/policy-permissions.ts) answers iot:Receive from its own
 * topic -> verdict map, so only a topic new to the connection builds its ARN and comes here.
 */
import type { CompiledPolicy, Verdict } from './evaluate.js';

export const DEFAULT_VERDICT_CACHE_SIZE = 1000;

export class VerdictCache {
  private policy: CompiledPolicy;
  private readonly maxEntries: number;
  /** Allocated on first use: a connection that never publishes nor subscribes keeps none. */
  private byAction: Map<string, Map<string, Verdict>> | null = null;
  private count = 0;

  constructor(policy: CompiledPolicy, maxEntries: number = DEFAULT_VERDICT_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`VerdictCache maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.policy = policy;
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.maxEntries;
  }

  /** Same result as `policy.evaluate(action, resource)`, memoised. */
  evaluate(action: string, resource: string): Verdict {
    const byAction = (this.byAction ??= new Map());
    let entries = byAction.get(action);
    if (entries !== undefined) {
      const hit = entries.get(resource);
      if (hit !== undefined) return hit;
    } else {
      entries = new Map();
      byAction.set(action, entries);
    }
    const verdict = this.policy.evaluate(action, resource);
    if (this.count >= this.maxEntries) this.evictOldest(entries);
    entries.set(resource, verdict);
    this.count++;
    return verdict;
  }

  allows(action: string, resource: string): boolean {
    return this.evaluate(action, resource).effect === 'Allow';
  }

  clear(): void {
    this.byAction = null;
    this.count = 0;
  }

  /** Switch to a new policy (authorizer refresh): every cached verdict is dropped. */
  reset(policy: CompiledPolicy): void {
    this.policy = policy;
    this.clear();
  }

  /** Evicts the oldest entry of the action being filled, or of another action if it has none. */
  private evictOldest(preferred: Map<string, Verdict>): void {
    let victim: Map<string, Verdict> | undefined = preferred.size > 0 ? preferred : undefined;
    if (victim === undefined && this.byAction !== null) {
      for (const [action, entries] of this.byAction) {
        if (entries.size > 0) {
          victim = entries;
          break;
        }
        if (entries !== preferred) this.byAction.delete(action);
      }
    }
    if (victim === undefined) return;
    const oldest = victim.keys().next();
    if (oldest.done !== true) {
      victim.delete(oldest.value);
      this.count--;
    }
  }
}
