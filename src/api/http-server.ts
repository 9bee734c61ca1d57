// The one HTTP server: MQTT over WebSocket on /mqtt (upgrade), the admin API, health; later the
// data-plane API and the console. Fastify owns request routing; upgrades bypass it.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import type { AdminConfig } from '../config/schema.js';
import { AdminSessions, CSRF_HEADER, SESSION_COOKIE, sameSecret } from './admin-sessions.js';
import type { ListenerConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { isLoopback } from '../auth/anonymous.js';
import { OPENAPI } from './openapi.js';
import { adminRoute, installAccessControl, publicRoute, type RouteRegistry } from './route-access.js';

export interface HttpServerOptions {
  listener: ListenerConfig;
  logger: Logger;
  admin: AdminConfig;
  sessions: AdminSessions;
}

export type HttpApp = FastifyInstance<http.Server | https.Server>;

const registries = new WeakMap<HttpApp, RouteRegistry>();

/** The routes registered on an app made by createHttpServer, with their declared access. */
export function routeRegistry(app: HttpApp): RouteRegistry {
  const registry = registries.get(app);
  if (registry === undefined) throw new Error('not an app made by createHttpServer');
  return registry;
}

/**
 * Who is calling the admin API: 'token', 'loopback', or the signed-in user; null for nobody.
 * A cookie session's state-changing request without the CSRF header counts as nobody.
 */
export function adminCaller(request: FastifyRequest, options: Pick<HttpServerOptions, 'admin' | 'sessions'>): string | null {
  const token = options.admin.token;
  const auth = request.headers.authorization;
  if (token !== undefined && typeof auth === 'string' && auth.startsWith('Bearer ') && sameSecret(auth.slice(7), token)) return 'token';
  const address = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  if (isLoopback(address) && !options.admin.requireSignInOnLoopback) return 'loopback';
  const user = options.sessions.user(request.cookies?.[SESSION_COOKIE]);
  if (user === null) return null;
  if (request.method !== 'GET' && request.method !== 'HEAD' && request.headers[CSRF_HEADER] === undefined) return null;
  return user;
}

export function createHttpServer(options: HttpServerOptions): HttpApp {
  const tls = options.listener.tls;
  const app = Fastify<http.Server | https.Server>({
    serverFactory: (handler) =>
      tls ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler) : http.createServer(handler),
    loggerInstance: options.logger.child({ component: 'http' }) as never,
    disableRequestLogging: true,
    bodyLimit: 1 << 20,
  });

  app.register(fastifyCookie);
  // Who may call each route is declared by the route and decided on the matched route
  // (route-access.ts): the admin API and /metrics are open to loopback (unless
  // admin.requireSignInOnLoopback), to the admin token, and to a signed-in console session, whose
  // state-changing requests must carry the CSRF header.
  registries.set(app, installAccessControl(app, (request) => adminCaller(request, options)));
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
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ code: 'NotFoundException', message: 'Not Found' });
  });
  return app;
}
