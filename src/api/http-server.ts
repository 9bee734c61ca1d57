// The one HTTP server: MQTT over WebSocket on /mqtt (upgrade), the admin API, health; later the
// data-plane API and the console. Fastify owns request routing; upgrades bypass it.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import type { AdminConfig } from '../config/schema.js';
import { AdminSessions, CSRF_HEADER, SESSION_COOKIE, sameSecret } from './admin-sessions.js';
import type { HttpListenerConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { resolveClientAddress, TrustedProxies, type ClientAddressHeader } from '../auth/client-address.js';
import { isLocalRequest } from '../auth/local-request.js';
import { OPENAPI } from './openapi.js';
import { adminRoute, installAccessControl, publicRoute, type RouteRegistry, type SignedAdminCheck } from './route-access.js';

export interface HttpServerOptions {
  listener: HttpListenerConfig;
  logger: Logger;
  admin: AdminConfig;
  sessions: AdminSessions;
  /** SigV4-signed admin callers (admin-sigv4.ts); absent: signatures open no admin route. */
  verifySignedAdmin?: SignedAdminCheck;
}

export type HttpApp = FastifyInstance<http.Server | https.Server>;

const registries = new WeakMap<HttpApp, RouteRegistry>();

/** Answers a request no route matched, or returns false to leave it a plain 404. */
export type UnmatchedResponder = (request: FastifyRequest, reply: FastifyReply) => boolean;
const unmatchedResponders = new WeakMap<HttpApp, UnmatchedResponder[]>();

/** Lets a front (the AWS IoT control plane) answer requests of its shape that no route matched. */
export function addUnmatchedResponder(app: HttpApp, responder: UnmatchedResponder): void {
  const list = unmatchedResponders.get(app);
  if (list === undefined) unmatchedResponders.set(app, [responder]);
  else list.push(responder);
}

/** The routes registered on an app made by createHttpServer, with their declared access. */
export function routeRegistry(app: HttpApp): RouteRegistry {
  const registry = registries.get(app);
  if (registry === undefined) throw new Error('not an app made by createHttpServer');
  return registry;
}

/** Who sent an HTTP request, as every route and guard sees it. */
export interface RequestClient {
  /** The client's address: the socket's peer, or what a trusted proxy forwarded. */
  address: string;
  /** The loopback rule holds (auth/local-request.ts): loopback conveniences apply. */
  local: boolean;
}

const kClient = Symbol('switchboard.client');
type WithClient = FastifyRequest & { [kClient]?: RequestClient };
const NO_PROXIES = new TrustedProxies([]);

function computeClient(request: FastifyRequest, trusted: TrustedProxies, header: ClientAddressHeader | undefined): RequestClient {
  const peer = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const client = resolveClientAddress(peer, request.headers, trusted, header);
  const local =
    isLocalRequest({ peerAddress: peer, proxied: client.proxiedBy !== undefined, headers: request.headers }) &&
    // An absolute-form target (`GET http://rebind.example/api/keys`) names the host, and the Host
    // header must be ignored (RFC 9112 §3.2.2); a repeated Host is ambiguous (Node keeps the
    // first, a proxy may have used another). Browsers send neither to a server: not local.
    request.raw.url?.startsWith('/') === true &&
    hostCount(request.raw.rawHeaders) === 1;
  return { address: client.address, local };
}

function hostCount(rawHeaders: string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}

/**
 * The request's client, resolved once when it arrived (createHttpServer's first hook). A request
 * that somehow skipped the hook is judged without trusted proxies (its peer, loopback rule).
 */
export function requestClient(request: FastifyRequest): RequestClient {
  const r = request as WithClient;
  return (r[kClient] ??= computeClient(request, NO_PROXIES, undefined));
}

/**
 * Who is calling the admin API: 'token', 'loopback', or the signed-in user; null for nobody.
 * A cookie session's state-changing request without the CSRF header counts as nobody.
 */
export function adminCaller(request: FastifyRequest, options: Pick<HttpServerOptions, 'admin' | 'sessions'>): string | null {
  const token = options.admin.token;
  const auth = request.headers.authorization;
  if (token !== undefined && typeof auth === 'string' && auth.startsWith('Bearer ') && sameSecret(auth.slice(7), token)) return 'token';
  // Loopback alone is not trust: no proxy header, a loopback Host and Origin (auth/local-request.ts).
  if (!options.admin.requireSignInOnLoopback && requestClient(request).local) return 'loopback';
  const user = options.sessions.user(request.cookies?.[SESSION_COOKIE]);
  if (user === null) return null;
  if (request.method !== 'GET' && request.method !== 'HEAD' && request.headers[CSRF_HEADER] === undefined) return null;
  return user;
}

const REQUEST_DEADLINES = { headersTimeout: 10_000, requestTimeout: 30_000 } as const;

export function createHttpServer(options: HttpServerOptions): HttpApp {
  const tls = options.listener.tls;
  const app = Fastify<http.Server | https.Server>({
    // A request has 10 s for its headers and 30 s for all of it (Node's defaults are 60 s and
    // 5 min): a caller trickling a body cannot hold a socket and its buffer for minutes. Upgraded
    // WebSockets are not requests once upgraded, so this does not limit them.
    serverFactory: (handler) =>
      tls
        ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key), ...REQUEST_DEADLINES }, handler)
        : http.createServer(REQUEST_DEADLINES, handler),
    loggerInstance: options.logger.child({ component: 'http' }) as never,
    // No line per request (the top-level disableRequestLogging option is deprecated: FSTDEP023).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1 << 20,
  });

  // First of all hooks: who the client is (listeners.http.trustedProxies), before any guard asks.
  const trusted = new TrustedProxies(options.listener.trustedProxies ?? []);
  const header = options.listener.clientAddressHeader;
  app.addHook('onRequest', (request, _reply, done) => {
    (request as WithClient)[kClient] = computeClient(request, trusted, header);
    done();
  });

  app.register(fastifyCookie);
  // Who may call each route is declared by the route and decided on the matched route
  // (route-access.ts): the admin API and /metrics are open to loopback (unless
  // admin.requireSignInOnLoopback), to the admin token, and to a signed-in console session, whose
  // state-changing requests must carry the CSRF header.
  registries.set(app, installAccessControl(app, (request) => adminCaller(request, options), options.verifySignedAdmin));
  app.get('/healthz', publicRoute, async () => ({ status: 'ok' }));
  // Under /api/ like the rest of the admin API (it always was): a stranger learns nothing from it.
  app.get('/api/openapi.json', adminRoute, async () => OPENAPI);

  app.setErrorHandler((error: { statusCode?: number; name?: string; message: string; validation?: unknown }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500 && status !== 504) options.logger.error({ err: error }, 'HTTP API error');
    // Fastify's own errors (bad JSON, body too large) carry FST_ codes; name them as AWS would.
    const name =
      status === 413 ? 'RequestEntityTooLargeException' : status >= 500 && status !== 504 ? 'InternalFailureException' : error.name && error.name !== 'Error' && !error.name.startsWith('Fastify') ? error.name : 'InvalidRequestException';
    reply.code(status).header('x-amzn-ErrorType', name).send({ code: name, message: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    for (const respond of unmatchedResponders.get(app) ?? []) if (respond(request, reply)) return;
    reply.code(404).send({ code: 'NotFoundException', message: 'Not Found' });
  });
  return app;
}
