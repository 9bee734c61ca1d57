// JSON over a plain WebSocket (/ws): one connection of the JSON front-end. Reads whole messages
// (the transport's message mode), parses each (json-frames.ts) and acts; a mistake the client can
// recover from is answered with an error frame and the socket stays open. Protocol, frame by frame:
// docs/websocket-json.md.
import type { Logger } from '../logger.js';
import type { Broker } from '../broker/broker.js';
import type { ConnectionRegistry } from '../broker/connection-registry.js';
import type { Message, MessageProperties } from '../shared/message.js';
import { validateTopicName } from '../protocol/topic.js';
import type { MessageConnection, MessageHandler } from '../transport/websocket.js';
import type { HistoryStore } from '../store/history-store.js';
import { encodeFrame, errorFrame, FrameError, parseRequest, type FrameId, type Request } from './json-frames.js';
import { AckOrder } from '../broker/ack-order.js';
import type { MessageEncoder } from './message-encoding.js';
import { readConnectParams, WebClient, type FilterResult } from './web-client.js';

/** WebSocket close codes (RFC 6455 §7.4.1) for the ends the server decides. */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;
const CLOSE_TRY_AGAIN = 1013;

/** A Ping frame this often keeps proxies from closing an idle socket (many cut at 60 s). */
export const PING_INTERVAL_MS = 30_000;

/** Messages that arrive while the authorizer decides: kept, within these bounds, then handled in order. */
const PENDING_MESSAGES = 100;
const PENDING_BYTES = 1 << 20;

export class JsonClient extends WebClient implements MessageHandler {
  readonly protocol = 'json';
  declare readonly connection: MessageConnection;
  private pending: Buffer[] | null = [];
  private pendingBytes = 0;
  private lastPing: number;
  /** Acknowledgements of publishes with an id, in the order they came; made on the first. */
  private acks: AckOrder | null = null;
  /** Publishes with an id not yet acknowledged (or refused): at most limits.maxInflightMessages. */
  private unacknowledged = 0;

  constructor(connection: MessageConnection, broker: Broker, registry: ConnectionRegistry, logger: Logger, history: HistoryStore | null = null) {
    super(connection, broker, registry, logger, history);
    this.lastPing = this.acceptedAt;
    connection.setHandler(this);
  }

  /** Starts the connect from the upgrade URL (`clientId`, each `subscribe`, the authorizer's parameters). */
  begin(): void {
    const params = readConnectParams(this.connection.request?.url ?? '/', 'subscribe');
    this.start(params).then(
      () => this.replayPending(),
      (err: unknown) => {
        this.logger.error({ err }, 'JSON connect failed');
        this.finish('internal-error', true);
      },
    );
  }

  private replayPending(): void {
    const pending = this.pending;
    this.pending = null;
    if (pending === null || this.state !== 'connected') return;
    for (const bytes of pending) {
      if (this.state !== 'connected') return;
      this.handle(bytes);
    }
  }

  // ---- MessageHandler -------------------------------------------------------------------------------

  onData(message: Buffer): void {
    this.lastActivity = this.broker.clock.now();
    this.broker.counters.bytesReceived += message.length;
    if (this.state === 'closed') return;
    if (this.pending !== null) {
      this.pendingBytes += message.length;
      if (this.pending.length >= PENDING_MESSAGES || this.pendingBytes > PENDING_BYTES) {
        this.send(errorFrame('limit', 'too much sent before the connection was authorized', undefined));
        this.disconnect(0, 'too much sent before the connection was authorized', 'too-many-pending');
        return;
      }
      this.pending.push(message);
      return;
    }
    this.handle(message);
  }

  onMessageTooLarge(bytes: number): void {
    this.broker.counters.bytesReceived += bytes;
    this.send(errorFrame('too-large', `a message of ${bytes} bytes exceeds the limit of ${this.maxMessageBytes()} bytes; it was ignored`, undefined));
  }

  onDrain(): void {}
  onInputResumed(): void {}

  onClose(hadError: boolean): void {
    // A Close frame from the client counts as client-initiated (as for MQTT over WebSocket).
    this.finish(hadError ? 'connection-lost' : 'client-closed', true);
  }

  // ---- requests -------------------------------------------------------------------------------------

  private handle(bytes: Buffer): void {
    let request: Request;
    try {
      request = parseRequest(bytes);
    } catch (err) {
      if (err instanceof FrameError) return this.send(errorFrame(err.code, err.message, err.id));
      throw err;
    }
    try {
      this.act(request);
    } catch (err) {
      if (err instanceof FrameError) return this.send(errorFrame(err.code, err.message, err.id));
      this.broker.counters.deliveryFailures++;
      this.logger.error({ err, type: request.type }, 'JSON request failed');
      this.send(errorFrame('bad-frame', 'the request failed on the server', request.id));
    }
  }

  private act(request: Request): void {
    switch (request.type) {
      case 'ping':
        return this.send(encodeFrame(request.id === undefined ? { type: 'pong' } : { type: 'pong', id: request.id }));
      case 'subscribe': {
        const { id, filters, since } = request;
        if (since === undefined) return this.subscribe(filters, (results) => this.send(answerFrame('subscribed', id, results, undefined)));
        // Resume (docs/websocket-json.md "Resume"): what was missed since `since`, then live.
        if (this.resumption?.replaying) throw new FrameError('limit', 'a resume is already under way on this connection: wait for its messages', id);
        const resumption = this.openResume(filters, since);
        if (resumption === 'not-a-cursor') throw new FrameError('bad-field', '"since" is not a history id (the "id" of a message received before)', id);
        if (resumption === null) {
          const note = 'no history is kept on this server (no history rules): live messages only';
          return this.subscribe(filters, (results) => this.send(answerFrame('subscribed', id, results, note)));
        }
        return this.subscribe(
          filters,
          (results) => {
            this.send(answerFrame('subscribed', id, results, undefined));
            void this.replay(resumption, filters);
          },
          false,
        );
      }
      case 'unsubscribe':
        return this.send(answerFrame('unsubscribed', request.id, this.unsubscribe(request.filters), undefined));
      case 'publish':
        return this.publish(request);
    }
  }

  private publish(request: Extract<Request, { type: 'publish' }>): void {
    const broker = this.broker;
    const limits = broker.limits;
    const { id, topic, retain } = request;
    this.messagesIn++;
    broker.counters.messagesReceived++;
    broker.counters.jsonMessagesReceived++;
    const topicError = validateTopicName(topic, limits);
    if (topicError !== null) throw new FrameError('invalid-topic', `topic name is invalid (${topicError})`, id);
    const responseTopic = request.properties.responseTopic;
    if (responseTopic !== undefined && validateTopicName(responseTopic, limits) !== null) {
      throw new FrameError('invalid-topic', `responseTopic ${JSON.stringify(responseTopic.slice(0, 80))} is not a valid topic name`, id);
    }
    if (request.payload.length > limits.maxPayloadBytes) {
      throw new FrameError('too-large', `payload of ${request.payload.length} bytes exceeds ${limits.maxPayloadBytes}`, id);
    }
    // Basic Ingest (AWS): `$aws/rules/{rule}/...` goes to that rule only; other `$` topics are the
    // server's [MQTT-4.7.2].
    const ingest = topic.startsWith('$aws/rules/') && broker.basicIngest !== null;
    let refusal: string | null = null;
    if (topic.charCodeAt(0) === 0x24 && !ingest) refusal = `publishing to the reserved topic ${topic} is not allowed`;
    else if (!this.permissions.canPublish(topic, retain)) {
      const retainOnly = retain && this.permissions.canPublish(topic, false);
      refusal = `not authorized: ${retainOnly ? 'iot:RetainPublish' : 'iot:Publish'} on topic/${topic}`;
      const decidedBy = this.permissions.explain?.(retainOnly ? 'retain' : 'publish', topic);
      if (decidedBy) this.logger.info({ topic, decidedBy }, 'publish refused');
    }
    if (refusal !== null) {
      broker.counters.deniedPublish++;
      throw new FrameError('not-authorized', refusal, id);
    }
    // As MQTT's Receive Maximum: acknowledgements waiting on commits (and, in a cluster, on other
    // nodes) are bounded per connection; past it a publish is refused, not queued.
    if (id !== undefined && this.unacknowledged >= limits.maxInflightMessages) {
      throw new FrameError('limit', `more than ${limits.maxInflightMessages} publishes awaiting their puback`, id);
    }
    const p = request.properties;
    const properties: MessageProperties | undefined = Object.keys(p).length > 0 ? p : undefined;
    const message: Message = {
      topic,
      payload: request.payload,
      qos: id === undefined ? 0 : 1,
      retain,
      properties,
      expiresAt: 0,
      publisherId: this.clientId,
      receivedAt: this.lastActivity,
      principal: this.principal,
    };
    if (ingest) broker.basicIngest!(message);
    else broker.publish(message, 'client');
    if (id === undefined) return;
    // Acknowledged once what it caused (a retained copy, queued copies) is durable, here and on
    // every node it went to, in the order the publishes came, as PUBACK; a copy for another node
    // given up (docs/cluster.md) makes it an error instead.
    this.unacknowledged++;
    broker.afterPublished(
      (this.acks ??= new AckOrder()),
      () => {
        this.unacknowledged--;
        this.send(encodeFrame({ type: 'puback', id }));
      },
      () => {
        this.unacknowledged--;
        broker.counters.publishesRefusedUndelivered++;
        this.send(errorFrame('not-delivered', 'the message could not be forwarded to another node; publish it again', id));
      },
    );
  }

  // ---- WebClient --------------------------------------------------------------------------------------

  protected welcome(assigned: boolean): void {
    const limits = this.broker.limits;
    this.send(
      encodeFrame({
        type: 'connected',
        clientId: this.clientId,
        ...(assigned ? { assigned: true } : {}),
        limits: {
          maxMessageBytes: this.maxMessageBytes(),
          maxPayloadBytes: limits.maxPayloadBytes,
          maxFiltersPerSubscribe: limits.maxFiltersPerSubscribe,
          maxSubscriptions: limits.maxSubscriptionsPerConnection,
        },
      }),
    );
  }

  protected refuse(code: string, reason: string, _status: number): void {
    this.connection.write(errorFrame(code === 'not-authorized' ? 'not-authorized' : 'limit', reason, undefined));
    this.connection.closeWith(code === 'server-full' ? CLOSE_TRY_AGAIN : CLOSE_POLICY, reason);
  }

  protected goodbye(why: string, reason: string): void {
    this.connection.write(encodeFrame({ type: 'disconnect', code: why, reason }));
    this.connection.closeWith(closeCodeFor(why), reason);
  }

  protected writeMessage(encoder: MessageEncoder, retain: boolean, shared: boolean, id: string | undefined): number {
    const bytes = encoder.jsonFor(retain, id);
    if (shared && id === encoder.idText) this.connection.writeShared(bytes);
    else this.connection.write(bytes);
    this.broker.counters.jsonMessagesDelivered++;
    return bytes.length;
  }

  protected initialSubscribed(results: FilterResult[]): void {
    this.send(answerFrame('subscribed', undefined, results, undefined));
  }

  protected sendReset(filters: readonly string[], reason: string): void {
    this.send(encodeFrame({ type: 'reset', filters, message: reason }));
  }

  override sweep(now: number, connectTimeoutMs: number): void {
    super.sweep(now, connectTimeoutMs);
    if (this.state === 'connected' && now - this.lastPing >= PING_INTERVAL_MS) {
      this.lastPing = now;
      this.connection.ping();
    }
  }

  private send(bytes: Buffer): void {
    if (this.state === 'closed') return;
    this.connection.write(bytes);
  }

  private maxMessageBytes(): number {
    return jsonMessageLimit(this.broker.limits);
  }
}

/** The largest JSON message read: room for a base64 payload of maxPayloadBytes and its fields. */
export function jsonMessageLimit(limits: { maxPayloadBytes: number; maxPacketBytes: number }): number {
  return Math.max(Math.ceil((limits.maxPayloadBytes * 4) / 3) + 65536, limits.maxPacketBytes);
}

function closeCodeFor(why: string): number {
  if (why === 'server-shutdown') return CLOSE_GOING_AWAY;
  if (why === 'credential-expired' || why === 'auth-refresh-denied' || why === 'customauth-ttl-expiration') return CLOSE_POLICY;
  return CLOSE_NORMAL;
}

function answerFrame(type: 'subscribed' | 'unsubscribed', id: FrameId | undefined, results: FilterResult[], note: string | undefined): Buffer {
  return encodeFrame({ type, ...(id !== undefined ? { id } : {}), results, ...(note !== undefined ? { note } : {}) });
}
