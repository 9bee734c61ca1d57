// Which node wants which messages. Every node announces the filters it has subscribers for —
// plain filters, and `$share/{group}/{filter}` for shared-subscription groups — and keeps one
// index of every node's announced keys (its own included), so a publish is sent only to the nodes
// with a match and a shared group's member node can be picked across the whole cluster.
//
// Over-approximation is harmless (a node with no local match drops the message); under-
// approximation loses messages, so changes are applied as idempotent set operations and a full
// snapshot replaces a node's keys only together with every change that arrived meanwhile.
import { TopicTrie } from '../shared/topic-trie.js';
import { parseSharedFilter } from '../protocol/topic.js';

/** One announced key of one node, as stored in the index. */
interface Entry {
  node: string;
  /** Shared group "group\u0000filter", or null for a plain filter. */
  group: string | null;
}

export interface RouteTargets {
  /** Nodes (other than this one) with a plain-filter match. */
  direct: Set<string>;
  /** Shared groups that match, each with the nodes that have members in it. */
  groups: Map<string, string[]>;
}

export function groupKeyOf(key: string): string | null {
  const shared = parseSharedFilter(key);
  return shared === null ? null : shared.group + '\u0000' + shared.filter;
}

export class InterestIndex {
  private readonly trie = new TopicTrie<Entry>({ cacheSize: 4096 });
  /** node -> key -> entry (entries are interned so the trie can remove them by identity). */
  private readonly byNode = new Map<string, Map<string, Entry>>();

  has(node: string, key: string): boolean {
    return this.byNode.get(node)?.has(key) ?? false;
  }

  add(node: string, key: string): void {
    let keys = this.byNode.get(node);
    if (keys === undefined) this.byNode.set(node, (keys = new Map()));
    if (keys.has(key)) return;
    const shared = parseSharedFilter(key);
    const entry: Entry = { node, group: shared === null ? null : shared.group + '\u0000' + shared.filter };
    keys.set(key, entry);
    this.trie.add(shared === null ? key : shared.filter, entry);
  }

  remove(node: string, key: string): void {
    const keys = this.byNode.get(node);
    const entry = keys?.get(key);
    if (entry === undefined) return;
    keys!.delete(key);
    const shared = parseSharedFilter(key);
    this.trie.remove(shared === null ? key : shared.filter, entry);
    if (keys!.size === 0) this.byNode.delete(node);
  }

  /** Replaces everything known about `node` by `keys`. */
  replace(node: string, keys: Iterable<string>): void {
    const next = new Set(keys);
    for (const key of [...(this.byNode.get(node)?.keys() ?? [])]) if (!next.has(key)) this.remove(node, key);
    for (const key of next) this.add(node, key);
  }

  dropNode(node: string): void {
    this.replace(node, []);
  }

  nodes(): string[] {
    return [...this.byNode.keys()];
  }

  keysOf(node: string): string[] {
    return [...(this.byNode.get(node)?.keys() ?? [])];
  }

  /** Where a message on `topic` must go; `self`'s plain filters are left to the local broker. */
  route(topic: string, self: string): RouteTargets | null {
    const entries = this.trie.match(topic);
    if (entries.length === 0) return null;
    const direct = new Set<string>();
    let groups: Map<string, string[]> | null = null;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.group === null) {
        if (entry.node !== self) direct.add(entry.node);
        continue;
      }
      groups ??= new Map();
      const nodes = groups.get(entry.group);
      if (nodes === undefined) groups.set(entry.group, [entry.node]);
      else if (!nodes.includes(entry.node)) nodes.push(entry.node);
    }
    return { direct, groups: groups ?? EMPTY_GROUPS };
  }
}

const EMPTY_GROUPS: Map<string, string[]> = new Map();

/** This node's own keys with reference counts: a key is announced on 0 -> 1 and withdrawn on 1 -> 0. */
export class LocalInterest {
  private readonly counts = new Map<string, number>();

  /** Returns true when the key is new. */
  add(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return n === 0;
  }

  /** Returns true when the key is gone. */
  remove(key: string): boolean {
    const n = this.counts.get(key);
    if (n === undefined) return false;
    if (n <= 1) {
      this.counts.delete(key);
      return true;
    }
    this.counts.set(key, n - 1);
    return false;
  }

  keys(): string[] {
    return [...this.counts.keys()];
  }

  get size(): number {
    return this.counts.size;
  }
}
