// Where a message published on this node goes in the cluster: to every other node with a matching
// plain filter, and, for each matching shared group, to one node picked by the single-node rule
// (router.ts pickMember) lifted to nodes: a node with a connected member when there is one
// anywhere; otherwise, at QoS 1/2, a node with (persistent, offline) members, which queues it;
// otherwise (QoS 0, nobody connected) the message is dropped for that group and counted in
// sharedDropped. Round-robin among the candidates; the node then picks among its own members.
//
// What a member may receive (iot:Receive) is known only on its node, per connection and topic. So
// the message carries, for the group, the other candidate nodes with a connected member, in turn
// order (a GroupVia): a node none of whose connected members may receive it passes it on to the
// next (passOn), remembering the first node on the way with a persistent member that may (`keep`);
// the last one, with none either, sends it back to that one to queue (QoS 1/2), and only when
// there is none the message is dropped and counted, where the chain ends. Each hop shortens the
// list, so it ends after at most one pass over the candidates (no loops), and each hop's
// acknowledgement to the previous one waits for the next one's (links.ts), so a PUBACK still
// means the final holder committed it.
// With routing 'broadcast' every node gets every message (kept to measure what interest routing
// saves).
import type { Message } from '../shared/message.js';
import type { ClusterContext } from './context.js';
import { MAX_VIA_NODES, type ForwardedMessage, type GroupVia } from './frames.js';
import type { InterestSync } from './interest-sync.js';
import type { NodeLinks } from './links.js';

const EMPTY: ReadonlySet<string> = new Set();

export class Forwarder {
  private readonly groupTurn = new Map<string, number>();
  /**
   * The message being routed here (published here, or arrived from another node) and, by group,
   * where it goes next if no connected member here may receive it: set before the broker routes
   * it, which happens synchronously (router.ts asks passOn), so identity tells it apart.
   */
  private current: { message: Message; via: Map<string, GroupVia> } | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly interest: InterestSync,
    private readonly live: () => ReadonlySet<string>,
    private readonly links: NodeLinks,
  ) {}

  /** Sends `message` on; returns the shared groups ("group\u0000filter") this node delivers it to. */
  forward(message: Message): ReadonlySet<string> {
    const { ctx } = this;
    this.current = null;
    const targets = this.interest.route(message.topic);
    if (ctx.options.routing === 'broadcast') {
      const everyone = new Set(this.live());
      everyone.delete(ctx.nodeId);
      if (targets === null) {
        if (everyone.size > 0) this.links.send(message, everyone, null);
        return EMPTY;
      }
      for (const n of everyone) targets.direct.add(n);
    }
    if (targets === null) return EMPTY;
    let localGroups: Set<string> | null = null;
    let groupsFor: Map<string, string[]> | null = null;
    let viaFor: Map<string, GroupVia[]> | null = null;
    let localVia: Map<string, GroupVia> | null = null;
    for (const [group, candidates] of targets.groups) {
      // Connected members first, anywhere; offline persistent members only for QoS 1/2.
      const nodes = candidates.live.length > 0 ? candidates.live : message.qos > 0 ? candidates.nodes : null;
      if (nodes === null || nodes.length === 0) {
        ctx.counters.sharedDropped++;
        continue;
      }
      // Round-robin over the candidate nodes: each node then round-robins over its own members.
      const turn = this.groupTurn.get(group) ?? 0;
      this.groupTurn.set(group, turn + 1);
      const at = turn % nodes.length;
      const node = nodes[at]!;
      // Only among nodes with a connected member: the others' members are all offline.
      const next = nodes === candidates.live && nodes.length > 1 ? rotation(nodes, at) : null;
      const via = next !== null ? { group, next } : null;
      if (node === ctx.nodeId) {
        (localGroups ??= new Set()).add(group);
        if (via !== null) (localVia ??= new Map()).set(group, via);
      } else {
        groupsFor ??= new Map();
        const list = groupsFor.get(node);
        if (list === undefined) groupsFor.set(node, [group]);
        else list.push(group);
        if (via !== null) {
          viaFor ??= new Map();
          const vias = viaFor.get(node);
          if (vias === undefined) viaFor.set(node, [via]);
          else vias.push(via);
        }
      }
    }
    this.current = localVia === null ? null : { message, via: localVia };
    const nodes = groupsFor === null ? targets.direct : new Set([...targets.direct, ...groupsFor.keys()]);
    if (nodes.size > 0) this.links.send(message, nodes, groupsFor, null, viaFor);
    return localGroups ?? EMPTY;
  }

  /** A message from another node is about to be routed here: where its groups go next, if anywhere. */
  receiving(forwarded: ForwardedMessage): void {
    const via = forwarded.via;
    this.current = via === undefined || via.length === 0 ? null : { message: forwarded.message, via: new Map(via.map((v) => [v.group, v])) };
  }

  /**
   * No connected member here may receive `message` for `group` (router.ts); `canKeep`: a
   * persistent member here may. Passes it on as the file's top describes and returns true, or
   * returns false: this node is the end of the line (queue it here, or drop and count it).
   */
  passOn(message: Message, group: string, canKeep: boolean): boolean {
    const current = this.current;
    if (current === null || current.message !== message) return false;
    const via = current.via.get(group);
    if (via === undefined) return false;
    const { ctx } = this;
    const self = ctx.nodeId;
    const live = this.live();
    let to: string | null = null;
    let onward: GroupVia;
    let i = 0;
    // Nodes that died or left since, and this one (never in a list it was sent, but frames are data), are skipped.
    while (i < via.next.length && (via.next[i] === self || !live.has(via.next[i]!))) i++;
    if (i < via.next.length) {
      to = via.next[i]!;
      const keep = via.keep ?? (canKeep && message.qos > 0 ? self : undefined);
      onward = keep === undefined ? { group, next: via.next.slice(i + 1) } : { group, next: via.next.slice(i + 1), keep };
    } else if (!canKeep && message.qos > 0 && via.keep !== undefined && via.keep !== self && live.has(via.keep)) {
      // Nobody connected may take it: back to the first node with a persistent member that may.
      to = via.keep;
      onward = { group, next: [] };
    } else return false;
    ctx.counters.sharedPassedOn++;
    // For the group only: the next node's plain subscribers had their copy from the publisher.
    this.links.send(message, new Set([to]), new Map([[to, [group]]]), null, new Map([[to, [onward]]]), true);
    return true;
  }
}

/** The nodes after `at`, wrapping round, without it (at most MAX_VIA_NODES). */
function rotation(nodes: readonly string[], at: number): string[] {
  const out: string[] = [];
  for (let i = 1; i < nodes.length && out.length < MAX_VIA_NODES; i++) out.push(nodes[(at + i) % nodes.length]!);
  return out;
}
