// The subscription index: a topic trie with dedicated '+' and '#' children and a bounded match
// cache (the nats-server sublist idea, written for MQTT semantics).
//
// Semantics are exactly those of topicMatches (topic-match.ts): '+' matches one level, even
// an empty one; '#' matches its parent level and everything below ('a/#' matches 'a'); filters
// starting with a wildcard do not match topics starting with '$' [MQTT-4.7.2-1].
//
// Preconditions: filters were accepted by validateTopicFilter and the caller stripped any
// `$share/{group}/` prefix; topics were accepted by validateTopicName. The level limits enforced
// there also bound the trie's depth.
//
// match() returns one entry per matching (filter, value) pair. A value stored under two
// overlapping filters ('a/+' and 'a/#') appears twice: the caller needs every matching
// subscription to pick the maximum QoS and collect subscription identifiers [MQTT-3.3.4-2]
// [MQTT-3.3.4-3]. The order of the entries is unspecified.
import { topicMatches } from './topic-match.js';

const EMPTY: readonly never[] = Object.freeze([]);

const DEFAULT_CACHE_SIZE = 4096;

class TrieNode<T> {
  /** Children by literal level; null until the first one, and again once pruned empty. */
  literal: Map<string, TrieNode<T>> | null = null;
  /** The '+' child. */
  plus: TrieNode<T> | null = null;
  /** The '#' child; always a leaf, since '#' is the last level [MQTT-4.7.1-1]. */
  hash: TrieNode<T> | null = null;
  /** Values stored under the filter ending here; a Set gives identity de-duplication. */
  values: Set<T> | null = null;
  /** The filter ending here, kept for filters(); non-null exactly when `values` is. */
  filter: string | null = null;

  isEmpty(): boolean {
    return this.values === null && this.literal === null && this.plus === null && this.hash === null;
  }
}

export class TopicTrie<T> {
  private readonly root = new TrieNode<T>();
  private count = 0;
  /** topic -> frozen result. Bounded, evicts in insertion order (cheap, no bookkeeping on hits). */
  private readonly cache = new Map<string, readonly T[]>();
  private readonly cacheSize: number;
  // Work stacks for the iterative match, reused across calls (match is synchronous and never
  // re-entered), so a match allocates only the level array and its result.
  private readonly nodeStack: TrieNode<T>[] = [];
  private readonly depthStack: number[] = [];

  /** False: 'a/#' does not match 'a' (AWS IoT's deviation from the spec; topics.multiLevelWildcardMatchesParent). */
  private readonly hashMatchesParent: boolean;

  constructor(options?: { cacheSize?: number; multiLevelWildcardMatchesParent?: boolean }) {
    this.hashMatchesParent = options?.multiLevelWildcardMatchesParent ?? true;
    const cacheSize = options?.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`cacheSize must be a non-negative integer, got ${cacheSize}`);
    }
    this.cacheSize = cacheSize;
  }

  /** Number of (filter, value) pairs stored. */
  get size(): number {
    return this.count;
  }

  /** Store `value` under `filter`; storing the same pair again is a no-op. */
  add(filter: string, value: T): void {
    const levels = filter.split('/');
    const last = levels.length - 1;
    let node = this.root;
    for (let i = 0; i <= last; i++) {
      const level = levels[i]!;
      if (level === '+') {
        node = node.plus ??= new TrieNode<T>();
      } else if (level === '#') {
        // Enforced once by validateTopicFilter; checked here as well because a '#' inner node
        // would store values that match() can never reach.
        if (i !== last) throw new RangeError(`'#' must be the last level of a filter: ${filter}`);
        node = node.hash ??= new TrieNode<T>();
      } else {
        const literal: Map<string, TrieNode<T>> = (node.literal ??= new Map());
        let child = literal.get(level);
        if (child === undefined) {
          child = new TrieNode<T>();
          literal.set(level, child);
        }
        node = child;
      }
    }
    if (node.values === null) {
      node.values = new Set();
      node.filter = filter;
    } else if (node.values.has(value)) {
      return;
    }
    node.values.add(value);
    this.count++;
    this.invalidate(filter);
  }

  /** Remove `value` from `filter`; true if it was there. Nodes left empty are pruned. */
  remove(filter: string, value: T): boolean {
    const levels = filter.split('/');
    const path: TrieNode<T>[] = [this.root];
    let node: TrieNode<T> | null | undefined = this.root;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      if (level === '+') node = node.plus;
      else if (level === '#') node = node.hash;
      else node = node.literal?.get(level);
      if (node == null) return false;
      path.push(node);
    }
    if (node.values === null || !node.values.delete(value)) return false;
    if (node.values.size === 0) {
      node.values = null;
      node.filter = null;
    }
    this.count--;
    // Prune bottom-up: path[i + 1] hangs from path[i] under levels[i].
    for (let i = levels.length - 1; i >= 0; i--) {
      const child = path[i + 1]!;
      if (!child.isEmpty()) break;
      const parent = path[i]!;
      const level = levels[i]!;
      if (level === '+') parent.plus = null;
      else if (level === '#') parent.hash = null;
      else {
        const literal = parent.literal!;
        literal.delete(level);
        if (literal.size === 0) parent.literal = null;
      }
    }
    this.invalidate(filter);
    return true;
  }

  /**
   * Every value whose filter matches `topic`, as a frozen array; the shared frozen empty array
   * when nothing matches. Callers must not rely on the order.
   */
  match(topic: string): readonly T[] {
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached;

    const levels = topic.split('/');
    const n = levels.length;
    const out: T[] = [];
    const nodes = this.nodeStack;
    const depths = this.depthStack;

    if (topic.charCodeAt(0) === 0x24) {
      // '$' topic: skip the root's '+' and '#' children [MQTT-4.7.2-1].
      const first = this.root.literal?.get(levels[0]!);
      if (first !== undefined) {
        nodes.push(first);
        depths.push(1);
      }
    } else {
      nodes.push(this.root);
      depths.push(0);
    }

    // Invariant: node on the stack matched the first `depth` levels of the topic.
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      // '#' covers the remaining levels, including none (so 'a/#' matches 'a'), unless AWS IoT's
      // semantics are asked for: "sensor/# matches sensor/ and below, not sensor" (at least one
      // more level, possibly empty).
      if (node.hash !== null && (this.hashMatchesParent || depth < n)) pushAll(out, node.hash.values);
      if (depth === n) {
        pushAll(out, node.values);
        continue;
      }
      if (node.plus !== null) {
        nodes.push(node.plus);
        depths.push(depth + 1);
      }
      if (node.literal !== null) {
        const next = node.literal.get(levels[depth]!);
        if (next !== undefined) {
          nodes.push(next);
          depths.push(depth + 1);
        }
      }
    }

    const result: readonly T[] = out.length === 0 ? EMPTY : Object.freeze(out);
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) {
        this.cache.delete(this.cache.keys().next().value!);
      }
      this.cache.set(topic, result);
    }
    return result;
  }

  /** The distinct filters currently stored, as a snapshot (safe to mutate the trie meanwhile). */
  filters(): IterableIterator<string> {
    const found: string[] = [];
    const stack: TrieNode<T>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.filter !== null) found.push(node.filter);
      if (node.hash !== null) stack.push(node.hash);
      if (node.plus !== null) stack.push(node.plus);
      if (node.literal !== null) for (const child of node.literal.values()) stack.push(child);
    }
    return found.values();
  }

  /**
   * Keep the cache correct after `filter` gained or lost a value: drop exactly the cached
   * topics that `filter` matches. Clearing everything would be simpler, but under subscribe
   * churn (a connect storm) it would empty the cache on every SUBSCRIBE and hot topics would
   * never stay cached; patching cached arrays in place (as nats does) is not possible with
   * frozen results shared with callers. An exact filter costs one delete; a wildcard filter
   * scans at most `cacheSize` keys, once per (un)subscribe and never per message.
   */
  private invalidate(filter: string): void {
    if (this.cache.size === 0) return;
    if (!filter.includes('+') && !filter.includes('#')) {
      this.cache.delete(filter);
      return;
    }
    for (const topic of this.cache.keys()) {
      if (topicMatches(filter, topic)) this.cache.delete(topic);
    }
  }
}

function pushAll<T>(out: T[], values: Set<T> | null): void {
  if (values !== null) for (const v of values) out.push(v);
}
