// Carries messages to and from the other nodes over Redis pub/sub: QoS 0 as best-effort frames,
// QoS 1/2 over one reliable link per node pair (numbered, held until acknowledged, sent again when
// late, skipped past when the outbox overflowed; the protocol is described in reliable-link.ts).
// A received reliable frame is acknowledged only once what its delivery stored is durable.
//
// A publish's acknowledgement to its client waits for its reliable frames (whenSafe): a PUBACK
// means every node the message went to has it durably, so the death of any one node loses
// nothing acknowledged. When a node dies with frames still unacknowledged, they are not lost:
// they wait ("orphans") until the node that adopted its persistent sessions is known (the
// 'reaped' message, or the {p}adopted:{node} key), and go to that node marked `adoptedFrom`, which
// delivers them to those sessions only (cluster.ts), and to each node that took some of those
// sessions before the cleanup (a client reconnecting there, session-moves.ts takenFrom), which
// delivers them to those; every copy's acknowledgement is needed to release the publishes.
// A dead node may have stored some of them before dying: those sessions get them twice (QoS 1 is
// at least once; docs/cluster.md gives the QoS 2 window).
import type { Message } from '../shared/message.js';
import type { ClusterContext } from './context.js';
import { decodeMessageFrame, encodeMessageFrame, type ForwardedMessage, type GroupVia, type SessionTarget } from './frames.js';
import { InboundLink, OutboundLink, settleFrame, Ticket, type PendingFrame } from './reliable-link.js';

export const RETRANSMIT_CHECK_MS = 500;
const RETRANSMIT_AFTER_MS = 1000;
const RETRANSMIT_BATCH = 2000;
/** How long frames held for a dead node wait for the node adopting its sessions before they are given up. */
const ORPHAN_WAIT_MS = 60_000;
/** Orphans older than this look their adopter up in Redis (the 'reaped' message may have been missed). */
const ORPHAN_LOOKUP_AFTER_MS = 1000;

interface Orphans {
  frames: PendingFrame[];
  since: number;
  lookingUp: boolean;
}

export class NodeLinks {
  private readonly outbound = new Map<string, OutboundLink>();
  private readonly inbound = new Map<string, InboundLink>();
  private readonly ackDue = new Set<string>();
  private ackScheduled = false;
  /** Reliable frames the publish being routed has sent so far (taken by whenSafe). */
  private readonly recent: PendingFrame[] = [];
  /** Unacknowledged frames held for dead nodes, by node, until their adopter is known. */
  private readonly orphans = new Map<string, Orphans>();
  /** Frames refused because this node's lease had run out (it may have been declared dead). */
  fencedFrames = 0;
  /**
   * Set when this node starts leaving the cluster (cluster.ts stop()): frames are then neither
   * delivered nor acknowledged; their senders hold them and, once another node adopted this one's
   * sessions, send them there (forget/adopted below), as for a node that died.
   */
  leaving = false;

  /** `deliver` hands a received message to this node (a publish to route, or one session's delivery). */
  constructor(
    private readonly ctx: ClusterContext,
    private readonly deliver: (forwarded: ForwardedMessage) => void,
  ) {}

  /**
   * Sends `message` to `nodes`; `groupsFor` names the shared groups each node delivers it to, and
   * `target` makes it one delivery to one session (a session moving between nodes).
   */
  send(message: Message, nodes: Set<string>, groupsFor: Map<string, string[]> | null, target: SessionTarget | null = null, viaFor: Map<string, GroupVia[]> | null = null, sharedOnly = false): void {
    const { ctx } = this;
    const now = Date.now();
    let shared: Buffer | null = null;
    // A diverted delivery is reliable when the delivery is, whatever the message's own QoS.
    const qos = target !== null ? target.qos : message.qos;
    for (const node of nodes) {
      const groups = groupsFor?.get(node) ?? [];
      const via = viaFor?.get(node) ?? null;
      if (qos === 0) {
        if (!ctx.connected) {
          ctx.counters.clusterFramesDropped++;
          continue;
        }
        const frame =
          groups.length === 0 && target === null ? (shared ??= encodeMessageFrame(ctx.nodeId, 0, message, groups)) : encodeMessageFrame(ctx.nodeId, 0, message, groups, target, null, via, sharedOnly);
        this.publishFrame(node, frame, false);
        continue;
      }
      const pending = this.holdReliable(node, (seq) => encodeMessageFrame(ctx.nodeId, seq, message, groups, target, null, via, sharedOnly), now, null);
      this.recent.push(pending);
    }
  }

  /** Numbers, holds and (when connected) sends one reliable frame to `node`. */
  private holdReliable(node: string, encode: (seq: number) => Buffer, now: number, waiters: Ticket[] | null): PendingFrame {
    const { ctx } = this;
    let link = this.outbound.get(node);
    if (link === undefined) this.outbound.set(node, (link = new OutboundLink(ctx.options.outboxLimit, ctx.options.outboxBytes)));
    const seq = link.take();
    const pending: PendingFrame = { seq, frame: encode(seq), sentAt: now, waiters, settled: false };
    const firstLoss = link.gap === 0;
    const toBytes = link.lostToBytes;
    const dropped = link.holdFrame(pending);
    if (dropped > 0) {
      ctx.counters.clusterFramesLost += dropped;
      ctx.counters.clusterOutboxBytesDropped += link.lostToBytes - toBytes;
      if (firstLoss) {
        ctx.logger.warn(
          { node, outboxLimit: ctx.options.outboxLimit, outboxBytes: ctx.options.outboxBytes, heldBytes: link.heldBytes, lostUpTo: link.gap },
          'outbox to another node is full: giving up its oldest QoS 1/2 messages (lost, counted in switchboard_cluster_frames_lost_total); the link resumes from the oldest one kept',
        );
      }
    }
    if (ctx.connected) this.publishFrame(node, pending.frame, true);
    return pending;
  }


  /** A publish is about to be routed: what whenSafe waits for starts empty. */
  beginPublish(): void {
    this.recent.length = 0;
  }

  /**
   * Runs `callback` once every reliable frame sent since beginPublish is settled (acknowledged
   * after the receiver's commit, or given up by a full outbox). Returns false, without taking the
   * callback, when there is none to wait for. Never calls back synchronously.
   */
  whenSafe(callback: (delivered: boolean) => void): boolean {
    const recent = this.recent;
    let ticket: Ticket | null = null;
    for (let i = 0; i < recent.length; i++) {
      const frame = recent[i]!;
      if (frame.settled) continue;
      ticket ??= new Ticket(callback);
      ticket.remaining++;
      (frame.waiters ??= []).push(ticket);
    }
    recent.length = 0;
    return ticket !== null;
  }

  private publishFrame(node: string, frame: Buffer, reliable: boolean): void {
    this.ctx.counters.clusterFramesSent++;
    this.ctx.redis.publish(this.ctx.keys.channel(node), frame).catch(() => {
      // Reliable frames stay held and go again; best-effort ones are gone.
      if (!reliable) this.ctx.counters.clusterFramesDropped++;
    });
  }

  /** Sends again what waited too long for its acknowledgement (with `now_`, everything held). */
  retransmit(now_ = false): void {
    if (!this.ctx.connected) return;
    const now = Date.now();
    if (this.orphans.size > 0) this.checkOrphans(now);
    if (this.outbound.size === 0) return;
    for (const [node, link] of this.outbound) {
      // Frames given up by a full outbox: the receiver would wait for them forever; tell it to go
      // on after them (repeated each round until acknowledged; sent before the frames it precedes).
      if (link.gap > 0) this.ctx.control(node, { type: 'skip', from: this.ctx.nodeId, seq: link.gap });
      const frames = link.due(now, now_ ? 0 : RETRANSMIT_AFTER_MS, RETRANSMIT_BATCH);
      for (const f of frames) {
        this.ctx.counters.clusterFramesResent++;
        this.publishFrame(node, f.frame, true);
      }
    }
  }

  /** A decoded message frame: best effort is delivered at once, reliable in order and once. */
  onMessage(forwarded: ForwardedMessage): void {
    // Past its lease this node may have been declared dead and its sessions adopted elsewhere:
    // neither deliver nor acknowledge (the sender sends again, or to the adopter) until a
    // heartbeat says it is still a member (cluster.ts fences it otherwise).
    if (!this.ctx.leaseValid()) {
      this.fencedFrames++;
      return;
    }
    if (this.leaving) return;
    if (forwarded.seq === 0) {
      this.deliver(forwarded);
      return;
    }
    const origin = forwarded.origin;
    let link = this.inbound.get(origin);
    if (link === undefined) this.inbound.set(origin, (link = new InboundLink()));
    const arrival = link.accept(forwarded.seq);
    if (arrival === 'deliver') {
      this.beginPublish();
      this.deliver(forwarded);
      const l = link;
      const held = l.hold(forwarded.seq);
      // Acknowledged once what the delivery stored (an offline session's queue) is durable, and
      // what it passed on to other nodes (a shared group's message, forwarding.ts) is durable there.
      let parts = 1;
      const part = (): void => {
        if (--parts > 0) return;
        l.release(held);
        this.scheduleAck(origin);
      };
      if (this.whenSafe(part)) parts++;
      this.ctx.broker.afterCommit(part);
    } else {
      this.scheduleAck(origin);
    }
  }

  /** `from` acknowledged every reliable frame up to `seq`. */
  onAck(from: string, seq: number): void {
    const link = this.outbound.get(from);
    if (link === undefined) return;
    const closed = link.ack(seq);
    if (closed > 0) this.ctx.logger.info({ node: from, lost: closed }, 'link to another node resumed after its outbox overflowed');
  }

  /**
   * `origin` gave up every reliable frame up to `seq` (its outbox to us overflowed, see
   * reliable-link.ts): continue after them, log what never arrived, and acknowledge once what
   * earlier deliveries stored is durable (acknowledgements are cumulative).
   */
  onSkip(origin: string, seq: number): void {
    if (origin === '' || origin === this.ctx.nodeId || !Number.isSafeInteger(seq) || seq < 1) return;
    let link = this.inbound.get(origin);
    if (link === undefined) this.inbound.set(origin, (link = new InboundLink()));
    const missed = link.skip(seq);
    if (missed > 0) {
      this.ctx.logger.warn({ from: origin, lost: missed, resumeAt: seq + 1 }, 'QoS 1/2 messages from another node were lost (its outbox overflowed); continuing after them');
    }
    const l = link;
    const held = l.hold(seq);
    this.ctx.broker.afterCommit(() => {
      l.release(held);
      this.scheduleAck(origin);
    });
  }

  private scheduleAck(origin: string): void {
    this.ackDue.add(origin);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      for (const node of this.ackDue) {
        const link = this.inbound.get(node);
        if (link !== undefined) this.ctx.control(node, { type: 'ack', from: this.ctx.nodeId, seq: link.acked });
      }
      this.ackDue.clear();
    });
  }

  /** QoS 1/2 frames held for other nodes (or for dead nodes' adopters), not yet acknowledged. */
  heldFrames(): number {
    let n = 0;
    for (const link of this.outbound.values()) n += link.unacked;
    for (const o of this.orphans.values()) n += o.frames.length;
    return n;
  }

  /**
   * `node` is gone: both links start over, and what was held for it waits for the node that
   * adopts its sessions (adopted(), or looked up by retransmit()).
   */
  forget(node: string): void {
    const link = this.outbound.get(node);
    if (link !== undefined) {
      const frames = link.drain();
      this.outbound.delete(node);
      if (frames.length > 0) {
        const known = this.orphans.get(node);
        if (known === undefined) this.orphans.set(node, { frames, since: Date.now(), lookingUp: false });
        else known.frames.push(...frames);
      }
    }
    this.inbound.delete(node);
  }

  /**
   * `by` adopted the dead `node`'s persistent sessions, and `takers` hold those of them that
   * reconnecting clients took before the cleanup: what was held for `node` goes to each of them,
   * to be delivered to those sessions only; the publishes waiting for it wait for every copy's
   * acknowledgement.
   */
  adopted(node: string, by: string, takers: readonly string[] = []): void {
    const orphans = this.orphans.get(node);
    if (orphans === undefined) return;
    this.orphans.delete(node);
    const { ctx } = this;
    const targets = [by, ...takers.filter((t) => t !== by)];
    ctx.logger.info({ deadNode: node, adoptedBy: by, takenBy: takers, frames: orphans.frames.length }, 'sending what the dead node had not acknowledged to the node that adopted its sessions');
    const now = Date.now();
    for (const held of orphans.frames) {
      if (held.settled) continue;
      let forwarded: ForwardedMessage;
      try {
        forwarded = decodeMessageFrame(held.frame);
      } catch {
        settleFrame(held, false); // our own encoding: cannot happen
        continue;
      }
      if (forwarded.session !== undefined) {
        // A delivery diverted to a session that was moving to the dead node: it was adopted too.
        forwarded.session = undefined;
      }
      const waiters = held.waiters;
      held.waiters = null;
      held.settled = true;
      ctx.counters.clusterFramesAdopted++;
      // One copy per target: each waiting publish waits for all of them.
      if (waiters !== null) for (const t of waiters) t.remaining += targets.length - 1;
      for (const target of targets) {
        if (target === ctx.nodeId) {
          this.deliver({ origin: ctx.nodeId, seq: 0, message: forwarded.message, groups: forwarded.groups, adoptedFrom: node });
          if (waiters !== null) ctx.broker.afterCommit(() => waiters.forEach((t) => t.settle(true)));
        } else {
          this.holdReliable(target, (seq) => encodeMessageFrame(ctx.nodeId, seq, forwarded.message, forwarded.groups, null, node), now, waiters === null ? null : [...waiters]);
        }
      }
    }
  }

  /** Orphans whose adopter is not known yet: look it up; past ORPHAN_WAIT_MS, give them up. */
  private checkOrphans(now: number): void {
    for (const [node, orphans] of this.orphans) {
      if (now - orphans.since > ORPHAN_WAIT_MS) {
        this.orphans.delete(node);
        const lost = orphans.frames.filter((f) => !f.settled).length;
        this.ctx.counters.clusterFramesLost += lost;
        this.ctx.logger.error({ deadNode: node, lost }, 'no node adopted the dead node’s sessions in time: its unacknowledged QoS 1/2 messages are lost');
        for (const f of orphans.frames) settleFrame(f, false);
        continue;
      }
      if (orphans.lookingUp || now - orphans.since < ORPHAN_LOOKUP_AFTER_MS) continue;
      orphans.lookingUp = true;
      this.ctx.redis
        .get(this.ctx.keys.adoptedBy(node))
        .then((by) => {
          orphans.lookingUp = false;
          // "{adopter} {taker} {taker}..." (reaper.ts)
          const [adopter, ...takers] = (by ?? '').split(' ').filter((n) => n.length > 0);
          if (adopter !== undefined) this.adopted(node, adopter, takers);
        })
        .catch(() => {
          orphans.lookingUp = false;
        });
    }
  }

  /** This node was declared dead: the others forgot every link with it, so start all of them over. */
  reset(): void {
    for (const link of this.outbound.values()) {
      const frames = link.drain();
      this.ctx.counters.clusterFramesLost += frames.length;
      // Their publishers' connections were closed by the fencing, unacknowledged: nothing waits.
      for (const f of frames) settleFrame(f, false);
    }
    this.outbound.clear();
    this.inbound.clear();
  }
}
