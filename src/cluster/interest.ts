// Which node wants which messages. Every node announces the filters it has subscribers for —
// plain filters, and `$share/{group}/{filter}` for shared-subscription groups — and keeps one
// index of every node's announced keys (its own included), so a publish is sent only to the nodes
// with a match and a shared group's member node can be picked across the whole cluster.
//
// Over-approximation is harmless (a node with no local match drops the message); under-
// approximation loses messages, so changes are applied as idempotent set operations and a full
// snapshot replaces a node's keys only together with every change that arrived meanwhile.
//
// A node also announces `$share/+/{group}/{filter}` while the group has a connected member there
// (a "live" key). No client can hold that key: '+' is not allowed in a ShareName [MQTT-4.8.2-2],
// so such a SUBSCRIBE is refused. It lets the publishing node prefer a node with a connected
// member, as a single node does.
import { TopicTrie } from '../shared/topic-trie.js';
import { parseSharedFilter } from '../protocol/topic.js';

const LIVE_PREFIX = '$share/+/';

/** One announced key of one node, as stored in the index. */
interface Entry {
  node: string;
  /** Shared group "group\u0000filter", or null for a plain filter. */
  group: string | null;
  /** A live key: the group has a connected member on `node`. */
  live: boolean;
}

/** The nodes with members of one shared group, and those of them with a connected member. */
export interface GroupNodes {
  nodes: string[];
  live: string[];
}

export interface RouteTargets {
  /** Nodes (other than this one) with a plain-filter match. */
  direct: Set<string>;
  /** Shared groups that match, each with the nodes that have members in it. */
  groups: Map<string, GroupNodes>;
}

/** The live key of the shared group `group` on `filter`. */
export function liveKey(group: string, filter: string): string {
  return `${LIVE_PREFIX}${group}/${filter}`;
}

/** For a live key, the `$share/{group}/{filter}` it stands for; null for any other key. */
export function sharedKeyOfLive(key: string): string | null {
  return key.startsWith(LIVE_PREFIX) ? '$share/' + key.slice(LIVE_PREFIX.length) : null;
}

export function groupKeyOf(key: string): string | null {
  const shared = parseSharedFilter(sharedKeyOfLive(key) ?? key);
  return shared === null ? null : shared.group + '\u0000' + shared.filter;
}

/** The trie filter and entry fields of an announced key. */
function parseKey(key: string): { filter: string; group: string | null; live: boolean } {
  const liveOf = sharedKeyOfLive(key);
  const shared = parseSharedFilter(liveOf ?? key);
  if (shared === null) return { filter: key, group: null, live: false };
  return { filter: shared.filter, group: shared.group + '\u0000' + shared.filter, live: liveOf !== null };
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
    const parsed = parseKey(key);
    const entry: Entry = { node, group: parsed.group, live: parsed.live };
    keys.set(key, entry);
    this.trie.add(parsed.filter, entry);
  }

  remove(node: string, key: string): void {
    const keys = this.byNode.get(node);
    const entry = keys?.get(key);
    if (entry === undefined) return;
    keys!.delete(key);
    this.trie.remove(parseKey(key).filter, entry);
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
    let groups: Map<string, GroupNodes> | null = null;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.group === null) {
        if (entry.node !== self) direct.add(entry.node);
        continue;
      }
      groups ??= new Map();
      let g = groups.get(entry.group);
      if (g === undefined) groups.set(entry.group, (g = { nodes: [], live: [] }));
      const list = entry.live ? g.live : g.nodes;
      if (!list.includes(entry.node)) list.push(entry.node);
    }
    return { direct, groups: groups ?? EMPTY_GROUPS };
  }
}

const EMPTY_GROUPS: Map<string, GroupNodes> = new Map();

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
