// Dead nodes, from both sides. The reaper cleans up after a node that stopped beating (or left),
// once across the cluster (a lock): publishes its clients' wills and disconnected events
// (CONNECTION_LOST) and adopts its persistent sessions so their subscriptions keep queueing until
// the clients come back. Fencing is the other side: a node that learns it was declared dead while
// cut off closes its connections and starts over, so no client is served by two nodes.
import type { LifecycleListener } from '../broker/lifecycle.js';
import { connectionOf } from './connection-adapter.js';
import type { ClusterContext } from './context.js';
import { encodeControlFrame } from './control-messages.js';
import { parsePresenceRecord, willOf, type PresenceRecord } from './presence.js';

/** The cleanup lock's lifetime; renewed every third of it while the cleanup runs. */
const REAP_LOCK_MS = 60_000;
/** How long this node remembers which sessions it adopted from a dead node (frames held for it arrive meanwhile). */
const ADOPTED_MEMORY_MS = 10 * 60_000;
/**
 * The value of `{p}reaped:{node}` once the cleanup after `node` is finished (followed by the
 * cleaning node's id); while it runs the key holds the cleaning node's id alone (sbMarkDead).
 */
const CLEANED_UP = 'cleaned-up-by ';

export interface ReaperHooks {
  /** Drops what this node holds about `node` (interest, links, heartbeat). */
  forgetNode(node: string): void;
  /** Starts every link with the other nodes over (they forgot them when they declared us dead). */
  resetLinks(): void;
  /** Lifecycle events (the AWS $aws/events publisher), or null. */
  events(): LifecycleListener | null;
}

export class Reaper {
  /** Client IDs of the persistent sessions adopted from each dead node, and when. */
  private readonly adopted = new Map<string, { clientIds: Set<string>; at: number }>();

  constructor(
    private readonly ctx: ClusterContext,
    private readonly hooks: ReaperHooks,
  ) {}

  /** The sessions this node adopted from the dead `node` (undefined: it adopted none). */
  adoptedFrom(node: string): ReadonlySet<string> | undefined {
    return this.adopted.get(node)?.clientIds;
  }

  /** Cleans up after `node` unless another node holds the lock for it. */
  async reap(node: string): Promise<void> {
    const { ctx } = this;
    const lockKey = ctx.keys.reapLock(node);
    const locked = await ctx.redis.set(lockKey, ctx.nodeId, 'PX', REAP_LOCK_MS, 'NX');
    if (locked !== 'OK') return;
    // Renewed while the work lasts (a dead node with many sessions), so no other node starts it too.
    const renew = setInterval(() => void ctx.redis.pexpire(lockKey, REAP_LOCK_MS).catch(() => {}), REAP_LOCK_MS / 3);
    renew.unref();
    try {
      // Declared dead first, atomically with its heartbeat: from here on it cannot renew its lease
      // (context.ts), so it never acts on the sessions adopted below. It beat meanwhile: alive.
      if ((await ctx.redis.sbMarkDead(ctx.keys.nodes, ctx.keys.reaped(node), node, ctx.options.nodeTimeoutMs, ctx.nodeId)) !== 1) {
        ctx.logger.info({ node }, 'a node thought silent beat again; not cleaning up after it');
        await ctx.redis.del(lockKey);
        return;
      }
      await this.reapLocked(node);
    } finally {
      clearInterval(renew);
    }
  }

  private async reapLocked(node: string): Promise<void> {
    const { ctx } = this;
    const { broker, keys } = ctx;
    ctx.logger.warn({ deadNode: node }, 'a cluster node stopped answering; publishing its clients\u2019 wills and adopting its sessions');
    const now = Date.now();
    const conns = await ctx.redis.hgetall(keys.conns(node));
    const records: PresenceRecord[] = [];
    for (const json of Object.values(conns)) {
      // A damaged record has nothing to publish.
      const record = parsePresenceRecord(json);
      if (record !== null) records.push(record);
    }
    // Sessions first, so a will's delay can be tied to its session as on a single node.
    for (const [dead, entry] of this.adopted) if (now - entry.at > ADOPTED_MEMORY_MS) this.adopted.delete(dead);
    const clientIds = new Set<string>();
    this.adopted.set(node, { clientIds, at: now });
    let adopted = 0;
    let cursor = '0';
    do {
      const [next, fields] = await ctx.redis.hscan(keys.owners, cursor, 'COUNT', '500');
      cursor = next;
      for (let i = 0; i < fields.length; i += 2) {
        const clientId = fields[i]!;
        if (fields[i + 1] !== node) continue;
        if (broker.sessions.has(clientId)) {
          clientIds.add(clientId);
          continue;
        }
        // Atomic with a CONNECT claiming it elsewhere right now: either that claim took it first
        // (and recorded it in the taken hash, read below) or it finds it here.
        if ((await ctx.redis.sbTakeOwner(keys.owners, clientId, ctx.nodeId, node)) !== ctx.nodeId) continue;
        const stored = await ctx.store.sessions.loadSession(clientId);
        if (stored === undefined) {
          await ctx.redis.sbReleaseOwner(keys.owners, clientId, ctx.nodeId);
          continue;
        }
        broker.restoreSessions([{ ...stored, disconnectedAt: stored.disconnectedAt ?? now }], now);
        clientIds.add(clientId);
        adopted++;
      }
    } while (cursor !== '0');
    // Only now, with the sessions routed here: until then what this node publishes for them still
    // goes to the dead node's link, is held there, and comes back as adopted frames (links.ts)
    // instead of reaching nobody. (The others forget it on 'reaped', after our interest.)
    this.hooks.forgetNode(node);
    // Sessions of the dead node that reconnecting clients took to other nodes before this cleanup
    // (session-moves.ts): what the dead node had not acknowledged goes to those nodes as well.
    const takers = [...new Set(Object.values(await ctx.redis.hgetall(keys.taken(node))))].filter((n) => n !== ctx.nodeId && n !== node);
    const ownersNow = records.length === 0 ? [] : await ctx.redis.hmget(keys.owners, ...records.map((r) => r.info.clientId));
    for (const [i, record] of records.entries()) {
      const session = broker.sessions.get(record.info.clientId);
      // A client that already came back on another node: a delayed will was cancelled by its
      // return [MQTT-3.1.3-9], and a disconnected event now would follow its new connected one.
      const cameBack = ownersNow[i] !== node && ownersNow[i] !== ctx.nodeId && ownersNow[i] !== null;
      const returnedHere = session?.client != null;
      if (cameBack || returnedHere) {
        if (record.will !== null && record.will.delaySeconds === 0) broker.publishWill(willOf(record.info.clientId, record.will));
        continue;
      }
      if (record.will !== null) broker.scheduleWill(willOf(record.info.clientId, record.will), session);
      this.hooks.events()?.disconnected(record.info, 'CONNECTION_LOST', false);
    }
    await ctx.redis
      .multi()
      .del(keys.conns(node), keys.interest(node))
      .zrem(keys.nodes, node)
      // The dead node, if it wakes up, keeps its interest announced until it reads this (fenced()).
      .set(keys.reaped(node), CLEANED_UP + ctx.nodeId, 'EX', 3600)
      // Kept apart from `reaped`, which the dead node deletes if it wakes up: the others may still
      // need to know where to send what they held for it (links.ts).
      .set(keys.adoptedBy(node), [ctx.nodeId, ...takers].join(' '), 'EX', 3600)
      .publish(keys.all, encodeControlFrame({ type: 'reaped', node, by: ctx.nodeId, ...(takers.length > 0 ? { takers } : {}) }))
      .exec();
    ctx.logger.info({ deadNode: node, connections: records.length, sessionsAdopted: adopted, takenElsewhereBy: takers }, 'cleaned up after a dead node');
  }

  /**
   * This node was declared dead (it was cut off longer than the timeout) and its sessions are
   * being adopted elsewhere: close every connection (they reconnect and find their sessions) and
   * start every link over. Its sessions stay here, routed, until the cleanup after it is finished
   * (rejoin): withdrawing their filters before the adopting node has announced its own would leave
   * the others routing those sessions' messages to nobody, and acknowledging them (issue 19).
   * Frames sent here meanwhile are refused (the lease is invalid) and held by their senders, which
   * pass them to the adopting node.
   */
  fenced(): void {
    const { ctx } = this;
    const { broker } = ctx;
    ctx.logger.error('this node was declared dead by the cluster while cut off; closing its connections and rejoining');
    // A copy: closing a clean session's connection ends (removes) the session.
    for (const session of [...broker.sessions.values()]) {
      // The node that declared us dead already published these wills and disconnected events.
      connectionOf(session)?.closeFenced();
    }
    // The others forgot every link with us: start them over on both sides.
    this.hooks.resetLinks();
  }

  /** Whether the node that declared this one dead has finished adopting its sessions. */
  async cleanedUp(): Promise<boolean> {
    const value = await this.ctx.redis.get(this.ctx.keys.reaped(this.ctx.nodeId));
    return value === null || value.startsWith(CLEANED_UP);
  }

  /**
   * After fenced() and the cleanup: lets go of every session (another node holds them now), drops
   * every store write made since (for sessions adopted elsewhere), and may beat again.
   */
  async rejoin(): Promise<void> {
    const { ctx } = this;
    const { broker } = ctx;
    for (const session of [...broker.sessions.values()]) {
      connectionOf(session)?.closeFenced();
      if (broker.sessions.get(session.clientId) === session) broker.releaseSession(session);
    }
    ctx.store.writeFence?.discardWrites();
    await ctx.redis.del(ctx.keys.reaped(ctx.nodeId));
  }
}
