// What the two browser front-ends (JSON over WebSocket, json-client.ts; Server-Sent Events,
// sse-client.ts) share: a connection authorized from its request URL alone (browsers cannot set
// WebSocket or EventSource headers), attached to a session through the core like an MQTT client
// (takeover across protocols, lifecycle events with AWS's fields), subscriptions checked per filter
// (iot:Subscribe) and deliveries written from the broadcast's shared encoding.
//
// Sessions are always clean and end with the connection: what a browser misses while away is
// served by history (resume: src/history/resume.ts's Resumption, docs/history.md), not by a
// persistent session queue. Every delivery is at most once
// (QoS 0 on the wire, whatever QoS it was published with): a slow reader loses messages (counted)
// rather than growing the server's memory.
import { randomBytes } from 'node:crypto';
import { ClientLogger, type Logger } from '../logger.js';
import type { ClientPermissions } from '../auth/authorization.js';
import type { Broker } from '../broker/broker.js';
import type { Broadcast } from '../broker/broadcast.js';
import type { ConnectionDetails } from '../broker/client-connection.js';
import type { ConnectionRegistry, RegisteredConnection } from '../broker/connection-registry.js';
import { announceConnected, attachConnection } from '../broker/attach.js';
import { disconnectReason, type ConnectionInfo } from '../broker/lifecycle.js';
import type { Delivery, Session, Subscription, Will } from '../broker/session.js';
import { parseSharedFilter, validateTopicFilter } from '../protocol/topic.js';
import { RC } from '../protocol/reason-codes.js';
import type { Connection } from '../transport/connection.js';
import { outboundFlow } from '../transport/flow.js';
import { parseCursor, Resumption, type ResumeStart } from '../history/resume.js';
import type { HistoryStore } from '../store/history-store.js';
import { HistoryCursor } from '../shared/history-id.js';
import { MessageEncoder, WEB_ENCODING } from './message-encoding.js';

export type WebClientState = 'connecting' | 'connected' | 'closed';

/** One filter's outcome in a subscribe: granted, or refused with a stable code and AWS-style reason. */
export type FilterResult = { filter: string; ok: true } | { filter: string; ok: false; code: 'not-authorized' | 'invalid-topic' | 'limit'; reason: string };

/** The request URL's parameters this front-end reads (the authorizer reads the rest). */
export interface WebConnectParams {
  clientId: string | undefined;
  filters: string[];
}

/**
 * `clientId` and every `subscribe` (JSON) or `topic` (SSE) from a query string. Values are
 * percent-decoded, and `+` stays `+`: it is the single-level wildcard, not a form-encoded space.
 */
export function readConnectParams(url: string, filterParam: string): WebConnectParams {
  const q = url.indexOf('?');
  const params: WebConnectParams = { clientId: undefined, filters: [] };
  if (q < 0) return params;
  for (const part of url.slice(q + 1).split('#', 1)[0]!.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = decode(part.slice(0, eq));
    const value = decode(part.slice(eq + 1));
    if (name === 'clientId' && value !== '') params.clientId = value;
    else if (name === filterParam && value !== '') params.filters.push(value);
  }
  return params;
}

function decode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export abstract class WebClient implements RegisteredConnection {
  abstract readonly protocol: 'json' | 'sse';
  readonly connection: Connection;
  readonly broker: Broker;
  readonly registry: ConnectionRegistry;
  readonly logger: ClientLogger;
  state: WebClientState = 'connecting';
  clientId = '';
  principal = '';
  session: Session | null = null;
  permissions: ClientPermissions = denyAll;
  info: ConnectionInfo | null = null;
  readonly acceptedAt: number;
  connectedAt = 0;
  lastActivity: number;
  messagesIn = 0;
  messagesOut = 0;
  /** Deliveries dropped because this client did not read fast enough (its buffer was full). */
  dropped = 0;
  /** Per-topic history (resume); null when no `history` rule is configured. */
  protected readonly history: HistoryStore | null;
  /** The resume under way or done (it keeps dropping what its replay sent); null: none. */
  protected resumption: Resumption | null = null;
  /** Without a resumption: what this client has had, for the ids sent with kept messages. */
  private cursor: HistoryCursor | null = null;

  constructor(connection: Connection, broker: Broker, registry: ConnectionRegistry, logger: Logger, history: HistoryStore | null) {
    this.connection = connection;
    this.broker = broker;
    this.registry = registry;
    this.history = history;
    this.logger = new ClientLogger(logger, this);
    this.acceptedAt = this.lastActivity = broker.clock.now();
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  // Wills: a browser's connection ends whenever its tab does, so the browser front-ends give none
  // (docs/websocket-json.md); presence comes from the lifecycle events instead.
  get will(): Will | null {
    return null;
  }
  setWill(_will: Will | null): void {}

  setInfo(info: ConnectionInfo | null): void {
    this.info = info;
  }

  /** Told to the client once it is connected (JSON: a frame; SSE: an event). */
  protected abstract welcome(assigned: boolean): void;
  /** Told to a client refused at connect, then closed; `status` is the HTTP status it maps to (401, 403, 503). */
  protected abstract refuse(code: string, reason: string, status: number): void;
  /** Says why the server ends the connection (where the protocol can) and closes it. */
  protected abstract goodbye(why: string, reason: string): void;
  /**
   * Writes one message: the encoder's bytes are shared by every subscriber of a broadcast
   * (`shared`); `id` is the client's cursor after it (undefined: not kept in history).
   */
  protected abstract writeMessage(encoder: MessageEncoder, retain: boolean, shared: boolean, id: string | undefined): number;
  /** Answers a subscribe made at connect (URL filters): JSON says so in a frame; SSE in an event. */
  protected abstract initialSubscribed(results: FilterResult[]): void;
  /** Tells the client that history no longer reaches back to its cursor on `filters`. */
  protected abstract sendReset(filters: readonly string[], reason: string): void;
  /**
   * A resume for the URL's filters at connect (SSE: Last-Event-ID), made before they are
   * subscribed; null: none (JSON resumes per subscribe, with `since`).
   */
  protected initialResume(_filters: readonly string[]): { resumption: Resumption; fromCursor: boolean } | null {
    return null;
  }

  /** The socket's outbound queue stayed over its budget too long (transport/flow.ts): close it. */
  onSlowConsumer(queuedBytes: number): void {
    if (this.state === 'closed') {
      this.connection.destroy();
      return;
    }
    this.broker.counters.slowConsumerDisconnects++;
    this.logger.warn({ queuedBytes, protocol: this.protocol }, 'closing connection: slow consumer (not reading what is sent to it)');
    this.finish('slow-consumer', true);
  }

  /**
   * Authorizes from the request URL, claims the client ID, attaches a clean session and subscribes
   * the URL's filters. Refusals are told to the client (as a frame or an event) and close it.
   */
  async start(params: WebConnectParams): Promise<void> {
    const limits = this.broker.limits;
    let clientId = params.clientId;
    const assigned = clientId === undefined;
    if (clientId !== undefined && Buffer.byteLength(clientId) > limits.maxClientIdBytes) {
      return this.refused('client-id-too-long', `client identifier longer than ${limits.maxClientIdBytes} bytes`, 400);
    }
    clientId ??= 'sb-' + randomBytes(12).toString('hex');
    this.clientId = clientId;
    if (this.registry.connected >= limits.maxConnections) return this.refused('server-full', `connection limit of ${limits.maxConnections} reached`);
    const decision = await this.broker.authorization.authorizeConnect({
      clientId,
      username: undefined,
      password: undefined,
      protocolVersion: 5,
      protocol: this.protocol,
      connection: this.connection,
      cleanStart: true,
      will: undefined,
    });
    if (this.state !== 'connecting') return;
    if (!decision.allowed) return this.refused('not-authorized', decision.reason, decision.reasonCode === RC.badUserNameOrPassword ? 401 : 403);
    if (this.registry.connected >= limits.maxConnections) return this.refused('server-full', `connection limit of ${limits.maxConnections} reached`);
    this.principal = decision.principal;
    this.permissions = decision.permissions;
    const cluster = this.broker.cluster;
    if (cluster !== null) {
      await cluster.claim(clientId, true);
      if (this.state !== 'connecting') return;
    }
    const { session } = attachConnection(this.broker, this, { clientId, version: 5, cleanStart: true, expirySeconds: 0 });
    this.session = session;
    this.state = 'connected';
    this.connection.releaseRequest();
    this.registry.connected++;
    this.broker.counters.connectionsAccepted++;
    this.connectedAt = this.lastActivity = this.broker.clock.now();
    this.welcome(assigned);
    if (this.state !== 'connected') return; // SSE: the socket went away while it was authorized
    announceConnected(this.broker, session, this, this.principal, this.connection.remoteAddress, this.protocol);
    this.logger.info({ protocol: this.protocol, transport: this.connection.transport, principal: this.principal }, 'client connected');
    this.permissions.start?.(this);
    if (params.filters.length === 0) return;
    const resume = this.initialResume(params.filters);
    this.subscribe(
      params.filters,
      (results) => {
        this.initialSubscribed(results);
        if (resume !== null) void this.replay(resume.resumption, params.filters);
      },
      // A new client wants the topics' current state; a resuming one gets their past from history.
      resume === null || !resume.fromCursor,
    );
  }

  // ---- resume (docs/history.md "The guarantee") ------------------------------------------------------

  /**
   * A Resumption for `filters` from the client's cursor text (`since`; null: a new client, which
   * gets nothing old and starts at the history's head). 'not-a-cursor' when the text is not one;
   * null when history is off. Made BEFORE the filters are subscribed, so that every live delivery
   * from then on goes through it (held while history is read, then duplicates dropped).
   */
  protected openResume(filters: readonly string[], since: string | null): Resumption | 'not-a-cursor' | null {
    if (this.history === null) return null;
    const cursor = since === null ? null : parseCursor(since);
    if (since !== null && cursor === null) return 'not-a-cursor';
    // Only filters this client may subscribe to are read from history (iot:Receive is checked per
    // message too): a refused subscribe must not be answered with its topic's past.
    // Nor one refused for a limit (subscribe() below): the same count and subscription bounds.
    const limits = this.broker.limits;
    const subscribed = this.session?.subscriptions;
    let room = limits.maxSubscriptionsPerConnection - (subscribed?.size ?? 0);
    const allowed: string[] = [];
    for (const f of filters.slice(0, limits.maxFiltersPerSubscribe)) {
      if (allowed.includes(f) || validateTopicFilter(f, limits) !== null || parseSharedFilter(f) !== null) continue;
      if (!this.permissions.canSubscribe(f)) continue;
      if (subscribed?.has(f) !== true) {
        if (room <= 0) continue;
        room--;
      }
      allowed.push(f);
    }
    // The replay is written at once, so it gets the budget a connection may have queued before it is
    // a slow consumer (what live delivery allows too): a client that never reads holds no more
    // than that. A longer gap is a reset with the newest messages that fit.
    const maxBytes = outboundFlow(limits).slowConsumerBytes;
    const resumption = new Resumption({ history: this.history, filters: allowed, since: cursor, canReceive: (topic) => this.permissions.canReceive(topic), clock: this.broker.clock, maxBytes });
    this.resumption = resumption;
    return resumption;
  }

  /** Reads what the client missed and sends it (after a reset when some is gone), then live resumes. */
  protected async replay(resumption: Resumption, filters: readonly string[]): Promise<void> {
    let start: ResumeStart;
    try {
      start = await resumption.start();
    } catch (err) {
      this.logger.error({ err }, 'history read failed; the client is told to reset');
      start = { reset: true, messages: [] };
    }
    if (this.state !== 'connected') return;
    if (start.reset) this.sendReset(filters, 'history does not reach back to the given id: some messages are no longer kept');
    for (const { message, id, retain } of start.messages) {
      if (this.state !== 'connected') return;
      const size = this.writeMessage(new MessageEncoder(message), retain === true, false, message.historyId === undefined ? undefined : id);
      this.broker.counters.bytesSent += size;
      this.broker.counters.messagesDelivered++;
      this.messagesOut++;
    }
    this.afterReplay(resumption);
  }

  /** After a replay was sent (SSE: hands the client its cursor even when nothing was missed). */
  protected afterReplay(_resumption: Resumption): void {}

  private refused(code: string, reason: string, status = 503): void {
    if (this.state === 'closed') return;
    this.broker.counters.connectFailed(code);
    if (code === 'not-authorized') {
      this.broker.counters.deniedConnect++;
      this.broker.lifecycle?.connectFailed(this.clientId, undefined, this.connection.remoteAddress, 'AUTHORIZATION_FAILED');
    }
    this.logger.info({ protocol: this.protocol, reason: code, detail: reason }, code === 'not-authorized' ? 'connection refused: not authorized' : 'connection refused');
    this.refuse(code, reason, status);
    this.finish(code, false);
  }

  // ---- subscriptions ------------------------------------------------------------------------------

  /**
   * Subscribes each filter on its own (a refused one does not stop the others, as in SUBACK
   * [MQTT-3.9.3]); `answer` runs once every node routes the new filters here (cluster), then the
   * retained messages of new subscriptions follow. A filter subscribed again gets no retained
   * messages a second time (MQTT Retain Handling 1), so repeating a subscribe costs no more than
   * its answer.
   */
  subscribe(filters: readonly string[], answer: (results: FilterResult[]) => void, retained = true): void {
    const broker = this.broker;
    const limits = broker.limits;
    const session = this.session!;
    const results: FilterResult[] = [];
    const fresh: Subscription[] = [];
    filters.forEach((key, i) => {
      if (i >= limits.maxFiltersPerSubscribe) {
        results.push({ filter: key, ok: false, code: 'limit', reason: `more than ${limits.maxFiltersPerSubscribe} filters in one subscribe` });
        return;
      }
      const error = validateTopicFilter(key, limits);
      if (error !== null) return void results.push({ filter: key, ok: false, code: 'invalid-topic', reason: `invalid topic filter (${error})` });
      if (!session.subscriptions.has(key) && session.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
        return void results.push({ filter: key, ok: false, code: 'limit', reason: `subscription limit of ${limits.maxSubscriptionsPerConnection} reached` });
      }
      if (!this.permissions.canSubscribe(key)) {
        const decidedBy = this.permissions.explain?.('subscribe', key);
        if (decidedBy) this.logger.info({ filter: key, decidedBy }, 'subscribe denied');
        broker.counters.deniedSubscribe++;
        return void results.push({ filter: key, ok: false, code: 'not-authorized', reason: `not authorized: iot:Subscribe on topicfilter/${key}` });
      }
      const result = broker.subscribe(session, key, { qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 1, subscriptionId: undefined });
      results.push({ filter: key, ok: true });
      if (!result.existed) fresh.push(result.subscription);
    });
    const done = () => {
      if (this.state !== 'connected') return;
      answer(results);
      if (fresh.length > 0 && this.info !== null) broker.lifecycle?.subscribed(this.info, fresh.map((s) => s.key));
      // A resuming client gets the topics' past from history, not their retained copies again.
      if (retained) for (const sub of fresh) if (session.subscriptions.get(sub.key) === sub) this.sendRetained(sub);
    };
    const settling = broker.cluster?.interestSettled() ?? null;
    if (settling) void settling.then(done);
    else done();
  }

  unsubscribe(filters: readonly string[]): FilterResult[] {
    const session = this.session!;
    const results: FilterResult[] = [];
    const gone: string[] = [];
    for (const key of filters) {
      if (validateTopicFilter(key, this.broker.limits) !== null) {
        results.push({ filter: key, ok: false, code: 'invalid-topic', reason: 'invalid topic filter' });
      } else if (this.broker.unsubscribe(session, key)) {
        results.push({ filter: key, ok: true });
        gone.push(key);
      } else {
        results.push({ filter: key, ok: false, code: 'invalid-topic', reason: 'no subscription existed' });
      }
    }
    if (gone.length > 0 && this.info !== null) this.broker.lifecycle?.unsubscribed(this.info, gone);
    return results;
  }

  /** Retained messages for a new subscription, each checked for iot:Receive; never for a shared one. */
  private sendRetained(sub: Subscription): void {
    if (sub.group !== undefined || parseSharedFilter(sub.key) !== null) return;
    for (const message of this.broker.retainedFor(sub.filter)) {
      if (this.state !== 'connected') return;
      if (!this.permissions.canReceive(message.topic)) {
        this.broker.counters.deniedReceive++;
        continue;
      }
      this.deliver({ message, qos: 0, retain: true, subscriptionIds: undefined }, null);
    }
  }

  // ---- delivery -----------------------------------------------------------------------------------

  deliver(delivery: Delivery, broadcast: Broadcast | null): void {
    if (this.state !== 'connected') return;
    const counters = this.broker.counters;
    // A slow reader loses messages rather than growing our memory or delaying others.
    if (this.connection.bufferedBytes() > this.broker.limits.maxOutboundBufferBytes) {
      counters.qos0Dropped++;
      this.dropped++;
      return;
    }
    // The client's id after this message (kept in history), and what a resume under way says.
    const message = delivery.message;
    let id: string | undefined;
    const resumption = this.resumption;
    if (resumption !== null) {
      // 'hold': kept by the resumption until its replay is sent; 'duplicate': the replay had it.
      if (resumption.offer(message, delivery.retain) !== 'deliver') return;
      if (message.historyId !== undefined) id = resumption.idText;
    } else if (message.historyId !== undefined) {
      const cursor = (this.cursor ??= new HistoryCursor());
      cursor.advance(message.historyId);
      id = cursor.toString();
    }
    const encoder = broadcast === null ? new MessageEncoder(message) : broadcast.encoding(WEB_ENCODING);
    const size = this.writeMessage(encoder, delivery.retain, broadcast !== null, id);
    counters.bytesSent += size;
    counters.messagesDelivered++;
    this.messagesOut++;
  }

  // ---- ending -------------------------------------------------------------------------------------

  disconnect(_reasonCode: number, reason: string, why: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected') this.goodbye(why, reason);
    this.finish(why, false);
    if (!this.connection.closed) this.connection.end();
  }

  shutdown(): void {
    if (this.state === 'connected') this.disconnect(0, 'server shutting down', 'server-shutdown');
    else this.finish('server-shutdown', true);
  }

  /** Ends this connection's part: session detached (ended: it is clean), lifecycle event, log. Idempotent. */
  finish(why: string, lost: boolean): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.connection.releaseRequest();
    this.registry.remove(this);
    this.permissions.release?.();
    const session = this.session;
    if (session !== null && session.client === this) this.broker.detachSession(session, null);
    if (lost && !this.connection.closed) this.connection.destroy();
    if (!wasConnected) return;
    this.registry.connected--;
    this.broker.counters.connectionsClosed++;
    this.logger.info({ protocol: this.protocol, reason: why, messagesIn: this.messagesIn, messagesOut: this.messagesOut, dropped: this.dropped }, 'client disconnected');
    if (this.info !== null) {
      const { reason, clientInitiated } = disconnectReason(why);
      this.broker.lifecycle?.disconnected(this.info, reason, clientInitiated);
    }
  }

  /** The registry's periodic check: an authorizer that never answers (they time out themselves). */
  sweep(now: number, connectTimeoutMs: number): void {
    if (this.state === 'connecting' && now - this.acceptedAt > connectTimeoutMs + 65_000) this.finish('connect-timeout', true);
  }

  details(): ConnectionDetails {
    const c = this.connection;
    return {
      clientId: this.clientId,
      principal: this.principal,
      username: undefined,
      protocol: this.protocol,
      protocolVersion: '1',
      transport: c.transport,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      localAddress: c.localAddress,
      localPort: c.localPort,
      connectedAt: this.connectedAt,
      keepAliveSeconds: 0,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
    };
  }
}

const denyAll: ClientPermissions = {
  canPublish: () => false,
  canSubscribe: () => false,
  canReceive: () => false,
};
