// Keeps every node's view of every node's interest (interest.ts) in step: announces this node's
// changes (a new filter waits, "settles", until every live node has acknowledged it, so a SUBACK
// means a publish made anywhere afterwards is routed here), applies other nodes' changes, and
// reloads a node's whole snapshot when it rejoined, queueing the changes that arrive meanwhile so
// none is lost. Over-approximation is harmless; under-approximation loses messages.
import { encodeControlFrame, type ControlMessage } from './control-messages.js';
import type { ClusterContext } from './context.js';
import { InterestIndex, LocalInterest, type RouteTargets } from './interest.js';

const SETTLE_TIMEOUT_MS = 1000;

export type InterestMessage = Extract<ControlMessage, { type: 'interest' }>;

interface Settling {
  waiting: Set<string>;
  resolve: () => void;
  timer: NodeJS.Timeout;
  done: Promise<void>;
}

export class InterestSync {
  private readonly local = new LocalInterest();
  private readonly index = new InterestIndex();
  /** Bumped on every change of this node's own interest, to notice changes made during a rejoin. */
  private localVersion = 0;
  /** Nodes whose interest snapshot is loading after they resynced, with changes that arrived meanwhile. */
  private readonly resyncing = new Map<string, InterestMessage[]>();
  /** Interest changes of other nodes that arrive while every snapshot is loading. */
  private loadingInterest: InterestMessage[] | null = null;
  private readonly settling = new Map<string, Settling>();
  private ridSeq = 0;

  /** `live` gives the nodes with a recent heartbeat, this one included (membership.ts). */
  constructor(
    private readonly ctx: ClusterContext,
    private readonly live: () => ReadonlySet<string>,
  ) {}

  get version(): number {
    return this.localVersion;
  }

  /** This node's own keys, as written to Redis when it (re)joins. */
  ownKeys(): string[] {
    return this.local.keys();
  }

  /** The other nodes a message on `topic` goes to, and the shared groups that match (null: none). */
  route(topic: string): RouteTargets | null {
    return this.index.route(topic, this.ctx.nodeId);
  }

  added(key: string): void {
    if (!this.local.add(key)) return;
    this.localVersion++;
    this.index.add(this.ctx.nodeId, key);
    this.announce('add', key);
  }

  removed(key: string): void {
    if (!this.local.remove(key)) return;
    this.localVersion++;
    this.index.remove(this.ctx.nodeId, key);
    this.announce('remove', key);
  }

  /**
   * New interest waits for every live node to acknowledge it, so a SUBACK means a publish made
   * anywhere afterwards is routed here. Withdrawals need no wait (a stray message is dropped).
   */
  private announce(op: 'add' | 'remove', key: string): void {
    const { ctx } = this;
    if (!ctx.connected) return; // the full state is written again on reconnection
    const others = [...this.live()].filter((n) => n !== ctx.nodeId);
    let rid: string | undefined;
    if (op === 'add' && others.length > 0) {
      rid = `${ctx.nodeId}:${++this.ridSeq}`;
      const id = rid;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const timer = setTimeout(() => {
        // A node that did not acknowledge may have missed the change: have everyone reload ours.
        ctx.logger.warn({ waitingFor: [...(this.settling.get(id)?.waiting ?? [])] }, 'nodes did not acknowledge a subscription change in time; asking them to reload');
        ctx.control(ctx.keys.all, { type: 'resync', from: ctx.nodeId }, true);
        this.settled(id);
      }, SETTLE_TIMEOUT_MS);
      timer.unref();
      this.settling.set(id, { waiting: new Set(others), resolve, timer, done });
    }
    const m = ctx.redis.multi();
    if (op === 'add') m.sadd(ctx.keys.interest(ctx.nodeId), key);
    else m.srem(ctx.keys.interest(ctx.nodeId), key);
    m.publish(ctx.keys.all, encodeControlFrame({ type: 'interest', from: ctx.nodeId, op, key, ...(rid !== undefined ? { requestId: rid } : {}) }));
    m.exec().catch(() => {
      if (rid !== undefined) this.settled(rid);
    });
  }

  private settled(rid: string): void {
    const s = this.settling.get(rid);
    if (s === undefined) return;
    this.settling.delete(rid);
    clearTimeout(s.timer);
    s.resolve();
  }

  /** Pending while other nodes have not yet acknowledged a new filter of this node; null when settled. */
  settledPromise(): Promise<void> | null {
    if (this.settling.size === 0) return null;
    return Promise.all([...this.settling.values()].map((s) => s.done)).then(() => undefined);
  }

  /** Another node's change: applied now, or after the snapshot being loaded (which it may postdate). */
  onInterest(c: InterestMessage): void {
    const { ctx } = this;
    const from = c.from;
    if (from === ctx.nodeId) return;
    if (this.loadingInterest !== null) this.loadingInterest.push(c);
    else if (this.resyncing.has(from)) this.resyncing.get(from)!.push(c);
    else this.apply(c);
    if (c.requestId !== undefined) ctx.control(from, { type: 'interest-ack', from: ctx.nodeId, requestId: c.requestId });
  }

  onInterestAck(from: string, requestId: string): void {
    const s = this.settling.get(requestId);
    if (s !== undefined && s.waiting.delete(from) && s.waiting.size === 0) this.settled(requestId);
  }

  /** `from` (re)wrote its interest: reload its snapshot. */
  onResync(from: string): void {
    if (this.resyncing.has(from)) return;
    this.resyncing.set(from, []);
    void this.ctx.redis
      .smembers(this.ctx.keys.interest(from))
      .then((keys) => this.index.replace(from, keys))
      .catch(() => {})
      .finally(() => {
        const queued = this.resyncing.get(from) ?? [];
        this.resyncing.delete(from);
        for (const q of queued) this.apply(q);
      });
  }

  /** Filters were checked by the decoder (control-messages.ts). */
  private apply(c: InterestMessage): void {
    if (c.op === 'add') this.index.add(c.from, c.key);
    else this.index.remove(c.from, c.key);
  }

  /** Reloads every live node's snapshot (after (re)joining), then the changes that came meanwhile. */
  async load(): Promise<void> {
    const { ctx } = this;
    this.loadingInterest = [];
    try {
      const live = this.live();
      const nodes = [...live].filter((n) => n !== ctx.nodeId);
      const sets = await Promise.all(nodes.map((n) => ctx.redis.smembers(ctx.keys.interest(n))));
      for (const known of this.index.nodes()) if (known !== ctx.nodeId && !this.live().has(known)) this.index.dropNode(known);
      nodes.forEach((n, i) => this.index.replace(n, sets[i]!));
      this.index.replace(ctx.nodeId, this.local.keys());
    } finally {
      const queued = this.loadingInterest ?? [];
      this.loadingInterest = null;
      for (const c of queued) this.apply(c);
    }
  }

  /**
   * After the membership was read again: nodes that left the live set no longer hold up a
   * settling change, and a node Redis no longer lists at all (a Redis that restarted empty) loses
   * its interest once silent for three timeouts, so nothing is routed to it for ever. A node
   * merely late keeps its interest (and its links their sequence numbers).
   */
  refreshed(live: ReadonlySet<string>, listed: readonly string[], lastBeat: (node: string) => number | undefined, now: number): void {
    const { ctx } = this;
    for (const node of this.index.nodes()) {
      if (node === ctx.nodeId || live.has(node)) continue;
      const beat = lastBeat(node);
      if (beat === undefined || now - beat > 3 * ctx.options.nodeTimeoutMs) {
        if (!listed.includes(node)) this.index.dropNode(node);
      }
    }
    for (const [rid, st] of this.settling) {
      for (const n of st.waiting) if (!live.has(n)) st.waiting.delete(n);
      if (st.waiting.size === 0) this.settled(rid);
    }
  }

  /** `node` is gone: its interest, and waits for its acknowledgements. */
  forget(node: string): void {
    this.index.dropNode(node);
    for (const [rid, s] of this.settling) if (s.waiting.delete(node) && s.waiting.size === 0) this.settled(rid);
  }
}
