// The one HTTP server: MQTT over WebSocket on /mqtt (upgrade), the admin API, health; later the
// data-plane API and the console. Fastify owns request routing; upgrades bypass it.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ListenerConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { isLoopback } from '../auth/anonymous.js';
import { OPENAPI } from './openapi.js';

export interface HttpServerOptions {
  listener: ListenerConfig;
  logger: Logger;
  adminToken: string | undefined;
}

export type HttpApp = FastifyInstance<http.Server | https.Server>;

export function createHttpServer(options: HttpServerOptions): HttpApp {
  const tls = options.listener.tls;
  const app = Fastify<http.Server | https.Server>({
    serverFactory: (handler) =>
      tls ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler) : http.createServer(handler),
    loggerInstance: options.logger.child({ component: 'http' }) as never,
    disableRequestLogging: true,
    bodyLimit: 1 << 20,
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/openapi.json', async () => OPENAPI);

  // The admin API changes who may connect: loopback only, unless a bearer token is configured.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/')) return;
    const address = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    if (isLoopback(address)) return;
    const token = options.adminToken;
    if (token !== undefined && request.headers.authorization === `Bearer ${token}`) return;
    reply.code(401).send({ code: 'UnauthorizedException', message: 'the admin API needs a loopback client or the admin token' });
  });

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
