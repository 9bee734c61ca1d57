// One MQTT network connection: reads packets, hands each to its handler (dispatch.ts), writes
// packets, and owns per-connection state (keep-alive, topic aliases, flow control). The Session it
// is attached to outlives it when persistent.
import type { Logger } from 'pino';
import type { Connection, ConnectionHandler } from '../transport/connection.js';
import type { Packet } from '../protocol/codec.js';
import { PacketReader, encode } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { RC } from '../protocol/reason-codes.js';
import type { ClientPermissions } from './authorization.js';
import type { Broker } from './broker.js';
import type { BroadcastEncoder } from './encode-publish.js';
import { encodePublish } from './encode-publish.js';
import { isExpired } from './message.js';
import type { Delivery, InflightEntry, Session, SessionClient, Will } from './session.js';
import { dispatch, handleFailure } from './dispatch.js';
import type { ClientRegistry } from './client-registry.js';

export type ClientState = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

export type { Will } from './session.js';

export class Client implements ConnectionHandler, SessionClient {
  readonly connection: Connection;
  readonly broker: Broker;
  readonly registry: ClientRegistry;
  logger: Logger;
  state: ClientState = 'awaiting-connect';
  readonly acceptedAt = Date.now();
  version: 3 | 4 | 5 = 4;
  clientId = '';
  principal = '';
  session: Session | null = null;
  permissions: ClientPermissions = denyAllUntilConnected;
  will: Will | null = null;
  /** Effective keep-alive in ms; 0 = none. Disconnect after 1.5x of silence [MQTT-3.1.2-24]. */
  keepAliveMs = 0;
  serverKeepAlive: number | undefined = undefined;
  lastActivity = Date.now();
  /** Packets that arrived while the authorizer was deciding; replayed in order after CONNACK. */
  pending: Packet[] | null = null;
  // Flow control and limits the client announced in CONNECT (v5).
  sendQuota = 65535;
  maxOutboundPacket = 268435455;
  clientTopicAliasMax = 0;
  requestProblemInfo = true;
  readonly aliasesIn = new Map<number, string>();
  aliasesOut: Map<string, number> | null = null;
  messagesIn = 0;
  messagesOut = 0;
  private readonly reader: PacketReader;

  constructor(connection: Connection, broker: Broker, registry: ClientRegistry, logger: Logger) {
    this.connection = connection;
    this.broker = broker;
    this.registry = registry;
    this.logger = logger;
    this.reader = new PacketReader(broker.limits.maxPacketBytes, this);
    connection.setHandler(this);
  }

  // ---- ConnectionHandler ------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.broker.counters.bytesReceived += chunk.length;
    this.reader.push(chunk);
  }

  onDrain(): void {
    if (this.state === 'connected') this.pump();
  }

  onClose(): void {
    this.finish('connection-lost', true);
  }

  // ---- PacketReader sink ------------------------------------------------------------------------

  onPacket(packet: Packet): void {
    if (this.state === 'closed') return;
    if (this.pending !== null) {
      // Bounded: a client may pipeline after CONNECT, but not without limit.
      if (this.pending.length >= 1000) {
        return handleFailure(this, new ProtocolError('too-many-pending', RC.quotaExceeded, 'too many packets before CONNACK'));
      }
      this.pending.push(packet);
      return;
    }
    try {
      dispatch(this, packet);
    } catch (err) {
      handleFailure(this, err);
    }
  }

  onError(err: ProtocolError): void {
    handleFailure(this, err);
  }

  // ---- writing ----------------------------------------------------------------------------------

  send(packet: Packet): void {
    if (this.state === 'closed') return;
    this.connection.write(encode(packet, this.version));
  }

  /** Sends DISCONNECT with a reason (v5 only; v3.1.1 has no server DISCONNECT) and closes. */
  disconnect(reasonCode: number, reason: string, why: string): void {
    if (this.state === 'closed') return;
    if (this.version === 5 && this.state === 'connected') {
      const properties = this.requestProblemInfo && reason ? { reasonString: reason } : undefined;
      this.send({ cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) });
    }
    this.finish(why, false);
    this.connection.end();
  }

  /**
   * Ends this connection's part: detach from the session (publishing or scheduling the will unless
   * the client disconnected cleanly), release permissions, log. Idempotent.
   */
  finish(why: string, lost: boolean): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.registry.remove(this);
    this.permissions.release?.();
    const session = this.session;
    if (session !== null && session.client === this) {
      this.broker.detachSession(session, this.will);
    }
    this.will = null;
    if (lost && !this.connection.closed) this.connection.destroy();
    if (wasConnected) {
      this.registry.connected--;
      this.broker.counters.connectionsClosed++;
      this.logger.info({ reason: why, messagesIn: this.messagesIn, messagesOut: this.messagesOut }, 'client disconnected');
    } else {
      this.logger.debug({ reason: why }, 'connection closed before CONNECT completed');
    }
  }

  // ---- delivery (SessionClient) -----------------------------------------------------------------

  deliver(delivery: Delivery, encoder: BroadcastEncoder | null): void {
    const session = this.session!;
    if (delivery.qos === 0) {
      // A slow subscriber loses QoS 0 messages rather than growing our memory or delaying others.
      if (this.connection.bufferedBytes() > this.broker.limits.maxOutboundBufferBytes) {
        this.broker.counters.qos0Dropped++;
        return;
      }
      this.writePublish(delivery, 0, false, encoder);
      return;
    }
    if (session.queue.length > 0 || !this.canSendInflight()) {
      if (session.enqueue(delivery)) this.broker.counters.queueDropped++;
      return;
    }
    this.sendInflight(delivery, encoder);
  }

  private canSendInflight(): boolean {
    const session = this.session!;
    return (
      session.inflight.size < this.sendQuota &&
      session.inflight.size < this.broker.limits.maxInflightMessages &&
      this.connection.bufferedBytes() <= this.broker.limits.maxOutboundBufferBytes
    );
  }

  private sendInflight(delivery: Delivery, encoder: BroadcastEncoder | null): void {
    const session = this.session!;
    const id = session.ids.allocate(session.inflight);
    if (id === 0) {
      if (session.enqueue(delivery)) this.broker.counters.queueDropped++;
      return;
    }
    const entry: InflightEntry = { ...delivery, state: 'publish' };
    if (!this.writePublish(entry, id, false, encoder)) return;
    session.inflight.set(id, entry);
  }

  /** Writes one PUBLISH; returns false when it was not sent (too large for the client). */
  private writePublish(delivery: Delivery, packetId: number, dup: boolean, encoder: BroadcastEncoder | null): boolean {
    const now = Date.now();
    let bytes: Buffer;
    const alias = this.clientTopicAliasMax > 0 ? this.outboundAlias(delivery.message.topic) : 0;
    if (encoder !== null && !dup && delivery.subscriptionIds === undefined && alias === 0) {
      bytes = encoder.bytes(this.version, delivery.qos, delivery.retain, packetId);
    } else {
      const known = alias < 0;
      bytes = encodePublish(
        delivery.message,
        {
          version: this.version,
          qos: delivery.qos,
          retain: delivery.retain,
          dup,
          packetId,
          subscriptionIds: this.version === 5 ? delivery.subscriptionIds : undefined,
          topicAlias: known ? -alias : alias,
          omitTopic: known,
        },
        now,
      );
    }
    // Never send more than the client's Maximum Packet Size; the message is discarded for this
    // client as if delivered [MQTT-3.1.2-25].
    if (bytes.length > this.maxOutboundPacket) {
      this.broker.counters.oversizeDropped++;
      return false;
    }
    this.connection.write(bytes);
    this.messagesOut++;
    this.broker.counters.messagesDelivered++;
    return true;
  }

  /**
   * Server -> client topic aliases: positive = new alias to announce with the topic, negative =
   * known alias (topic omitted), 0 = none left. Aliases are assigned first-come until the client's
   * Topic Alias Maximum is reached [MQTT-3.3.2-8].
   */
  private outboundAlias(topic: string): number {
    const aliases = (this.aliasesOut ??= new Map());
    const known = aliases.get(topic);
    if (known !== undefined) return -known;
    if (aliases.size >= this.clientTopicAliasMax) return 0;
    const alias = aliases.size + 1;
    aliases.set(topic, alias);
    return alias;
  }

  /** Moves queued QoS 1/2 deliveries into flight while the window and the socket allow. */
  pump(): void {
    const session = this.session;
    if (session === null || this.state !== 'connected') return;
    const now = Date.now();
    while (session.queue.length > 0 && this.canSendInflight()) {
      const delivery = session.queue.shift()!;
      if (isExpired(delivery.message, now)) {
        this.broker.counters.expiredDropped++;
        continue;
      }
      this.sendInflight(delivery, null);
    }
  }

  /** On session resume: resend unacknowledged PUBLISH with DUP and pending PUBREL [MQTT-4.4.0-1]. */
  resendInflight(): void {
    const session = this.session!;
    for (const [id, entry] of session.inflight) {
      if (entry.state === 'pubrel') this.send({ cmd: 'pubrel', messageId: id });
      else this.writePublish(entry, id, true, null);
    }
  }
}

const denyAllUntilConnected: ClientPermissions = {
  canPublish: () => false,
  canSubscribe: () => false,
  canReceive: () => false,
};
