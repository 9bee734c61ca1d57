// A cluster member: the node's side of the Redis backplane, behind the broker's ClusterHooks. This
// file composes the parts and runs the member's life: joining (and rejoining after an outage), the
// heartbeat tick, stopping, and handing what arrives on the backplane to the part it is for.
//   membership.ts       heartbeats, the live set         reaper.ts          dead nodes: reaping, fencing
//   interest-sync.ts    announcing interest, settling    interest.ts        the index of every node's filters
//   forwarding.ts       which nodes a publish goes to    session-moves.ts   client ID ownership, session moves
//   links.ts            message frames to/from nodes     reliable-link.ts   the per-link QoS 1/2 protocol
//   presence.ts         presence records in Redis        rpc.ts             calls between nodes
//   control-messages.ts and frames.ts: the wire; keys.ts: Redis names; redis-scripts.ts: Lua scripts;
//   context.ts: state the parts share; connection-adapter.ts: the one view of a session's connection.
// A little over 500 lines: the lease (parking publishes past it, replaying or fencing after the
// next beat) lives here with the heartbeat tick it depends on.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { ClusterHooks } from '../broker/cluster-hooks.js';
import type { LifecycleListener } from '../broker/lifecycle.js';
import type { Message, Origin } from '../shared/message.js';
import type { Delivery } from '../broker/session.js';
import type { Counters } from '../metrics/counters.js';
import { decodeControlFrame, encodeControlFrame, type ControlMessage, type RpcArgs } from './control-messages.js';
import { decodeMessageFrame, FRAME_CONTROL, FRAME_RELIABLE, type ForwardedMessage } from './frames.js';
import { InterestSync } from './interest-sync.js';
import { Reaper } from './reaper.js';
import { SessionMoves } from './session-moves.js';
import { HEARTBEAT_MS, Membership } from './membership.js';
import { ClusterKeys } from './keys.js';
import { liveKey } from './interest.js';
import { connectionOf } from './connection-adapter.js';
import { presenceListener } from './presence.js';
import { Forwarder } from './forwarding.js';
import { connectPair, type RedisPair } from './redis-connections.js';
import { connectedAddress, describeTarget } from '../store/redis-target.js';
import type { ClusterRedis } from './redis-scripts.js';
import { NodeLinks, RETRANSMIT_CHECK_MS } from './links.js';
import { ClusterContext, type ClusterOptions } from './context.js';
import { Rpc, type RpcHandler } from './rpc.js';
import { deliverAdopted } from './adopted-deliveries.js';

const EMPTY: ReadonlySet<string> = new Set();
/** Publishes kept while the lease had run out past which QoS 0 ones are dropped. */
const PARKED_QOS0_LIMIT = 100_000;
/** How long a stopping node waits for its last deliveries' commit before it announces leaving. */
const STOP_COMMIT_WAIT_MS = 3000;
/**
 * Longest a node declared dead waits for the cleanup after it before rejoining anyway: the cleanup
 * lock's lifetime (a cleaning node that died hands over to another after it) and then some.
 */
const FENCE_WAIT_MS = 150_000;

export class Cluster implements ClusterHooks {
  readonly nodeId: string;
  private readonly keys: ClusterKeys;
  private readonly broker: Broker;
  private readonly counters: Counters;
  private readonly logger: Logger;
  private readonly options: ClusterOptions;
  private readonly ctx: ClusterContext;
  private readonly links: NodeLinks;
  private redis!: RedisPair;

  private readonly interest: InterestSync;
  private readonly membership: Membership;
  private readonly reaper: Reaper;
  private readonly moves: SessionMoves;
  private readonly forwarder: Forwarder;
  private rejoining = false;

  private readonly rpc: Rpc;

  /** Counters when the outage began, to say what it cost once it is over. */
  private atLoss = { dropped: 0, lost: 0, resent: 0, since: 0 };
  /** host:port of the Redis master last connected to: another one after an outage is a failover. */
  private master: string | null = null;
  /** When Redis last became reachable: no node is declared dead before a full timeout after it. */
  private connectedSince = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Frames from the backplane refused as malformed or unknown (logged each time). */
  framesRejected = 0;
  private stopped = false;
  /** Lifecycle events (the AWS $aws/events publisher), used for dead nodes' clients. */
  events: LifecycleListener | null = null;
  /** Publish acknowledgements held while this node's lease had run out (whenForwarded). */
  private leaseWaiters: Array<(delivered: boolean) => void> = [];
  /** Publishes made here while the lease had run out, in order, with what waits for each (park). */
  private parked: Array<{ message: Message; origin: Origin; waiter: ((delivered: boolean) => void) | null }> = [];
  /** The publish just parked, until whenForwarded takes its acknowledgement. */
  private lastParked: { message: Message; origin: Origin; waiter: ((delivered: boolean) => void) | null } | null = null;
  /** When this node learnt it was declared dead (performance.now()), until it rejoined; 0: not fenced. */
  private fencedSince = 0;
  /** The fencing step running now (ticks and rejoins may overlap). */
  private fencing: Promise<boolean> | null = null;

  private get cmd(): ClusterRedis {
    return this.ctx.redis;
  }
  private get connected(): boolean {
    return this.ctx.connected;
  }
  private set connected(value: boolean) {
    this.ctx.connected = value;
  }

  constructor(options: ClusterOptions) {
    this.options = options;
    // Unique per process, even with a configured name: a restarted process (or each of several
    // --workers) must never continue another's sequence numbers, ownerships or presence records.
    this.nodeId = `${options.nodeId ?? hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    if (Buffer.byteLength(this.nodeId) > 200 || /[\s]/.test(this.nodeId)) throw new Error('cluster.nodeId must be at most 200 bytes without spaces');
    this.keys = new ClusterKeys(options.keyPrefix);
    this.broker = options.broker;
    this.counters = options.counters;
    this.logger = options.logger.child({ node: this.nodeId });
    this.ctx = new ClusterContext(this.nodeId, this.keys, options, this.logger);
    this.links = new NodeLinks(this.ctx, (forwarded) => this.deliver(forwarded));
    this.membership = new Membership(this.ctx);
    this.interest = new InterestSync(this.ctx, () => this.membership.live);
    this.moves = new SessionMoves(this.ctx, {
      membership: this.membership,
      send: (message, nodes, groupsFor, target) => this.links.send(message, nodes, groupsFor, target),
      call: (node, op, args, timeoutMs) => this.call(node, op, args, timeoutMs),
      refreshLive: () => this.refreshLive(),
      interestSettled: () => this.interestSettled(),
    });
    this.forwarder = new Forwarder(this.ctx, this.interest, () => this.membership.live, this.links);
    this.presence = presenceListener(this.ctx, (clientId) => {
      const session = this.broker.sessions.get(clientId);
      return session === undefined ? null : (connectionOf(session)?.presence() ?? null);
    });
    this.reaper = new Reaper(this.ctx, { forgetNode: (node) => this.forgetNode(node), resetLinks: () => this.links.reset(), events: () => this.events });
    this.rpc = new Rpc(this.nodeId, (node, message) => this.ctx.control(node, message));
    this.handle('takeover', (args) => this.moves.onTakeover(String(args.clientId), args.cleanStart === true, typeof args.to === 'string' ? args.to : null));
  }

  // ---- start / stop ----------------------------------------------------------------------------

  async start(): Promise<void> {
    this.redis = await connectPair(this.options.redis, this.nodeId, this.options.connectTimeoutMs ?? 5000);
    this.master = connectedAddress(this.redis.command);
    this.ctx.redis = this.redis.command;
    // Past its lease this node's store writes wait (they could overwrite sessions adopted elsewhere).
    this.options.store.writeFence?.fenceWrites(() => this.ctx.leaseValid());
    const sub = this.redis.subscriber;
    sub.on('messageBuffer', (_channel: Buffer, frame: Buffer) => this.onFrame(frame));
    await sub.subscribe(this.keys.channel(this.nodeId), this.keys.all);
    this.cmd.on('ready', () => void this.onReady());
    // The subscriber connection can drop alone (Redis closes pub/sub clients whose output buffer
    // overflows): whatever was announced meanwhile was missed, so rejoin as after an outage.
    sub.on('ready', () => {
      this.logger.warn('the Redis subscriber connection was re-established; reloading the cluster state');
      void this.onReady();
    });
    this.cmd.on('close', () => this.onLost());
    await this.onReady();
    this.timers.push(setInterval(() => void this.tick(), HEARTBEAT_MS));
    this.timers.push(setInterval(() => this.links.retransmit(), RETRANSMIT_CHECK_MS));
    for (const t of this.timers) t.unref();
    this.logger.info({ redis: describeTarget(this.options.redis), master: this.master, nodes: this.membership.live.size }, 'joined the cluster');
  }

  /**
   * Leaves: the other nodes adopt this node's persistent sessions at once instead of after the
   * timeout. No acknowledged message may fall between this node and the adopter, which reads the
   * sessions from Redis once it hears 'left': from here on frames from other nodes are refused
   * (unacknowledged, their senders hand them to the adopter as for a dead node), and what was
   * delivered before is committed, and its acknowledgements sent, before 'left' is.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.moves.stop();
    this.links.leaving = true;
    await Promise.race([new Promise<void>((r) => this.broker.afterCommit(r)), new Promise((r) => setTimeout(r, STOP_COMMIT_WAIT_MS).unref())]);
    // The acknowledgements those commits released go out on the next turn (links.ts scheduleAck),
    // on this connection, so before 'left'.
    await new Promise((r) => setImmediate(r));
    try {
      if (this.connected) {
        await this.cmd
          .multi()
          .zadd(this.keys.nodes, 0, this.nodeId) // silent since the epoch: dead to everyone
          .del(this.keys.interest(this.nodeId), this.keys.conns(this.nodeId))
          .publish(this.keys.all, encodeControlFrame({ type: 'left', from: this.nodeId }))
          .exec();
      }
    } catch (err) {
      this.logger.warn({ err }, 'could not announce leaving the cluster');
    }
    this.rpc.rejectAll('node stopping');
    this.redis.subscriber.disconnect();
    this.cmd.disconnect();
  }

  private onLost(): void {
    if (!this.connected || this.stopped) return;
    this.connected = false;
    this.counters.clusterConnected = 0;
    this.atLoss = { dropped: this.counters.clusterFramesDropped, lost: this.counters.clusterFramesLost, resent: this.counters.clusterFramesResent, since: Date.now() };
    this.counters.clusterRedisOutages++;
    this.logger.warn('lost the Redis backplane: serving local clients only; QoS 0 to other nodes is dropped and QoS 1/2 held until it is back');
  }

  /** (Re)joined: write this node's state again (Redis may have restarted empty) and reload the others'. */
  private async onReady(): Promise<void> {
    if (this.stopped || this.rejoining) return;
    this.rejoining = true;
    try {
      // Interest changes made while this ran were not announced (not connected yet): go again.
      for (let i = 0; i < 5; i++) {
        const version = this.interest.version;
        await this.rejoin();
        if (this.interest.version === version || !this.connected) break;
      }
    } finally {
      this.rejoining = false;
    }
  }

  private async rejoin(): Promise<void> {
    try {
      const beat = await this.beat();
      // Still waiting for the cleanup after this node: not a member yet (the next tick asks again).
      if (beat === -1 && !(await this.fence())) return;
      const me = this.nodeId;
      const m = this.cmd.multi().del(this.keys.interest(me));
      const keys = this.interest.ownKeys();
      if (keys.length > 0) m.sadd(this.keys.interest(me), ...keys);
      m.del(this.keys.conns(me));
      for (const session of this.broker.sessions.values()) {
        const record = connectionOf(session)?.presence() ?? null;
        if (record !== null) m.hset(this.keys.conns(me), session.clientId, JSON.stringify(record));
      }
      m.publish(this.keys.all, encodeControlFrame({ type: 'resync', from: me }));
      await m.exec();
      await this.moves.reclaimOwners();
      await this.refreshLive();
      await this.interest.load();
      const wasDown = this.connectedSince !== 0;
      this.connected = true;
      this.connectedSince = Date.now();
      this.counters.clusterConnected = 1;
      const master = connectedAddress(this.redis.command);
      const failover = wasDown && master !== null && this.master !== null && master !== this.master;
      const previousMaster = this.master;
      if (master !== null) this.master = master;
      if (wasDown) {
        const downMs = this.atLoss.since === 0 ? 0 : Date.now() - this.atLoss.since;
        this.counters.clusterRedisOutageMs += downMs;
        if (failover) this.counters.clusterRedisFailovers++;
        this.logger.info(
          {
            // What the outage (or the failover to another master) cost this node.
            downMs,
            failover,
            ...(failover ? { fromMaster: previousMaster, toMaster: master } : {}),
            resentFrames: this.counters.clusterFramesResent - this.atLoss.resent,
            nodes: this.membership.live.size,
            // QoS 1/2 held for other nodes, sent again now; QoS 0 to other nodes that was dropped.
            heldFrames: this.links.heldFrames(),
            droppedQos0Frames: this.counters.clusterFramesDropped - this.atLoss.dropped,
            lostFrames: this.counters.clusterFramesLost - this.atLoss.lost,
          },
          failover ? 'the Redis backplane is back on a new master (failover); cluster routing resumed' : 'the Redis backplane is back; cluster routing resumed',
        );
      }
      this.links.retransmit(true);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'rejoining the cluster failed; retrying on the next heartbeat');
    }
  }

  // ---- heartbeat, membership, dead nodes -------------------------------------------------------

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (!this.connected) {
      if (this.cmd.status === 'ready') await this.onReady();
      return;
    }
    try {
      const beat = await this.beat();
      if (beat === -1) {
        await this.fence();
        return;
      }
      await this.refreshLive();
      // After an outage every node's heartbeat is stale for a moment; wait a full timeout first.
      if (Date.now() - this.connectedSince < this.options.nodeTimeoutMs) return;
      const silent = await this.membership.silent();
      for (const node of silent) if (node !== this.nodeId) await this.reaper.reap(node);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  /** One heartbeat; when Redis took it, the lease runs from when it was sent (context.ts). */
  private async beat(): Promise<number> {
    const sentAt = performance.now();
    const beat = await this.membership.beat();
    if (beat !== -1) {
      this.ctx.lastBeatAt = sentAt;
      this.options.store.writeFence?.resumeWrites();
      if (this.parked.length > 0) this.replayParked();
      const waiters = this.leaseWaiters;
      if (waiters.length > 0) {
        this.leaseWaiters = [];
        for (const w of waiters) w(true);
      }
    }
    return beat;
  }

  /** Still a member after all: what was published meanwhile is routed now, in order. */
  private replayParked(): void {
    const parked = this.parked;
    this.parked = [];
    this.logger.info({ publishes: parked.length }, 'the lease was renewed: routing what was published while it had run out');
    for (const p of parked) {
      this.lastParked = null;
      this.broker.publish(p.message, p.origin);
      const waiter = p.waiter;
      if (waiter === null) continue;
      // Its acknowledgement now waits for what this routing made durable, here and elsewhere.
      let parts = 2;
      let delivered = true;
      const part = (ok: boolean): void => {
        if (!ok) delivered = false;
        if (--parts === 0) waiter(delivered);
      };
      if (!this.whenForwarded(part)) parts--;
      this.broker.afterCommit(() => part(true));
    }
  }

  /**
   * Declared dead: what waited for the lease is dropped (fencing closes those connections
   * unacknowledged), then this node waits, refusing frames and clients, until the node that
   * declared it dead has adopted its sessions (reaper.ts fenced/rejoin). Returns whether the wait
   * is over; asked again on every heartbeat until it is.
   */
  private fence(): Promise<boolean> {
    this.fencing ??= this.fenceStep().finally(() => (this.fencing = null));
    return this.fencing;
  }

  private async fenceStep(): Promise<boolean> {
    if (this.fencedSince === 0) {
      this.fencedSince = performance.now();
      this.ctx.fenced = true;
      const dropped = this.leaseWaiters.length;
      const parked = this.parked.length;
      this.leaseWaiters = [];
      this.parked = [];
      this.lastParked = null;
      // Writes made before it knew: the sessions they were for belong to another node now.
      this.options.store.writeFence?.discardWrites();
      if (dropped > 0 || parked > 0 || this.links.fencedFrames > 0) {
        this.logger.warn(
          { acknowledgementsWithheld: dropped, publishesDropped: parked, framesRefused: this.links.fencedFrames },
          'woke up past the lease and was declared dead: withheld acknowledgements, dropped what was published meanwhile (unacknowledged) and refused frames',
        );
      }
      this.reaper.fenced();
    }
    const waited = performance.now() - this.fencedSince;
    if (!(await this.reaper.cleanedUp())) {
      if (waited < FENCE_WAIT_MS) return false;
      this.logger.warn({ waitedMs: Math.round(waited) }, 'the cleanup after this node did not finish in time; rejoining anyway');
    }
    await this.reaper.rejoin();
    // Published while waiting (a session's delayed will ending with it...): for sessions that are
    // another node's now, dropped like what was kept before.
    this.parked = [];
    this.leaseWaiters = [];
    this.lastParked = null;
    this.logger.info({ waitedMs: Math.round(waited) }, 'the cluster adopted this node\u2019s sessions; rejoining');
    this.fencedSince = 0;
    this.ctx.fenced = false;
    return true;
  }

  private async refreshLive(): Promise<void> {
    await this.membership.refresh((live, listed, now) => this.interest.refreshed(live, listed, (node) => this.membership.lastBeatOf(node), now));
  }

  /** What a node that is gone leaves behind here: its interest, links, and waits for its acks. */
  private forgetNode(node: string): void {
    this.interest.forget(node);
    this.links.forget(node);
    this.membership.forget(node);
  }

  // ---- publishing across nodes -----------------------------------------------------------------

  forward(message: Message): ReadonlySet<string> {
    this.links.beginPublish();
    return this.forwarder.forward(message);
  }

  park(message: Message, origin: Origin): boolean {
    if (this.ctx.leaseValid()) {
      this.lastParked = null;
      return false;
    }
    // Bounded: QoS 1/2 by each publisher's window of unacknowledged messages; QoS 0 by this cap
    // (past it, dropped: fire and forget).
    if (message.qos === 0 && this.parked.length >= PARKED_QOS0_LIMIT) {
      this.counters.clusterFramesDropped++;
      this.lastParked = null;
      return true;
    }
    const entry = { message, origin, waiter: null };
    this.parked.push(entry);
    this.lastParked = entry;
    return true;
  }

  whenForwarded(callback: (delivered: boolean) => void): boolean {
    const parked = this.lastParked;
    if (parked !== null) {
      // Acknowledged once it was routed after a renewed lease, and what that made is durable.
      this.lastParked = null;
      parked.waiter = callback;
      return true;
    }
    if (this.ctx.leaseValid()) return this.links.whenSafe(callback);
    // Past the lease this node may already be declared dead, its sessions adopted elsewhere: the
    // acknowledgement waits for a heartbeat that says otherwise (or is dropped by the fencing).
    let parts = 1;
    let delivered = true;
    const part = (ok: boolean): void => {
      if (!ok) delivered = false;
      if (--parts === 0) callback(delivered);
    };
    if (this.links.whenSafe(part)) parts++;
    this.leaseWaiters.push(part);
    return true;
  }

  private onFrame(frame: Buffer): void {
    if (frame.length === 0) return;
    try {
      if (frame[0] === FRAME_CONTROL) {
        this.onControl(decodeControlFrame(frame));
        return;
      }
      this.links.onMessage(decodeMessageFrame(frame));
    } catch (err) {
      // Anyone who can publish to Redis can write a frame: refused, counted and logged, never fatal.
      this.framesRejected++;
      const kind = frame[0] === FRAME_RELIABLE ? 'reliable' : frame[0] === FRAME_CONTROL ? 'control' : frame[0];
      this.logger.warn({ err: (err as Error).message, kind, rejectedSoFar: this.framesRejected }, 'dropped a malformed cluster frame');
    }
  }

  private deliver(forwarded: ForwardedMessage): void {
    if (forwarded.adoptedFrom !== undefined) {
      const dead = forwarded.adoptedFrom;
      const adopted = this.reaper.adoptedFrom(dead);
      if (adopted !== undefined) deliverAdopted(this.broker, adopted, forwarded.message, forwarded.groups);
      if (this.moves.tookFrom(dead)) this.moves.deliverTaken(dead, forwarded.message, forwarded.groups, adopted);
      else if (adopted === undefined) this.logger.warn({ deadNode: dead, from: forwarded.origin }, 'a message held for a dead node arrived here, but this node holds none of its sessions');
    } else if (forwarded.session !== undefined) this.moves.deliverToSession(forwarded.session, forwarded.message);
    else {
      this.forwarder.receiving(forwarded);
      this.broker.publish(forwarded.message, 'cluster', forwarded.groups.length === 0 ? EMPTY : new Set(forwarded.groups), forwarded.sharedOnly === true);
    }
  }

  // ---- control messages ------------------------------------------------------------------------

  private onControl(c: ControlMessage): void {
    switch (c.type) {
      case 'ack':
        this.links.onAck(c.from, c.seq);
        return;
      case 'skip':
        this.links.onSkip(c.from, c.seq);
        return;
      case 'interest':
        this.interest.onInterest(c);
        return;
      case 'interest-ack':
        this.interest.onInterestAck(c.from, c.requestId);
        return;
      case 'resync':
        if (c.from === this.nodeId) return;
        this.membership.markLive(c.from);
        this.interest.onResync(c.from);
        return;
      case 'left':
        if (c.from !== this.nodeId) void this.reaper.reap(c.from).catch((err) => this.logger.warn({ err: (err as Error).message }, 'cleaning up after a node that left failed'));
        return;
      case 'reaped':
        if (c.node !== this.nodeId) {
          this.membership.markDead(c.node);
          this.forgetNode(c.node);
          if (c.by !== undefined) this.links.adopted(c.node, c.by, c.takers ?? []);
        }
        return;
      case 'moved':
        this.moves.finishMove(c.clientId);
        return;
      case 'rpc':
        void this.rpc.onRequest(c);
        return;
      case 'rpc-reply':
        this.rpc.onReply(c);
        return;
    }
  }

  interestAdded(key: string): void {
    this.interest.added(key);
  }

  interestRemoved(key: string): void {
    this.interest.removed(key);
  }

  sharedGroupLive(group: string, filter: string, live: boolean): void {
    if (live) this.interest.added(liveKey(group, filter));
    else this.interest.removed(liveKey(group, filter));
  }

  passOn(message: Message, group: string, canKeep: boolean): boolean {
    return this.forwarder.passOn(message, group, canKeep);
  }

  interestSettled(): Promise<void> | null {
    return this.interest.settledPromise();
  }

  // ---- client IDs and sessions across nodes ----------------------------------------------------

  claim(clientId: string, cleanStart: boolean): Promise<void> {
    return this.moves.claim(clientId, cleanStart);
  }

  divert(clientId: string, delivery: Delivery): boolean {
    return this.moves.divert(clientId, delivery);
  }

  sessionOpened(clientId: string): void {
    this.moves.sessionOpened(clientId);
  }

  sessionEnded(clientId: string): void {
    this.moves.sessionEnded(clientId);
  }

  /** The live node other than this one holding the client ID, or null. */
  ownerOf(clientId: string): Promise<string | null> {
    return this.moves.ownerOf(clientId);
  }

  liveNodes(): string[] {
    return this.membership.liveNodes();
  }

  /** A lifecycle listener that keeps this node's presence records in Redis. */
  readonly presence: LifecycleListener;

  // ---- calls between nodes ---------------------------------------------------------------------

  handle(op: string, handler: RpcHandler): void {
    this.rpc.handle(op, handler);
  }

  call(node: string, op: string, args: RpcArgs, timeoutMs?: number): Promise<unknown> {
    return this.rpc.call(node, op, args, timeoutMs);
  }

  /** Asks every live node (this one included) and gathers the answers; a node that fails is left out. */
  async gather(op: string, args: RpcArgs): Promise<unknown[]> {
    const nodes = this.liveNodes();
    const answers = await Promise.allSettled(nodes.map((n) => (n === this.nodeId ? this.rpc.local(op, args) : this.rpc.call(n, op, args))));
    return answers.flatMap((a) => (a.status === 'fulfilled' && a.value !== undefined && a.value !== null ? [a.value] : []));
  }
}
