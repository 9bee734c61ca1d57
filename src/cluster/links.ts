// Carries messages to and from the other nodes over Redis pub/sub: QoS 0 as best-effort frames,
// QoS 1/2 over one reliable link per node pair (numbered, held until acknowledged, sent again when
// late, skipped past when the outbox overflowed; the protocol is described in reliable-link.ts).
// A received reliable frame is acknowledged only once what its delivery stored is durable.
import type { Message } from '../shared/message.js';
import type { ClusterContext } from './context.js';
import { encodeMessageFrame, type ForwardedMessage, type SessionTarget } from './frames.js';
import { InboundLink, OutboundLink } from './reliable-link.js';

export const RETRANSMIT_CHECK_MS = 500;
const RETRANSMIT_AFTER_MS = 1000;
const RETRANSMIT_BATCH = 2000;

export class NodeLinks {
  private readonly outbound = new Map<string, OutboundLink>();
  private readonly inbound = new Map<string, InboundLink>();
  private readonly ackDue = new Set<string>();
  private ackScheduled = false;

  /** `deliver` hands a received message to this node (a publish to route, or one session's delivery). */
  constructor(
    private readonly ctx: ClusterContext,
    private readonly deliver: (forwarded: ForwardedMessage) => void,
  ) {}

  /**
   * Sends `message` to `nodes`; `groupsFor` names the shared groups each node delivers it to, and
   * `target` makes it one delivery to one session (a session moving between nodes).
   */
  send(message: Message, nodes: Set<string>, groupsFor: Map<string, string[]> | null, target: SessionTarget | null = null): void {
    const { ctx } = this;
    const now = Date.now();
    let shared: Buffer | null = null;
    // A diverted delivery is reliable when the delivery is, whatever the message's own QoS.
    const qos = target !== null ? target.qos : message.qos;
    for (const node of nodes) {
      const groups = groupsFor?.get(node) ?? [];
      if (qos === 0) {
        if (!ctx.connected) {
          ctx.counters.clusterFramesDropped++;
          continue;
        }
        const frame =
          groups.length === 0 && target === null ? (shared ??= encodeMessageFrame(ctx.nodeId, 0, message, groups)) : encodeMessageFrame(ctx.nodeId, 0, message, groups, target);
        this.publishFrame(node, frame, false);
        continue;
      }
      let link = this.outbound.get(node);
      if (link === undefined) this.outbound.set(node, (link = new OutboundLink(ctx.options.outboxLimit, ctx.options.outboxBytes)));
      const seq = link.take();
      const frame = encodeMessageFrame(ctx.nodeId, seq, message, groups, target);
      const firstLoss = link.gap === 0;
      const toBytes = link.lostToBytes;
      const dropped = link.hold(seq, frame, now);
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
      if (ctx.connected) this.publishFrame(node, frame, true);
    }
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
    if (!this.ctx.connected || this.outbound.size === 0) return;
    const now = Date.now();
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
    if (forwarded.seq === 0) {
      this.deliver(forwarded);
      return;
    }
    const origin = forwarded.origin;
    let link = this.inbound.get(origin);
    if (link === undefined) this.inbound.set(origin, (link = new InboundLink()));
    const arrival = link.accept(forwarded.seq);
    if (arrival === 'deliver') {
      this.deliver(forwarded);
      const seq = forwarded.seq;
      const l = link;
      // Acknowledged once what the delivery stored (an offline session's queue) is durable.
      this.ctx.broker.afterCommit(() => {
        if (seq > l.acked) l.acked = seq;
        this.scheduleAck(origin);
      });
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
    this.ctx.broker.afterCommit(() => {
      if (seq > l.acked) l.acked = seq;
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

  /** QoS 1/2 frames held for other nodes, not yet acknowledged. */
  heldFrames(): number {
    let n = 0;
    for (const link of this.outbound.values()) n += link.unacked;
    return n;
  }

  /** `node` is gone: what was held for it is lost (counted), and both links start over. */
  forget(node: string): void {
    const link = this.outbound.get(node);
    if (link !== undefined) {
      this.ctx.counters.clusterFramesLost += link.unacked;
      this.outbound.delete(node);
    }
    this.inbound.delete(node);
  }

  /** This node was declared dead: the others forgot every link with it, so start all of them over. */
  reset(): void {
    for (const link of this.outbound.values()) this.ctx.counters.clusterFramesLost += link.unacked;
    this.outbound.clear();
    this.inbound.clear();
  }
}
