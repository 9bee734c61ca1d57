// GET /events?topic=...: Server-Sent Events (src/web/sse-client.ts) on the HTTP listener. A
// 'data-plane' route: the client is authorized by the custom authorizer from its query string (or a
// cookie), exactly as a JSON or MQTT WebSocket client from its upgrade URL, and its policies decide.
//
// Browsers send ambient credentials (docs/security.md): a cookie token is passed to the authorizer
// only for a same-site request — no Origin (a same-origin EventSource sends none) and no
// Sec-Fetch-Site other than same-origin, the server's own origin, or one of
// listeners.http.allowedOrigins. With allowedOrigins set, any other Origin is
// refused (403) as for /mqtt and /ws. Cross-origin readers get CORS headers; credentials only when
// the cookie rule admits their origin.
import type { IncomingMessage } from 'node:http';
import type { Broker } from '../broker/broker.js';
import type { HistoryStore } from '../store/history-store.js';
import type { ConnectionRegistry } from '../broker/connection-registry.js';
import type { Logger } from '../logger.js';
import type { ClientOrigin } from '../transport/connection.js';
import type { OutboundFlow } from '../transport/flow.js';
import { SseConnection } from '../transport/sse.js';
import { normalizeAddress } from '../transport/tcp.js';
import { SseClient } from '../web/sse-client.js';
import { SSE_PATH } from '../web/paths.js';
import type { HttpApp } from './http-server.js';
import { dataPlaneRoute, publicRoute } from './route-access.js';

export interface EventsRouteOptions {
  broker: Broker;
  clients: ConnectionRegistry;
  logger: Logger;
  flow: OutboundFlow;
  secure: boolean;
  allowedOrigins: readonly string[] | undefined;
  clientOrigin: (peerAddress: string, req: IncomingMessage) => ClientOrigin;
  /** Per-topic history, for Last-Event-ID (resume); null when none is kept. */
  history: HistoryStore | null;
  /** The far bound on connections of every protocol, past which a request is refused at once. */
  hardConnectionLimit: number;
}

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, '');

export function registerEventsRoute(app: HttpApp, options: EventsRouteOptions): void {
  const allowed = options.allowedOrigins === undefined ? null : new Set(options.allowedOrigins.map(normalizeOrigin));
  const scheme = options.secure ? 'https' : 'http';
  // A begun stream is off Node's HTTP parser (transport/sse.ts), so the server's
  // closeAllConnections() at shutdown does not reach it: closed here, as it was there.
  const streams = new Set<SseConnection>();
  app.addHook('preClose', async () => {
    for (const stream of [...streams]) stream.destroy();
  });
  // A reconnecting EventSource sends Last-Event-ID, which is not a CORS-safelisted header: a page
  // on another origin may be preflighted first. The answer grants nothing by itself (the GET is
  // authorized on its own); it names the allowed origin as the GET's answer would.
  app.options(SSE_PATH, publicRoute, (request, reply) => {
    const raw = request.headers.origin;
    const origin = typeof raw === 'string' ? normalizeOrigin(raw) : undefined;
    if (origin === undefined || (allowed !== null && !allowed.has(origin))) return reply.code(403).send();
    reply.header('access-control-allow-origin', raw as string).header('vary', 'Origin');
    reply.header('access-control-allow-methods', 'GET').header('access-control-allow-headers', 'last-event-id, cache-control').header('access-control-max-age', '600');
    if (allowed !== null) reply.header('access-control-allow-credentials', 'true');
    return reply.code(204).send();
  });
  app.get(SSE_PATH, dataPlaneRoute, (request, reply) => {
    const req = request.raw;
    const origin = typeof req.headers.origin === 'string' ? normalizeOrigin(req.headers.origin) : undefined;
    if (origin !== undefined && allowed !== null && !allowed.has(origin)) {
      return reply.code(403).send({ error: 'forbidden', message: 'this Origin may not open an event stream (listeners.http.allowedOrigins)' });
    }
    if (options.clients.size >= options.hardConnectionLimit) {
      return reply.code(503).send({ error: 'server-full', message: 'too many connections' });
    }
    const own = req.headers.host !== undefined && origin === `${scheme}://${req.headers.host.toLowerCase()}`;
    // No Origin is not enough: a browser sends none on a cross-site <img>, <iframe> or link to
    // /events?clientId=... (no-cors GET, navigation), yet sends a SameSite=None cookie with it, and
    // such a request, though it cannot read the stream, connects as the cookie's owner and takes
    // over its client ID. Fetch Metadata (W3C, Sec-Fetch-Site) says where it came from; absent:
    // not a browser that sends it.
    const fetchSite = req.headers['sec-fetch-site'];
    const fromThisOrigin = fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none';
    const sameSite = origin === undefined ? fromThisOrigin : own || (allowed !== null && allowed.has(origin));
    const extraHeaders: Record<string, string> = {};
    if (origin !== undefined && !own) {
      extraHeaders['Access-Control-Allow-Origin'] = req.headers.origin as string;
      extraHeaders['Vary'] = 'Origin';
      if (sameSite) extraHeaders['Access-Control-Allow-Credentials'] = 'true';
    }
    let headers = req.headers;
    if (!sameSite && headers.cookie !== undefined) {
      const { cookie: _dropped, ...rest } = headers;
      headers = rest;
    }
    const peer = normalizeAddress(req.socket.remoteAddress);
    reply.hijack();
    const connection = new SseConnection(req, reply.raw, {
      secure: options.secure,
      client: options.clientOrigin(peer, req),
      flow: options.flow,
      extraHeaders,
      headers,
      streams,
    });
    const client = new SseClient(connection, options.broker, options.clients, options.logger, options.history);
    options.clients.add(client);
    client.begin();
  });
}
