// One MQTT network connection, the MQTT front-end's ClientConnection: reads packets and hands each
// to its handler (dispatch.ts), writes packets, and owns per-connection state (keep-alive, topic
// aliases, flow control, its share of a broadcast's encodings). The Session it is attached to
// outlives it when persistent.
import { ClientLogger, type Logger } from '../logger.js';
import type { Connection, ConnectionHandler } from '../transport/connection.js';
import type { Packet } from '../protocol/codec.js';
import { PacketReader, encode } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { RC } from '../protocol/reason-codes.js';
import type { ClientPermissions } from '../auth/authorization.js';
import type { Broker } from '../broker/broker.js';
import type { Broadcast, EncodingKey } from '../broker/broadcast.js';
import type { ConnectionDetails } from '../broker/client-connection.js';
import type { RegisteredConnection } from '../broker/connection-registry.js';
import { BroadcastEncoder, encodePublish, queuedEncoder } from './encode-publish.js';
import { isExpired } from '../shared/message.js';
import type { Delivery, InflightEntry, Session, Will } from '../broker/session.js';
import { dispatch, handleFailure } from './dispatch.js';
import type { ClientRegistry } from './client-registry.js';
import { disconnectReason, type ConnectionInfo } from '../broker/lifecycle.js';
import { TokenBucket } from '../shared/rate-limit.js';
import { AckOrder } from '../broker/ack-order.js';

export type ClientState = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

export type { Will } from '../broker/session.js';

export class Client implements ConnectionHandler, RegisteredConnection {
  readonly protocol = 'mqtt';
  readonly connection: Connection;
  readonly broker: Broker;
  readonly registry: ClientRegistry;
  /** Lines about this client carry its remoteAddress and clientId (no child logger is kept). */
  readonly logger: ClientLogger;
  private currentState: ClientState = 'awaiting-connect';
  readonly acceptedAt: number;
  version: 3 | 4 | 5 = 4;
  clientId = '';
  principal = '';
  username: string | undefined = undefined;
  session: Session | null = null;
  permissions: ClientPermissions = denyAllUntilConnected;
  will: Will | null = null;
  /** Effective keep-alive in ms; 0 = none. Disconnect after 1.5x of silence [MQTT-3.1.2-24]. */
  keepAliveMs = 0;
  serverKeepAlive: number | undefined = undefined;
  lastActivity: number;
  /** Packets that arrived while the authorizer was deciding; replayed in order after CONNACK. */
  pending: Packet[] | null = null;
  private pendingBytes = 0;
  /** Unacknowledged messages of a resumed session still to be sent again, within the send quota. */
  private resend: number[] | null = null;
  // Flow control and limits the client announced in CONNECT (v5).
  sendQuota = 65535;
  maxOutboundPacket = 268435455;
  clientTopicAliasMax = 0;
  requestProblemInfo = true;
  /** Client -> server topic aliases (v5), allocated on first use. */
  private aliasMap: Map<number, string> | null = null;
  aliasesOut: Map<string, number> | null = null;
  messagesIn = 0;
  /** PUBACK/PUBREC leave in the order their PUBLISHes came, whatever each waits for (ack-order.ts). */
  readonly acks = new AckOrder();
  messagesOut = 0;
  /** Lifecycle identity of this connection (events, admin API); set at CONNACK. */
  info: ConnectionInfo | null = null;
  connectedAt = 0;
  private readonly reader: PacketReader;
  /** limits.maxPublishesPerSecond and maxInboundBytesPerSecond; created on first use. */
  publishBucket: TokenBucket | null = null;
  private readBucket: TokenBucket | null = null;

  constructor(connection: Connection, broker: Broker, registry: ClientRegistry, logger: Logger) {
    this.connection = connection;
    this.broker = broker;
    this.registry = registry;
    this.logger = new ClientLogger(logger, this);
    this.acceptedAt = this.lastActivity = broker.clock.now();
    this.reader = new PacketReader(broker.limits.maxPacketBytes, this);
    connection.setHandler(this);
  }

  get aliasesIn(): Map<number, string> {
    return (this.aliasMap ??= new Map());
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }

  get state(): ClientState {
    return this.currentState;
  }

  get connected(): boolean {
    return this.currentState === 'connected';
  }

  /**
   * Once past CONNECT (connected or closed) the upgrade request has served the authorizer, which
   * reads it only while deciding CONNECT: the connection drops it.
   */
  set state(next: ClientState) {
    this.currentState = next;
    if (next === 'connected' || next === 'closed') this.connection.releaseRequest();
  }

  // ---- ConnectionHandler ------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    this.lastActivity = this.broker.clock.now();
    this.broker.counters.bytesReceived += chunk.length;
    this.reader.push(chunk);
    const rate = this.broker.limits.maxInboundBytesPerSecond;
    if (rate > 0) this.throttleInput(chunk.length, rate);
    if (this.reader.holding) this.connection.holdInput();
  }

  /**
   * limits.maxInboundBytesPerSecond: what was read is handled, and reading then waits until the
   * rate is met again (inputDelayMs). AWS IoT: "Data that exceeds [512 KiB/s per connection] is
   * delayed in processing" — delayed, not dropped, and the connection stays.
   */
  private throttleInput(bytes: number, rate: number): void {
    const bucket = (this.readBucket ??= new TokenBucket(rate, this.broker.clock));
    bucket.setRate(rate);
    bucket.debit(bytes);
    if (bucket.waitMs() > 0) {
      this.broker.counters.throttledReads++;
      this.connection.holdInput();
    }
  }

  inputDelayMs(): number {
    return this.readBucket === null ? 0 : this.readBucket.waitMs();
  }

  onInputResumed(): void {
    this.reader.push(EMPTY);
    if (this.reader.holding) this.connection.holdInput();
  }

  /**
   * Asked by the reader between packets: stop when replies (a SUBSCRIBE's retained messages, say)
   * have filled the outbound budget, so one packet's work is not followed by the next one's at once.
   */
  holdInput(): boolean {
    return this.connection.bufferedBytes() > this.broker.limits.outboundPauseReadBytes;
  }

  onDrain(): void {
    if (this.state === 'connected') this.pump();
  }

  onClose(hadError: boolean): void {
    // A WebSocket Close frame from the client counts as client-initiated (as on AWS); a dropped
    // socket as lost. Either way, without DISCONNECT the will is published [MQTT-3.1.2-8].
    this.finish(hadError ? 'connection-lost' : this.connection.transport === 'ws' || this.connection.transport === 'wss' ? 'client-closed' : 'connection-lost', true);
  }

  /**
   * Our replies and deliveries stayed queued past the slow-consumer bound for longer than allowed
   * (limits.slowConsumerBytes / slowConsumerSeconds): the peer does not read. Closed without
   * waiting for the queue (it would never drain); the will is published, as for a lost connection.
   */
  onSlowConsumer(queuedBytes: number): void {
    if (this.state === 'closed') {
      this.connection.destroy();
      return;
    }
    this.broker.counters.slowConsumerDisconnects++;
    this.logger.warn({ queuedBytes, state: this.state }, 'closing connection: slow consumer (not reading what is sent to it)');
    this.finish('slow-consumer', true);
  }

  // ---- PacketReader sink ------------------------------------------------------------------------

  onPacket(packet: Packet): void {
    if (this.state === 'closed') return;
    if (this.pending !== null) {
      // Bounded: a client may pipeline after CONNECT, but not without limit.
      this.pendingBytes += (packet as { length?: number }).length ?? 0;
      if (this.pending.length >= 1000 || this.pendingBytes > PENDING_BYTES_LIMIT) {
        return handleFailure(this, new ProtocolError('too-many-pending', RC.quotaExceeded, 'too much sent before CONNACK'));
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
    let bytes = encode(packet, this.version);
    // The client's Maximum Packet Size binds acks too: the reason string and user properties are
    // what may be left out to fit [MQTT-3.1.2-24, 3.4.2-2].
    if (bytes.length > this.maxOutboundPacket && 'properties' in packet && packet.properties) {
      const { reasonString: _r, userProperties: _u, ...rest } = packet.properties as Record<string, unknown>;
      bytes = encode({ ...packet, properties: rest } as Packet, this.version);
      if (bytes.length > this.maxOutboundPacket) return;
    }
    this.connection.write(bytes);
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
      const lifecycle = this.broker.lifecycle;
      if (lifecycle !== null && this.info !== null) {
        const { reason, clientInitiated } = disconnectReason(why);
        lifecycle.disconnected(this.info, reason, clientInitiated);
      }
    } else {
      this.logger.debug({ reason: why }, 'connection closed before CONNECT completed');
    }
  }

  // ---- RegisteredConnection ---------------------------------------------------------------------

  /** The registry's periodic check: CONNECT and keep-alive timeouts. */
  sweep(now: number, connectTimeoutMs: number): void {
    if (this.currentState === 'awaiting-connect') {
      // A network connection without CONNECT within a reasonable time is closed [MQTT-3.1.4 note].
      if (now - this.acceptedAt > connectTimeoutMs) this.finish('connect-timeout', true);
    } else if (this.currentState === 'connecting') {
      // Authorizers have their own timeouts (at most 60 s); this only catches the impossible.
      if (now - this.acceptedAt > connectTimeoutMs + 65_000) this.finish('connect-timeout', true);
    } else if (this.currentState === 'connected' && this.keepAliveMs > 0) {
      if (now - this.lastActivity > this.keepAliveMs * 1.5) {
        this.disconnect(RC.keepAliveTimeout, 'keep alive timeout', 'keep-alive-timeout');
      }
    }
  }

  /** v5 clients are told why [MQTT-4.13]; wills are published as for any server-side close. */
  shutdown(): void {
    if (this.currentState === 'connected') this.disconnect(RC.serverShuttingDown, 'server shutting down', 'server-shutdown');
    else this.finish('server-shutdown', true);
  }

  // ---- ClientConnection -------------------------------------------------------------------------

  setWill(will: Will | null): void {
    this.will = will;
  }

  setInfo(info: ConnectionInfo | null): void {
    this.info = info;
  }

  details(): ConnectionDetails {
    const c = this.connection;
    return {
      clientId: this.clientId,
      principal: this.principal,
      username: this.username,
      protocol: 'mqtt',
      protocolVersion: this.version === 5 ? '5.0' : this.version === 4 ? '3.1.1' : '3.1',
      transport: c.transport,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      localAddress: c.localAddress,
      localPort: c.localPort,
      connectedAt: this.connectedAt,
      keepAliveSeconds: this.keepAliveMs / 1000,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
    };
  }

  // ---- delivery ---------------------------------------------------------------------------------

  deliver(delivery: Delivery, broadcast: Broadcast | null): void {
    const session = this.session!;
    const encoder = broadcast === null ? null : broadcast.encoding(MQTT_ENCODING);
    if (delivery.qos === 0) {
      // A slow subscriber loses QoS 0 messages rather than growing our memory or delaying others.
      if (this.connection.bufferedBytes() > this.broker.limits.maxOutboundBufferBytes) {
        this.broker.counters.qos0Dropped++;
        return;
      }
      this.writePublish(delivery, 0, false, encoder);
      return;
    }
    if (session.queueLength > 0 || !this.canSendInflight()) {
      if (session.enqueue(delivery)) this.broker.counters.queueDropped++;
      return;
    }
    this.sendInflight(delivery, encoder);
  }

  private canSendInflight(): boolean {
    const session = this.session!;
    return (
      session.inflightCount < this.sendQuota &&
      session.inflightCount < this.broker.limits.maxInflightMessages &&
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
    const entry: InflightEntry = {
      message: delivery.message,
      qos: delivery.qos,
      retain: delivery.retain,
      subscriptionIds: delivery.subscriptionIds,
      state: 'publish',
    };
    if (!this.writePublish(entry, id, false, encoder)) return;
    session.setInflight(id, entry);
  }

  /** Writes one PUBLISH; returns false when it was not sent (too large for the client). */
  private writePublish(delivery: Delivery, packetId: number, dup: boolean, encoder: BroadcastEncoder | null): boolean {
    const topic = delivery.message.topic;
    const alias = this.clientTopicAliasMax > 0 ? this.outboundAlias(topic) : 0;
    let size: number;
    if (encoder !== null && !dup && delivery.subscriptionIds === undefined && alias === 0) {
      // The broadcast's shared encoding: QoS 0 bytes as they are, QoS 1/2 patched with our packet id.
      const t = encoder.template(this.version, delivery.qos, delivery.retain);
      size = t.bytes.length;
      if (size > this.maxOutboundPacket) return this.dropOversize();
      if (delivery.qos === 0) this.connection.writeShared(t.bytes);
      else this.connection.writePatched(t.bytes, t.idOffset, packetId);
    } else {
      const known = alias < 0;
      const bytes = encodePublish(
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
        // Only a v5 Message Expiry Interval depends on the time it is sent [MQTT-3.3.2-6].
        delivery.message.expiresAt === 0 ? 0 : this.broker.clock.now(),
      );
      size = bytes.length;
      if (size > this.maxOutboundPacket) return this.dropOversize();
      // An alias counts as known to the client only once a packet carrying it was sent.
      if (alias > 0) this.aliasesOut!.set(topic, alias);
      this.connection.write(bytes);
    }
    this.broker.counters.bytesSent += size;
    this.messagesOut++;
    this.broker.counters.messagesDelivered++;
    return true;
  }

  /**
   * Never more than the client's Maximum Packet Size: the message is discarded for this client as
   * if delivered [MQTT-3.1.2-25].
   */
  private dropOversize(): false {
    this.broker.counters.oversizeDropped++;
    return false;
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
    return aliases.size + 1;
  }

  /**
   * Sends what waits for this connection while the send quota, the in-flight limit and the socket
   * allow: first the unacknowledged messages of a resumed session (resendInflight), then queued
   * QoS 1/2 deliveries, each checked again for expiry and iot:Receive. Called after CONNACK, on
   * every acknowledgement that frees a slot, and when the socket drains.
   */
  pump(): void {
    const session = this.session;
    if (session === null || this.state !== 'connected') return;
    const resend = this.resend;
    if (resend !== null) {
      const quota = Math.min(this.sendQuota, this.broker.limits.maxInflightMessages);
      while (resend.length > 0 && session.inflightCount - resend.length < quota) {
        const id = resend.shift()!;
        const entry = session.inflight.get(id);
        if (entry === undefined) continue;
        if (entry.state === 'pubrel') this.send({ cmd: 'pubrel', messageId: id });
        else if (!this.mayReceive(entry.message.topic) || !this.writePublish(entry, id, true, null)) session.completeInflight(id);
      }
      if (resend.length > 0) return;
      this.resend = null;
    }
    if (session.queueLength === 0) return;
    const now = this.broker.clock.now();
    while (session.queueLength > 0 && this.canSendInflight()) {
      const delivery = session.dequeue()!;
      if (isExpired(delivery.message, now)) {
        this.broker.counters.expiredDropped++;
        continue;
      }
      if (!this.mayReceive(delivery.message.topic)) continue;
      this.sendInflight(delivery, queuedEncoder(delivery.message));
    }
  }

  /**
   * A message queued for a session was checked against the permissions of the connection it was
   * queued under (or none: a session restored from the store); the connection resuming it may hold
   * other ones (a revoked policy, another principal allowed this client ID). iot:Receive is this
   * connection's to pass, so queued and unacknowledged messages are checked again before sending.
   */
  private mayReceive(topic: string): boolean {
    if (this.permissions.canReceive(topic)) return true;
    this.broker.counters.deniedReceive++;
    return false;
  }

  /**
   * On session resume: resend unacknowledged PUBLISH (DUP=1) and PUBREL with their original
   * packet identifiers [MQTT-4.4.0-1], no more at once than the client's Receive Maximum
   * [MQTT-3.3.4-9]; the rest follow as acknowledgements arrive (pump). A message now larger than
   * the client's Maximum Packet Size is discarded [MQTT-3.1.2-25].
   */
  resendInflight(): void {
    this.resend = [...this.session!.inflight.keys()];
  }
}

/** This front-end's encodings of a broadcast: one PUBLISH per version, QoS and RETAIN flag. */
const MQTT_ENCODING: EncodingKey<BroadcastEncoder> = { create: (message, now) => new BroadcastEncoder(message, now) };

const PENDING_BYTES_LIMIT = 1 << 20;
const EMPTY = Buffer.alloc(0);

const denyAllUntilConnected: ClientPermissions = {
  canPublish: () => false,
  canSubscribe: () => false,
  canReceive: () => false,
};
