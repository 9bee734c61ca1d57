// AWS IoT Data Plane compatible routes (what @aws-sdk/client-iot-data-plane calls), on the same
// HTTP server as MQTT over WebSocket: Publish, GetRetainedMessage, ListRetainedMessages,
// DeleteConnection, GetConnection, ListSubscriptions, SendDirectMessage. Every call is authorized
// with the caller's policy documents, like MQTT clients.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../broker/broker.js';
import type { Message, MessageProperties, QoS } from '../shared/message.js';
import { propertiesProblem } from '../shared/message.js';
import { RC } from '../protocol/reason-codes.js';
import { validateTopicName } from '../protocol/topic.js';
import { arnFor, IotAction, type ArnScope } from '../policy/index.js';
import { ApiError, badRequest, forbidden, notFound } from './errors.js';
import { requestClient, type HttpApp } from './http-server.js';
import type { HttpAuthenticator, HttpCaller } from './http-auth.js';
import { dataPlaneRoute } from './route-access.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { HistoryRecorder } from '../history/recorder.js';
import { parseCursor } from '../history/resume.js';
import { formatHistoryId, HistoryCursor } from '../shared/history-id.js';

export interface DataPlaneOptions {
  broker: Broker;
  scope: ArnScope;
  authenticate: HttpAuthenticator;
  secure: boolean;
  /** Message times and the PUBACK deadline; default the system clock (the broker's clock in a server). */
  clock?: Clock;
  /** Per-topic history for GET /history/{topic}; null or absent: no topic has any. */
  history?: HistoryRecorder | null;
}

interface Parsed {
  segments: string[];
  query: URLSearchParams;
  rawPath: string;
  rawQuery: string;
}

function parseUrl(url: string): Parsed {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  // Each segment is decoded on its own, so an encoded '/' (%2F) stays inside its segment: the
  // SDK sends topic a/b as /topics/a%2Fb.
  const segments = rawPath.split('/').slice(1).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw badRequest(`malformed percent-encoding in ${rawPath}`);
    }
  });
  return { segments, query: new URLSearchParams(rawQuery), rawPath, rawQuery };
}

function boolParam(value: string | null, name: string): boolean {
  if (value === null || value === '') return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`${name} must be true or false`);
}

function intParam(value: string | null, name: string, min: number, max: number, fallback: number): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** x-amz-mqtt5-user-properties: base64 of a JSON array of one-key objects (AWS). */
function userProperties(header: string | string[] | undefined): MessageProperties['userProperties'] | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0]! : header;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw badRequest('x-amz-mqtt5-user-properties must be base64 of a JSON array of {"name":"value"} objects');
  }
  if (!Array.isArray(parsed)) throw badRequest('x-amz-mqtt5-user-properties must be a JSON array');
  const out: Record<string, string | string[]> = {};
  for (const item of parsed) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badRequest('each user property must be a {"name":"value"} object');
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      if (typeof v !== 'string') throw badRequest(`user property ${k} must be a string`);
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  return out;
}

function toUserPropertyArray(props: MessageProperties['userProperties']): { [k: string]: string }[] {
  const out: { [k: string]: string }[] = [];
  for (const [k, v] of Object.entries(props ?? {})) for (const value of Array.isArray(v) ? v : [v]) out.push({ [k]: value });
  return out;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Most payload bytes one GET /history answer carries (the newest messages that fit). */
const HISTORY_RESPONSE_BYTES = 4 * 1024 * 1024;

export function registerDataPlaneRoutes(app: HttpApp, options: DataPlaneOptions): void {
  const { broker, scope } = options;
  const clock = options.clock ?? systemClock;

  const authorize = async (request: FastifyRequest, body: Buffer, action: string, resource: string, also?: [string, string]): Promise<HttpCaller> => {
    const q = request.url.indexOf('?');
    const client = requestClient(request);
    const caller = await options.authenticate({
      method: request.method,
      path: q < 0 ? request.url : request.url.slice(0, q),
      query: q < 0 ? '' : request.url.slice(q + 1),
      headers: request.headers,
      body,
      remoteAddress: client.address,
      local: client.local,
      secure: options.secure,
    });
    for (const [a, r] of also ? [[action, resource], also] : [[action, resource]]) {
      if (caller.policy !== null && !caller.policy.allows(a!, r!)) {
        throw forbidden(`not authorized: ${a} on ${r}`);
      }
    }
    return caller;
  };

  const ok = (reply: FastifyReply, traceId: string) => {
    reply.header('x-amzn-RequestId', traceId);
    return { message: 'OK', traceId };
  };

  // Publish: the body is the payload, whatever its content type.
  app.register(async (scope_) => {
    scope_.removeAllContentTypeParsers();
    scope_.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: broker.limits.maxPayloadBytes }, (_req, body, done) => done(null, body));

    scope_.post('/topics/*', dataPlaneRoute, async (request, reply) => {
      const { segments, query } = parseUrl(request.url);
      const topic = segments.slice(1).join('/');
      const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const qos = intParam(query.get('qos'), 'qos', 0, 1, 0) as QoS;
      const retain = boolParam(query.get('retain'), 'retain');
      const topicError = validateTopicName(topic, broker.limits);
      if (topicError !== null) throw badRequest(`topic ${topic} is invalid (${topicError})`);
      if (topic.startsWith('$')) throw forbidden(`publishing to the reserved topic ${topic} is not allowed`);
      const arn = arnFor(scope, 'topic', topic);
      await authorize(request, payload, IotAction.Publish, arn, retain ? [IotAction.RetainPublish, arn] : undefined);

      const properties: MessageProperties = {};
      const contentType = query.get('contentType');
      if (contentType) properties.contentType = contentType;
      const responseTopic = query.get('responseTopic');
      if (responseTopic) {
        if (validateTopicName(responseTopic, broker.limits) !== null) throw badRequest('responseTopic must be a valid topic name without wildcards');
        properties.responseTopic = responseTopic;
      }
      const correlation = header(request, 'x-amz-mqtt5-correlation-data');
      if (correlation) properties.correlationData = Buffer.from(correlation, 'base64');
      const pfi = header(request, 'x-amz-mqtt5-payload-format-indicator');
      if (pfi) {
        if (pfi !== 'UTF8_DATA' && pfi !== 'UNSPECIFIED_BYTES') throw badRequest('x-amz-mqtt5-payload-format-indicator must be UTF8_DATA or UNSPECIFIED_BYTES');
        properties.payloadFormatIndicator = pfi === 'UTF8_DATA';
      }
      const user = userProperties(request.headers['x-amz-mqtt5-user-properties']);
      if (user) properties.userProperties = user;
      const expiry = intParam(query.get('messageExpiry'), 'messageExpiry', 1, broker.limits.maxMessageExpirySeconds, 0);
      const now = clock.now();
      const message: Message = {
        topic,
        payload,
        qos,
        retain,
        properties: Object.keys(properties).length > 0 ? properties : undefined,
        expiresAt: expiry > 0 ? now + expiry * 1000 : 0,
        publisherId: undefined,
        receivedAt: now,
      };
      // What MQTT could not carry (U+0000 in a user property) is refused here, not dropped later.
      const problem = propertiesProblem(message.properties);
      if (problem !== null) throw badRequest(problem);
      broker.publish(message, 'api');
      const traceId = randomUUID();
      // As for MQTT: the answer waits until what the message caused is durable.
      await new Promise<void>((resolve) => broker.afterCommit(resolve));
      return ok(reply, traceId);
    });

    scope_.post('/connections/:clientId/messages', dataPlaneRoute, async (request, reply) => {
      const { segments, query } = parseUrl(request.url);
      const clientId = segments[1]!;
      const topic = query.get('topic') ?? '';
      const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (validateTopicName(topic, broker.limits) !== null) throw badRequest('topic must be a valid topic name');
      await authorize(request, payload, 'iot:SendDirectMessage', arnFor(scope, 'client', clientId));
      const client = broker.sessions.get(clientId)?.client;
      if (!client) throw notFound(`client ${clientId} is not connected`);
      const confirmation = boolParam(query.get('confirmation'), 'confirmation');
      const timeout = intParam(query.get('timeout'), 'timeout', 1, 15, 5);
      if (!client.permissions.canReceive(topic)) throw forbidden(`client ${clientId} may not receive ${topic} (iot:Receive)`);
      const properties: MessageProperties = {};
      const contentType = query.get('contentType');
      if (contentType) properties.contentType = contentType;
      const responseTopic = query.get('responseTopic');
      if (responseTopic) properties.responseTopic = responseTopic;
      const user = userProperties(request.headers['x-amz-mqtt5-user-properties']);
      if (user) properties.userProperties = user;
      const message: Message = {
        topic,
        payload,
        qos: confirmation ? 1 : 0,
        retain: false,
        properties: Object.keys(properties).length > 0 ? properties : undefined,
        expiresAt: 0,
        publisherId: undefined,
        receivedAt: clock.now(),
      };
      const problem = propertiesProblem(message.properties);
      if (problem !== null) throw badRequest(problem);
      const delivery = { message, qos: message.qos, retain: false, subscriptionIds: undefined };
      client.deliver(delivery, null);
      if (confirmation) {
        const session = client.session!;
        const deadline = clock.now() + timeout * 1000;
        const pending = () => {
          for (const e of session.inflight.values()) if (e.message === message) return true;
          for (const q of session.queue) if (q.message === message) return true;
          return false;
        };
        while (pending()) {
          // The deadline is the clock's; the 20 ms poll is real time (it only looks for the PUBACK).
          if (clock.now() > deadline || !client.connected) throw new ApiError('GatewayTimeoutException', 504, `no PUBACK from ${clientId} within ${timeout} s`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      return ok(reply, randomUUID());
    });
  });

  app.get('/retainedMessage/*', dataPlaneRoute, async (request) => {
    const { segments } = parseUrl(request.url);
    const topic = segments.slice(1).join('/');
    await authorize(request, Buffer.alloc(0), IotAction.GetRetainedMessage, arnFor(scope, 'topic', topic));
    const message = broker.retained.get(topic);
    if (message === undefined) throw notFound(`no retained message on ${topic}`);
    const user = message.properties?.userProperties;
    return {
      topic,
      payload: message.payload.toString('base64'),
      qos: message.qos,
      lastModifiedTime: message.receivedAt ?? 0,
      ...(user ? { userProperties: Buffer.from(JSON.stringify(toUserPropertyArray(user))).toString('base64') } : {}),
    };
  });

  // Switchboard's own (AWS keeps one retained message per topic): a topic's recent messages from
  // its history (docs/history.md), under the same authorization as receiving them live.
  app.get('/history/*', dataPlaneRoute, async (request) => {
    const { segments, query } = parseUrl(request.url);
    const topic = segments.slice(1).join('/');
    const problem = validateTopicName(topic, broker.limits);
    if (problem !== null) throw badRequest(`${JSON.stringify(topic)} is not a topic name (${problem})`);
    const sinceText = query.get('since');
    const since = sinceText === null ? null : parseCursor(sinceText);
    if (sinceText !== null && since === null) throw badRequest('since must be an id or cursor given by this server (docs/history.md)');
    const limit = intParam(query.get('limit'), 'limit', 1, 1000, 100);
    await authorize(request, Buffer.alloc(0), IotAction.Receive, arnFor(scope, 'topic', topic));
    const history = options.history ?? null;
    if (history === null || history.keepFor(topic) === null) throw notFound(`no history is kept for ${topic} (configuration: history)`);
    let page;
    try {
      page = await history.store.read({ filters: [topic], after: since, limit, now: clock.now() });
    } catch (err) {
      // Redis unreachable (or a store that stopped): say so, as AWS does for a service outage.
      throw new ApiError('ServiceUnavailableException', 503, `history cannot be read now: ${err instanceof Error ? err.message : String(err)}`);
    }
    // The newest that fit in HISTORY_RESPONSE_BYTES of payload: an answer is built in memory.
    let first = page.entries.length;
    for (let bytes = 0; first > 0 && bytes + page.entries[first - 1]!.message.payload.length <= HISTORY_RESPONSE_BYTES; first--) {
      bytes += page.entries[first - 1]!.message.payload.length;
    }
    const entries = page.entries.slice(first);
    const cursor = since?.clone() ?? new HistoryCursor();
    for (const e of entries) cursor.advance(e.id);
    return {
      topic,
      messages: entries.map(({ id, message }) => {
        const p = message.properties;
        return {
          id: formatHistoryId(id),
          payload: message.payload.toString('base64'),
          qos: message.qos,
          receivedAt: message.receivedAt ?? 0,
          ...(p?.contentType !== undefined ? { contentType: p.contentType } : {}),
          ...(p?.payloadFormatIndicator !== undefined ? { payloadFormatIndicator: p.payloadFormatIndicator } : {}),
          ...(p?.responseTopic !== undefined ? { responseTopic: p.responseTopic } : {}),
          ...(p?.correlationData !== undefined ? { correlationData: p.correlationData.toString('base64') } : {}),
          ...(p?.userProperties !== undefined ? { userProperties: p.userProperties } : {}),
        };
      }),
      reset: page.reset,
      truncated: page.truncated || first > 0,
      cursor: cursor.toString(),
    };
  });

  app.get('/retainedMessage', dataPlaneRoute, async (request) => {
    const { query } = parseUrl(request.url);
    await authorize(request, Buffer.alloc(0), IotAction.ListRetainedMessages, '*');
    const max = intParam(query.get('maxResults'), 'maxResults', 1, 200, 50);
    const after = query.get('nextToken');
    const start = after ? Buffer.from(after, 'base64url').toString('utf8') : '';
    const all = broker.retained
      .match('#')
      .filter((m) => m.topic > start)
      .sort((a, b) => (a.topic < b.topic ? -1 : 1));
    const page = all.slice(0, max);
    return {
      retainedTopics: page.map((m) => ({ topic: m.topic, payloadSize: m.payload.length, qos: m.qos, lastModifiedTime: m.receivedAt ?? 0 })),
      nextToken: all.length > max ? Buffer.from(page[page.length - 1]!.topic).toString('base64url') : null,
    };
  });

  app.delete('/connections/:clientId', dataPlaneRoute, async (request) => {
    const { segments, query } = parseUrl(request.url);
    const clientId = segments[1]!;
    if (!clientId || clientId.startsWith('$')) throw badRequest('clientId must be 1-128 characters and not start with $');
    await authorize(request, Buffer.alloc(0), IotAction.DeleteConnection, arnFor(scope, 'client', clientId));
    const cleanSession = boolParam(query.get('cleanSession'), 'cleanSession');
    const preventWill = boolParam(query.get('preventWillMessage'), 'preventWillMessage');
    const session = broker.sessions.get(clientId);
    if (session === undefined) throw notFound(`client ${clientId} is not connected and has no persistent session`);
    const client = session.client;
    if (client !== null) {
      if (preventWill) client.setWill(null);
      client.disconnect(RC.administrativeAction, 'disconnected through the API', 'api-disconnect');
    }
    if (cleanSession && broker.sessions.get(clientId) === session) broker.endSession(session);
    return {};
  });

  app.get('/connections/:clientId', dataPlaneRoute, async (request) => {
    const { segments, query } = parseUrl(request.url);
    const clientId = segments[1]!;
    await authorize(request, Buffer.alloc(0), 'iot:GetConnection', arnFor(scope, 'client', clientId));
    // AWS: socket information (sourceIp/sourcePort/targetIp/targetPort) only when asked; default false.
    const withSocket = boolParam(query.get('includeSocketInformation'), 'includeSocketInformation');
    const session = broker.sessions.get(clientId);
    if (session === undefined) throw notFound(`client ${clientId} is not connected and has no persistent session`);
    const client = session.client;
    const details = client?.details();
    return {
      connected: client !== null,
      clientId,
      cleanSession: !session.persistent,
      sessionExpiry: session.expirySeconds,
      ...(details !== undefined
        ? {
            keepAliveDuration: details.keepAliveSeconds,
            connectedSince: details.connectedAt,
          }
        : {}),
      ...(details !== undefined && withSocket
        ? {
            sourceIp: details.remoteAddress,
            sourcePort: details.remotePort,
            targetIp: details.localAddress,
            targetPort: details.localPort,
          }
        : {}),
    };
  });

  app.get('/connections/:clientId/subscriptions', dataPlaneRoute, async (request) => {
    const { segments, query } = parseUrl(request.url);
    const clientId = segments[1]!;
    await authorize(request, Buffer.alloc(0), 'iot:ListSubscriptions', arnFor(scope, 'client', clientId));
    const session = broker.sessions.get(clientId);
    if (session === undefined) throw notFound(`client ${clientId} is not connected and has no persistent session`);
    const max = intParam(query.get('maxResults'), 'maxResults', 1, 200, 20);
    const offset = Number(query.get('nextToken') ?? 0) || 0;
    const all = [...session.subscriptions.values()].map((s) => ({ topicFilter: s.key, qos: s.qos }));
    const page = all.slice(offset, offset + max);
    return { subscriptions: page, nextToken: offset + max < all.length ? String(offset + max) : null };
  });
}
