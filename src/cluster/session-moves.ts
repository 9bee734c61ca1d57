// A client ID lives on one node at a time, and a persistent session follows its client. The
// owners hash says which node holds each client ID. A CONNECT claims it: the holding node closes
// its connection (a takeover call) and, without clean start, hands the session over — keeping its
// subscriptions routed until the new node routes them, and diverting deliveries to it meanwhile
// (the "move"), so no message published during the move reaches neither node.
//
// One client ID, one connection, cluster-wide: the claim ends with a compare-and-set of the owner
// in Redis (sbTakeOwner). Of two CONNECTs racing on two nodes exactly one sets it; the other, as
// the later CONNECT on one node would, takes the client over from the winner — whose connection,
// once open, is closed with 0x8E (a takeover call that arrives while a claim is still running
// waits for it to finish, see onTakeover).
import type { Delivery } from '../broker/session.js';
import type { Message } from '../shared/message.js';
import { ProtocolError } from '../protocol/errors.js';
import { RC } from '../protocol/reason-codes.js';
import { connectionOf } from './connection-adapter.js';
import type { ClusterContext } from './context.js';
import type { RpcArgs } from './control-messages.js';
import type { SessionTarget } from './frames.js';
import { TAKEOVER_TIMEOUT_MS, type Membership } from './membership.js';
import { deliverAdopted } from './adopted-deliveries.js';

/** Longest a session's old node diverts deliveries to its new node before letting go anyway. */
const MOVE_TIMEOUT_MS = 10_000;
const ARRIVING_LIMIT = 10_000;
/** A claim that keeps losing the owner race gives up (the client retries) rather than looping. */
const CLAIM_ATTEMPTS = 4;
/** How long this node remembers the sessions it took from a silent node (reaper.ts keeps its adopted ones as long). */
const TAKEN_MEMORY_MS = 10 * 60_000;

export interface SessionMovesDeps {
  membership: Membership;
  /** Sends one delivery to one session on another node (links.ts). */
  send(message: Message, nodes: Set<string>, groupsFor: null, target: SessionTarget): void;
  call(node: string, op: string, args: RpcArgs, timeoutMs?: number): Promise<unknown>;
  refreshLive(): Promise<void>;
  interestSettled(): Promise<void> | null;
}

export class SessionMoves {
  /** Sessions this node is handing to another node (client ID -> that node), until it routes them. */
  private readonly moving = new Map<string, { to: string; timer: NodeJS.Timeout }>();
  /** Deliveries diverted here for sessions still being loaded, by client ID (bounded). */
  private readonly arriving = new Map<string, Delivery[]>();
  /** Claims running on this node, by client ID (a takeover call waits for them, see onTakeover). */
  private readonly claiming = new Map<string, Promise<void>>();
  /**
   * Persistent sessions this node took from a node that did not answer (it died and was not yet
   * cleaned up after), by that node, and when: the frames the others still held for it come here
   * too (links.ts adopted) and are delivered to these sessions (deliverTaken).
   */
  private readonly takenFrom = new Map<string, { clientIds: Set<string>; at: number }>();
  /** Such frames that arrived for a session still loading, by client ID (bounded). */
  private readonly adoptedArriving = new Map<string, Array<{ message: Message; groups: readonly string[] }>>();

  constructor(
    private readonly ctx: ClusterContext,
    private readonly deps: SessionMovesDeps,
  ) {}

  /** Stops handing sessions over (the node is stopping). */
  stop(): void {
    for (const entry of this.moving.values()) clearTimeout(entry.timer);
    this.moving.clear();
  }

  /**
   * Writes this node's ownership of its sessions again (Redis may have restarted empty) unless
   * another node took a client meanwhile: that node wins, and the session here is let go.
   */
  async reclaimOwners(): Promise<void> {
    const ids = [...this.ctx.broker.sessions.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const owners = await Promise.all(batch.map((id) => this.ctx.redis.sbClaimOwner(this.ctx.keys.owners, id, this.ctx.nodeId)));
      batch.forEach((id, j) => {
        if (owners[j] === this.ctx.nodeId) return;
        const session = this.ctx.broker.sessions.get(id);
        if (session === undefined) return;
        this.ctx.logger.warn({ clientId: id, owner: owners[j] }, 'another node took this client while Redis was unreachable; letting it go here');
        connectionOf(session)?.closeTakenOver();
        const current = this.ctx.broker.sessions.get(id);
        if (current !== undefined) this.ctx.broker.releaseSession(current);
      });
    }
  }

  async claim(clientId: string, cleanStart: boolean): Promise<void> {
    const running = this.claimInner(clientId, cleanStart);
    const settled = running.catch(() => {});
    this.claiming.set(clientId, settled);
    try {
      await running;
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      this.ctx.logger.warn({ clientId, err: (err as Error).message }, 'could not move the client ID to this node');
      throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'the cluster could not move this session here; try again');
    } finally {
      if (this.claiming.get(clientId) === settled) this.claiming.delete(clientId);
    }
  }

  /**
   * Redis answers a write before its replicas have it: a failover right after would forget this
   * claim and let another node claim the same client ID. With cluster.redis.waitForReplicas the
   * CONNECT is accepted only once that many replicas have it; otherwise it is refused (retryable).
   */
  private async replicateClaim(clientId: string): Promise<void> {
    const replicas = this.ctx.options.waitForReplicas ?? 0;
    if (replicas <= 0) return;
    let reached = 0;
    try {
      reached = Number(await this.ctx.redis.call('WAIT', replicas, this.ctx.options.waitTimeoutMs ?? 1000));
    } catch {
      reached = 0;
    }
    if (reached >= replicas) return;
    this.ctx.logger.warn({ clientId, replicas, reached }, 'a client-ID claim did not reach the Redis replicas in time: CONNECT refused');
    throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'the cluster could not make this connection durable; try again');
  }

  private async claimInner(clientId: string, cleanStart: boolean): Promise<void> {
    // Declared dead and not yet rejoined: its sessions are being adopted elsewhere.
    if (this.ctx.fenced) throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'this node is rejoining the cluster; try again');
    if (!this.ctx.connected) {
      // A persistent session may live in Redis or on another node: refuse rather than fork it.
      if (!cleanStart) throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'the cluster backplane is unreachable; try again');
      return;
    }
    let owner: string | null = null;
    let elsewhere = false;
    for (let attempt = 1; ; attempt++) {
      try {
        owner = await this.ctx.redis.hget(this.ctx.keys.owners, clientId);
      } catch {
        if (!cleanStart) throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'the cluster backplane is unreachable; try again');
        return;
      }
      elsewhere = owner !== null && owner !== this.ctx.nodeId;
      // Asked unless known gone: a live node whose last beat merely looks old here (a loaded
      // machine, a refresh not yet made) may still hold a connection, and skipping it would leave
      // the client connected twice. A node that does not answer in time is handled below.
      let answered = false;
      if (elsewhere && (this.deps.membership.answers(owner!) || this.deps.membership.live.has(owner!))) {
        try {
          await this.deps.call(owner!, 'takeover', { clientId, cleanStart, to: this.ctx.nodeId }, TAKEOVER_TIMEOUT_MS);
          answered = true;
        } catch (err) {
          // Silent since: it died (its clients come here before it is declared dead) — go on.
          // Still beating: taking the client anyway could leave it connected on two nodes.
          await this.deps.refreshLive().catch(() => {});
          if (this.deps.membership.answers(owner!)) {
            this.ctx.logger.warn({ clientId, owner, err: (err as Error).message }, 'the node holding this client ID did not release it');
            throw new ProtocolError('cluster-unavailable', RC.serverUnavailable, 'the node holding this client ID did not answer; try again');
          }
        }
      }
      // Atomic: of two nodes that read the same owner, one sets it; the other goes round again and
      // takes the client over from the winner.
      // From an owner that did not answer (dead, not yet cleaned up after) the session comes with
      // a record of where it went: what that node had not acknowledged for it comes here too.
      const fromSilent = elsewhere && !answered && !cleanStart;
      const now = fromSilent
        ? await this.ctx.redis.sbTakeFromSilent(this.ctx.keys.owners, this.ctx.keys.taken(owner!), clientId, this.ctx.nodeId, owner!)
        : await this.ctx.redis.sbTakeOwner(this.ctx.keys.owners, clientId, this.ctx.nodeId, owner ?? '');
      if (now === this.ctx.nodeId) {
        if (fromSilent) this.rememberTaken(owner!, clientId);
        await this.replicateClaim(clientId);
        break;
      }
      if (attempt >= CLAIM_ATTEMPTS) {
        this.ctx.logger.warn({ clientId, owner: now }, 'another node kept claiming this client ID at the same time');
        throw new ProtocolError('cluster-busy', RC.serverBusy, 'this client ID is being claimed on another node at the same time; try again');
      }
      this.ctx.counters.clusterClaimRaces++;
    }
    if (this.ctx.broker.sessions.has(clientId)) return;
    if (cleanStart) {
      // The old session ends: nothing of it may show through the new one.
      if (elsewhere) this.ctx.store.sessions.deleteSession(clientId);
      return;
    }
    // Also without an owner: a session whose owner record was lost still resumes.
    let stored;
    try {
      stored = await this.ctx.store.sessions.loadSession(clientId);
      if (stored !== undefined && !this.ctx.broker.sessions.has(clientId)) {
        this.ctx.broker.restoreSessions([{ ...stored, disconnectedAt: stored.disconnectedAt ?? Date.now() }], Date.now());
      }
      // What the old node diverted while this one was loading the session.
      const early = this.arriving.get(clientId);
      const session = this.ctx.broker.sessions.get(clientId);
      if (early !== undefined && session !== undefined) for (const d of early) this.ctx.broker.deliver(session, d, null);
      // What the node it was taken from had not acknowledged, and arrived while it loaded.
      const held = this.adoptedArriving.get(clientId);
      if (held !== undefined && session !== undefined) for (const h of held) deliverAdopted(this.ctx.broker, new Set([clientId]), h.message, h.groups);
    } finally {
      this.arriving.delete(clientId);
      this.adoptedArriving.delete(clientId);
    }
    if (elsewhere) {
      // Every node routes the session's filters here before the old node lets go of them, so no
      // message published during the move reaches neither node.
      await this.deps.interestSettled();
      this.ctx.control(owner!, { type: 'moved', from: this.ctx.nodeId, clientId });
    }
  }

  private rememberTaken(node: string, clientId: string): void {
    const now = Date.now();
    for (const [dead, entry] of this.takenFrom) if (now - entry.at > TAKEN_MEMORY_MS) this.takenFrom.delete(dead);
    let entry = this.takenFrom.get(node);
    if (entry === undefined) this.takenFrom.set(node, (entry = { clientIds: new Set(), at: now }));
    entry.clientIds.add(clientId);
  }

  /** Whether this node took sessions from the dead `node` (see takenFrom). */
  tookFrom(node: string): boolean {
    return this.takenFrom.has(node);
  }

  /**
   * A message the dead `node` had not acknowledged: delivered to the sessions this node took from
   * it as the dead node would have (adopted-deliveries.ts), except those in `skip` (adopted here
   * too); held for one still loading.
   */
  deliverTaken(node: string, message: Message, groups: readonly string[], skip: ReadonlySet<string> | undefined): void {
    const entry = this.takenFrom.get(node);
    if (entry === undefined) return;
    const loaded = new Set<string>();
    for (const clientId of entry.clientIds) {
      if (skip?.has(clientId) === true) continue;
      if (this.ctx.broker.sessions.has(clientId)) loaded.add(clientId);
      else if (this.claiming.has(clientId)) {
        const held = this.adoptedArriving.get(clientId);
        if (held === undefined) this.adoptedArriving.set(clientId, [{ message, groups }]);
        else if (held.length < ARRIVING_LIMIT) held.push({ message, groups });
        else this.ctx.counters.queueDropped++;
      }
    }
    if (loaded.size > 0) deliverAdopted(this.ctx.broker, loaded, message, groups);
  }

  async onTakeover(clientId: string, cleanStart: boolean, to: string | null): Promise<{ released: boolean }> {
    const claim = this.claiming.get(clientId);
    if (claim !== undefined) {
      // A CONNECT for this client ID is being claimed here and won the owner (the caller read us
      // as owner): let it open its session first (synchronously after the claim resolves, hence
      // the extra turn), then take it over as on one node.
      await claim;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const session = this.ctx.broker.sessions.get(clientId);
    if (session !== undefined) {
      connectionOf(session)?.closeTakenOver();
      const current = this.ctx.broker.sessions.get(clientId);
      if (current !== undefined) {
        if (cleanStart || !current.persistent) this.ctx.broker.endSession(current);
        else if (to !== null && !this.moving.has(clientId)) {
          // Keep its subscriptions routed here until the new node routes them; deliveries follow it.
          this.ctx.broker.holdForMove(current);
          this.moving.set(clientId, { to, timer: setTimeout(() => this.finishMove(clientId), MOVE_TIMEOUT_MS) });
        } else this.ctx.broker.releaseSession(current);
      }
    }
    // The other node reads the session next: everything recorded so far must be in Redis.
    await new Promise<void>((resolve) => this.ctx.store.afterCommit(resolve));
    return { released: session !== undefined };
  }

  /** The new node routes the moved session's filters itself (or took too long): let go here. */
  finishMove(clientId: string): void {
    const entry = this.moving.get(clientId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.moving.delete(clientId);
    const session = this.ctx.broker.sessions.get(clientId);
    if (session !== undefined && session.client === null) this.ctx.broker.releaseSession(session);
  }

  divert(clientId: string, delivery: Delivery): boolean {
    const entry = this.moving.get(clientId);
    if (entry === undefined) return false;
    this.deps.send(delivery.message, new Set([entry.to]), null, { clientId, qos: delivery.qos, retain: delivery.retain, subscriptionIds: delivery.subscriptionIds });
    return true;
  }

  /** A delivery another node diverted to a session that moved here. */
  deliverToSession(target: SessionTarget, message: Message): void {
    const delivery: Delivery = { message, qos: target.qos, retain: target.retain, subscriptionIds: target.subscriptionIds };
    const session = this.ctx.broker.sessions.get(target.clientId);
    if (session !== undefined) {
      this.ctx.broker.deliver(session, delivery, null);
      return;
    }
    // Still loading it (claim is between its takeover call and restoring the session).
    const early = this.arriving.get(target.clientId);
    if (early === undefined) {
      this.arriving.set(target.clientId, [delivery]);
      setTimeout(() => this.arriving.delete(target.clientId), MOVE_TIMEOUT_MS).unref();
    } else if (early.length < ARRIVING_LIMIT) early.push(delivery);
    else this.ctx.counters.queueDropped++;
  }

  sessionOpened(clientId: string): void {
    if (this.ctx.connected) this.ctx.redis.hset(this.ctx.keys.owners, clientId, this.ctx.nodeId).catch(() => {});
  }

  sessionEnded(clientId: string): void {
    if (this.ctx.connected) {
      void this.ctx.redis.sbReleaseOwner(this.ctx.keys.owners, clientId, this.ctx.nodeId).catch(() => {});
    }
  }

  /** The live node other than this one holding the client ID, or null. */
  async ownerOf(clientId: string): Promise<string | null> {
    if (!this.ctx.connected) return null;
    const owner = await this.ctx.redis.hget(this.ctx.keys.owners, clientId).catch(() => null);
    return owner !== null && owner !== this.ctx.nodeId && this.deps.membership.live.has(owner) ? owner : null;
  }
}
