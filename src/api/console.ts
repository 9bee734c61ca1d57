// What the web console needs besides the admin API: sign-in, an overview, live metrics and their
// history, the policy check form, Prometheus /metrics, and the console's static files.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { Registry } from 'prom-client';
import type { AdminConfig } from '../config/schema.js';
import type { Counters } from '../metrics/counters.js';
import { isRange, type MetricsHistory } from '../metrics/history.js';
import { arnFor, compilePolicies, describeVerdict, parsePolicyDocuments, type ArnScope, type IotResourceType } from '../policy/index.js';
import { AdminSessions, SESSION_COOKIE, sameSecret } from './admin-sessions.js';
import { ApiError, badRequest, unauthorized } from './errors.js';
import { adminCaller, requestClient, type HttpApp } from './http-server.js';
import { adminRoute, declareScopeAccess, publicRoute } from './route-access.js';
import { SignInThrottle } from './sign-in-throttle.js';
import type { Clock } from '../shared/clock.js';
import { CONSOLE_CREDENTIAL_PARAM, type ConsoleCredentials } from '../auth/console-credentials.js';

export interface ConsoleRoutesOptions {
  admin: AdminConfig;
  sessions: AdminSessions;
  consoleCredentials: ConsoleCredentials;
  secure: boolean;
  counters: Counters;
  history: MetricsHistory;
  prometheus: Registry;
  connected: () => number;
  /** Connected now by protocol (mqtt, json, sse); absent: not reported. */
  connectedByProtocol?: () => Map<string, number>;
  scope: ArnScope;
  /** Failed sign-ins per caller address (a default one when absent). */
  signInThrottle?: SignInThrottle;
  /** The default sign-in throttle's clock; default the system clock. */
  clock?: Clock;
  overview: () => Record<string, unknown>;
}

/** dist/console, built by `npm run build:console` (part of `npm run build`). */
export const CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));

/**
 * Files under assets/ carry a content hash in their names (Vite), so a changed file has a new
 * name: they can be cached for a year and never revalidated (RFC 8246 immutable). index.html names
 * the current ones, so it is revalidated on every load (its ETag makes that a 304).
 */
export function consoleCacheControl(path: string): string {
  const rel = path.slice(CONSOLE_DIR.length).replaceAll('\\', '/');
  return rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

export function registerConsoleRoutes(app: HttpApp, options: ConsoleRoutesOptions): void {
  const { admin, sessions, counters, history } = options;
  const throttle = options.signInThrottle ?? new SignInThrottle(options.clock ? { clock: options.clock } : {});

  app.get('/api/session', publicRoute, async (request) => {
    const user = adminCaller(request, options);
    if (user === null) throw unauthorized('not signed in');
    return { user };
  });

  app.post('/api/session', publicRoute, async (request, reply) => {
    const body = (request.body ?? {}) as { username?: unknown; password?: unknown };
    if (admin.username === undefined || admin.password === undefined) {
      throw unauthorized('sign-in is not configured: set admin.username and admin.password');
    }
    const caller = requestClient(request).address;
    const wait = throttle.retryAfterSeconds(caller);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new ApiError('ThrottlingException', 429, `too many failed sign-ins from ${caller}; try again in ${wait} s`);
    }
    if (typeof body.username !== 'string' || typeof body.password !== 'string' || !sameSecret(body.username, admin.username) || !sameSecret(body.password, admin.password)) {
      throttle.failed(caller);
      throw unauthorized('wrong user name or password');
    }
    throttle.succeeded(caller);
    const id = sessions.create(body.username);
    reply.setCookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', secure: options.secure, path: '/', maxAge: 12 * 3600 });
    reply.code(204);
    return null;
  });

  app.delete('/api/session', publicRoute, async (request, reply) => {
    sessions.delete(request.cookies?.[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.code(204);
    return null;
  });

  // The MQTT test client's one-time credential (auth/console-credentials.ts). Admin-only like
  // every /api route; the caller is asked again here because the credential is bound to it, and
  // a cookie session's POST carries the CSRF header or counts as nobody (adminCaller).
  app.post('/api/console/mqtt-credential', adminRoute, async (request, reply) => {
    const user = adminCaller(request, options);
    if (user === null) throw unauthorized('sign in to the console, call from loopback, or send the admin token');
    const issued = options.consoleCredentials.issue(user);
    reply.header('cache-control', 'no-store');
    return { credential: issued.credential, parameter: CONSOLE_CREDENTIAL_PARAM, expiresAt: new Date(issued.expiresAt).toISOString() };
  });

  app.get('/api/overview', adminRoute, async () => options.overview());

  app.get('/api/metrics', adminRoute, async () => {
    let failures = 0;
    for (const v of counters.connectFailures.values()) failures += v;
    return {
      time: Date.now(),
      connected: options.connected(),
      ...(options.connectedByProtocol ? { connectedByProtocol: Object.fromEntries(options.connectedByProtocol()) } : {}),
      totals: {
        connects: counters.connectionsAccepted,
        connectFailures: failures,
        messagesIn: counters.messagesReceived,
        messagesOut: counters.messagesDelivered,
        bytesIn: counters.bytesReceived,
        bytesOut: counters.bytesSent,
        qos0Dropped: counters.qos0Dropped,
        queueDropped: counters.queueDropped,
        authorizerInvocations: counters.authorizerInvocations,
        denials: { connect: counters.deniedConnect, publish: counters.deniedPublish, subscribe: counters.deniedSubscribe, receive: counters.deniedReceive },
        ruleExecutions: counters.ruleExecutions,
        ruleFailures: counters.ruleFailures,
        ruleQueueDropped: counters.ruleQueueDropped,
        connectionMinutes: Math.round(history.connectionMinutes * 100) / 100,
        // AWS bills messages in and out (each up to 5 KB) alike.
        billedMessages: counters.messagesReceived + counters.messagesDelivered,
      },
    };
  });

  app.get<{ Querystring: { range?: string; since?: string } }>('/api/metrics/history', adminRoute, async (request) => {
    const range = request.query.range ?? '15m';
    if (!isRange(range)) throw badRequest('range must be 15m, 1h or 24h');
    const result = history.history(range);
    // The Monitor polls every second for what is new since its last point.
    const since = Number(request.query.since);
    return Number.isFinite(since) && since > 0 ? { ...result, points: result.points.filter((p) => p.t > since) } : result;
  });

  app.get('/metrics', adminRoute, async (_request, reply) => {
    reply.header('content-type', options.prometheus.contentType);
    return options.prometheus.metrics();
  });

  app.post('/api/policy/check', adminRoute, async (request) => {
    const body = (request.body ?? {}) as { policyDocuments?: unknown; action?: unknown; resource?: unknown; clientId?: unknown; sourceIp?: unknown };
    if (!Array.isArray(body.policyDocuments)) throw badRequest('policyDocuments must be an array of policy documents');
    if (typeof body.action !== 'string' || typeof body.resource !== 'string') throw badRequest('action and resource are required');
    const parsed = parsePolicyDocuments(body.policyDocuments);
    if (!parsed.ok) throw badRequest(`policy document ${parsed.error.documentIndex ?? 0}, ${parsed.error.path}: ${parsed.error.message}`);
    let resource = body.resource;
    if (!resource.startsWith('arn:')) {
      const slash = resource.indexOf('/');
      const type = resource.slice(0, slash) as IotResourceType;
      if (slash <= 0 || !['client', 'topic', 'topicfilter'].includes(type)) throw badRequest('resource must be an ARN or client/..., topic/..., topicfilter/...');
      resource = arnFor(options.scope, type, resource.slice(slash + 1));
    }
    const policy = compilePolicies(parsed.value, {
      ...(typeof body.clientId === 'string' ? { clientId: body.clientId } : {}),
      ...(typeof body.sourceIp === 'string' ? { sourceIp: body.sourceIp } : {}),
    });
    const verdict = policy.evaluate(body.action, resource);
    // statement: 0-based indexes of the deciding statement (the console numbers from 1), or null.
    return { effect: verdict.effect, reason: verdict.reason, resource, decidedBy: describeVerdict(verdict), statement: verdict.statement };
  });

  if (existsSync(CONSOLE_DIR + 'index.html')) {
    // The console's files are public (its data comes from admin routes); @fastify/static takes no
    // route options, so its scope declares them.
    app.register(async (scope) => {
      declareScopeAccess(scope, 'public');
      await scope.register(fastifyStatic, {
        root: CONSOLE_DIR,
        prefix: '/',
        index: ['index.html'],
        wildcard: false,
        // The build writes .br and .gz beside each file (src/console/vite.config.ts); the one the
        // browser accepts is sent with Content-Encoding, and Vary: Accept-Encoding on every answer.
        preCompressed: true,
        cacheControl: false,
        setHeaders: (reply, path) => reply.header('cache-control', consoleCacheControl(path)),
      });
    });
  } else {
    app.get('/', publicRoute, async (_request, reply) => {
      reply.type('text/html').send('<!doctype html><title>Switchboard</title><p>The console is not built: run <code>npm run build</code>.</p>');
    });
  }
}
