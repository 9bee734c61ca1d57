// Where a message published on this node goes in the cluster: to every other node with a matching
// plain filter, and, for each matching shared group, to one node picked by the single-node rule
// (router.ts pickMember) lifted to nodes: a node with a connected member when there is one
// anywhere; otherwise, at QoS 1/2, a node with (persistent, offline) members, which queues it;
// otherwise (QoS 0, nobody connected) the message is dropped for that group and counted in
// sharedDropped. Round-robin among the candidates; the node then picks among its own members.
// With routing 'broadcast' every node gets every message (kept to measure what interest routing
// saves).
import type { Message } from '../shared/message.js';
import type { ClusterContext } from './context.js';
import type { InterestSync } from './interest-sync.js';
import type { NodeLinks } from './links.js';

const EMPTY: ReadonlySet<string> = new Set();

export class Forwarder {
  private readonly groupTurn = new Map<string, number>();

  constructor(
    private readonly ctx: ClusterContext,
    private readonly interest: InterestSync,
    private readonly live: () => ReadonlySet<string>,
    private readonly links: NodeLinks,
  ) {}

  /** Sends `message` on; returns the shared groups ("group\u0000filter") this node delivers it to. */
  forward(message: Message): ReadonlySet<string> {
    const { ctx } = this;
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
      const node = nodes[turn % nodes.length]!;
      if (node === ctx.nodeId) (localGroups ??= new Set()).add(group);
      else {
        groupsFor ??= new Map();
        const list = groupsFor.get(node);
        if (list === undefined) groupsFor.set(node, [group]);
        else list.push(group);
      }
    }
    const nodes = groupsFor === null ? targets.direct : new Set([...targets.direct, ...groupsFor.keys()]);
    if (nodes.size > 0) this.links.send(message, nodes, groupsFor);
    return localGroups ?? EMPTY;
  }
}
