// Which nodes are in the cluster: each node beats every second into a sorted set on the Redis clock
// (so nodes on different machines agree on "silent for 10 s"); a node read as beating within the
// timeout is live. A node declared dead learns it from its next beat (answer -1, see reaper.ts).
import type { ClusterContext } from './context.js';

export const HEARTBEAT_MS = 1000;
/** A node that beat within this long answers a takeover; one silent longer is treated as gone. */
export const TAKEOVER_TIMEOUT_MS = 3000;

export class Membership {
  /** Node ids with a recent heartbeat (refreshed every second), this one included. */
  private liveSet = new Set<string>();
  /** Last heartbeat of each node (Redis clock, ms) and Redis's time when it was read. */
  private readonly lastBeat = new Map<string, number>();
  private redisNow = 0;

  constructor(private readonly ctx: ClusterContext) {}

  get live(): ReadonlySet<string> {
    return this.liveSet;
  }

  /** Sorted, this node included. */
  liveNodes(): string[] {
    return [...this.liveSet].sort();
  }

  /** Records this node's beat; -1 once the cluster declared it dead. */
  beat(): Promise<number> {
    const { ctx } = this;
    return ctx.redis.sbHeartbeat(ctx.keys.nodes, ctx.keys.reaped(ctx.nodeId), ctx.nodeId);
  }

  /** The nodes (this one possibly included) silent for longer than the timeout. */
  silent(): Promise<string[]> {
    return this.ctx.redis.sbSilent(this.ctx.keys.nodes, this.ctx.options.nodeTimeoutMs);
  }

  /**
   * Reads every node's last beat and Redis's time, and replaces the live set. Just before, in the
   * same turn, `prune` gets the new live set, the raw listing (ids and scores) and Redis's time, so
   * the parts holding state about other nodes update together with it.
   */
  async refresh(prune: (live: ReadonlySet<string>, listed: readonly string[], now: number) => void): Promise<void> {
    const { ctx } = this;
    const [entries, time] = await Promise.all([ctx.redis.zrange(ctx.keys.nodes, '0', '-1', 'WITHSCORES'), ctx.redis.time()]);
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    this.redisNow = now;
    const live = new Set<string>([ctx.nodeId]);
    for (let i = 0; i < entries.length; i += 2) {
      const beat = Number(entries[i + 1]);
      this.lastBeat.set(entries[i]!, beat);
      if (now - beat <= ctx.options.nodeTimeoutMs) live.add(entries[i]!);
    }
    prune(live, entries, now);
    this.liveSet = live;
  }

  lastBeatOf(node: string): number | undefined {
    return this.lastBeat.get(node);
  }

  /** Whether `node` beat recently enough to answer a call (a dead node's calls would only time out). */
  answers(node: string): boolean {
    const beat = this.lastBeat.get(node);
    return this.liveSet.has(node) && beat !== undefined && this.redisNow - beat < Math.min(TAKEOVER_TIMEOUT_MS, this.ctx.options.nodeTimeoutMs);
  }

  /** `node` announced itself (it rejoined): live until the next refresh says otherwise. */
  markLive(node: string): void {
    this.liveSet.add(node);
  }

  /** `node` was declared dead. */
  markDead(node: string): void {
    this.liveSet.delete(node);
  }

  forget(node: string): void {
    this.lastBeat.delete(node);
  }
}
