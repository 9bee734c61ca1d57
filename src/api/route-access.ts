// Who may call each HTTP route, decided on the route the router matched (after it decoded the
// path), never by testing the raw URL: `/%61pi/keys`, `/%6detrics` and `/api/keys` are the same
// route to Fastify, so they must be the same route to the guard.
//
// Every route declares its access in its options — `app.get(url, adminRoute, handler)` or
// `{ config: { access: 'admin' } }` — and one onRequest hook enforces it:
//   'admin'      the admin API, the AWS IoT control plane, /metrics and the console's data:
//                adminCaller() must name a caller (admin token, loopback as allowed, or a signed-in
//                console session with CSRF header), else 401. A SigV4-signed request is decided by
//                its signature alone (admin-sigv4.ts: an admin key, service iot or execute-api), checked over
//                the raw body before it is parsed; loopback does not rescue a bad signature.
//   'data-plane' the AWS IoT data-plane routes: the handler authenticates the caller itself (SigV4,
//                custom authorizer, admin token, anonymous rule) and checks its policies.
//   'public'     anyone: health, the console's static files, sign-in/out.
// A route that declares nothing is refused for everyone (fail closed), and assertAccessDeclared()
// makes start-up fail naming it, so a forgotten declaration is found before it is served.
// Unmatched URLs (404) run no handler, so they need no decision.
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { HttpApp } from './http-server.js';
import { ApiError } from './errors.js';
import { sigV4Kind, type SigV4Request } from './sigv4/verify.js';

export type RouteAccess = 'admin' | 'data-plane' | 'public';

const ACCESS: ReadonlySet<string> = new Set<RouteAccess>(['admin', 'data-plane', 'public']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (see src/api/route-access.ts). */
    access?: RouteAccess;
  }
}

/** Route options for the common cases: `app.get('/api/x', adminRoute, handler)`. */
export const adminRoute = { config: { access: 'admin' } } as const satisfies { config: { access: RouteAccess } };
export const publicRoute = { config: { access: 'public' } } as const satisfies { config: { access: RouteAccess } };
export const dataPlaneRoute = { config: { access: 'data-plane' } } as const satisfies { config: { access: RouteAccess } };

export interface RegisteredRoute {
  method: string;
  url: string;
  /** undefined: the route declared nothing and is refused. */
  access: RouteAccess | undefined;
}

/** Every route registered on an app, with what it declared (read when asked: plugins may set it late). */
export class RouteRegistry {
  private readonly options: RouteOptions[] = [];

  record(options: RouteOptions): void {
    this.options.push(options);
  }

  list(): RegisteredRoute[] {
    const out: RegisteredRoute[] = [];
    for (const o of this.options) {
      const access = declaredAccess(o.config);
      for (const method of Array.isArray(o.method) ? o.method : [o.method]) out.push({ method, url: o.url, access });
    }
    return out;
  }

  undeclared(): RegisteredRoute[] {
    return this.list().filter((r) => r.access === undefined);
  }
}

function declaredAccess(config: unknown): RouteAccess | undefined {
  const access = (config as { access?: unknown } | undefined)?.access;
  return typeof access === 'string' && ACCESS.has(access) ? (access as RouteAccess) : undefined;
}

/**
 * Every route registered in `scope` (a plugin scope, e.g. one wrapping @fastify/static) that
 * declares nothing gets `access`. For plugins whose routes we cannot give options to.
 */
export function declareScopeAccess(scope: HttpApp, access: RouteAccess): void {
  scope.addHook('onRoute', (options) => {
    if (declaredAccess(options.config) === undefined) options.config = { ...(options.config ?? {}), access };
  });
}

export type AdminCallerCheck = (request: FastifyRequest) => string | null;

/** Checks a SigV4-signed admin request (raw path, query and body): the caller's name, or why not. */
export type SignedAdminCheck = ((request: SigV4Request) => string | ApiError) & {
  /**
   * What can be refused from the headers alone (no such key, inactive, expired, not an admin key),
   * before the body is read: without it anyone could make the server buffer a body per request.
   */
  precheck?: (request: Pick<SigV4Request, 'headers' | 'query'>) => ApiError | null;
};

const kSigned = Symbol('switchboard.signedAdmin');
type MaybeSigned = FastifyRequest & { [kSigned]?: true };

function rawQuery(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q < 0 ? '' : request.url.slice(q + 1);
}

/** The whole body, refused past `limit` bytes (the route's bodyLimit, as Fastify would). */
async function readBounded(payload: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) throw new ApiError('RequestEntityTooLargeException', 413, `the request body is larger than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Answers and returns the reply, which tells Fastify's async hook runner to stop here. */
function refuse(reply: FastifyReply, status: number, name: string, message: string): FastifyReply {
  return reply.code(status).header('x-amzn-ErrorType', name).send({ code: name, message });
}

/**
 * Records every route and enforces its declared access on each request. Call before any route is
 * registered (the hooks apply to routes and plugin scopes added after them).
 */
export function installAccessControl(app: HttpApp, isAdmin: AdminCallerCheck, verifySigned?: SignedAdminCheck): RouteRegistry {
  const registry = new RouteRegistry();
  app.addHook('onRoute', (options) => registry.record(options));
  // onRequest runs after routing, so routeOptions is the matched route's, decoded as the router did.
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return;
    const access = declaredAccess(request.routeOptions.config);
    if (access === 'public' || access === 'data-plane') return;
    if (access === undefined) {
      return refuse(reply, 403, 'ForbiddenException', 'this route declares no access rule, so nobody may call it');
    }
    // A signature covers the body, which is not read yet: decided in preParsing below.
    if (verifySigned !== undefined && sigV4Kind({ headers: request.headers, query: rawQuery(request) }) !== undefined) {
      const early = verifySigned.precheck?.({ headers: request.headers, query: rawQuery(request) }) ?? null;
      if (early !== null) return refuse(reply, early.statusCode, early.name, early.message);
      (request as MaybeSigned)[kSigned] = true;
      return;
    }
    if (isAdmin(request) !== null) return;
    // RFC 9110 §15.5.2: a 401 names the scheme that would do. It also tells this refusal apart
    // from a handler's own 401 (AWS answers a missing topic rule with UnauthorizedException).
    reply.header('www-authenticate', 'Bearer realm="switchboard"');
    return refuse(reply, 401, 'UnauthorizedException', 'sign in to the console, call from loopback, send the admin token, or sign with an admin access key');
  });
  if (verifySigned !== undefined) {
    // Before any parser sees the body: read it (bounded), verify the signature over the exact
    // bytes, and hand the parser the same bytes. A refusal is thrown to the error handler.
    app.addHook('preParsing', async (request, _reply, payload) => {
      if ((request as MaybeSigned)[kSigned] !== true) return payload;
      const body = await readBounded(payload, request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1 << 20);
      const q = request.url.indexOf('?');
      const verdict = verifySigned({ method: request.method, path: q < 0 ? request.url : request.url.slice(0, q), query: rawQuery(request), headers: request.headers, body });
      if (verdict instanceof ApiError) throw verdict;
      const replay = new PassThrough();
      replay.end(body);
      return replay;
    });
  }
  return registry;
}

/** Throws naming every route that declares no access (start-up fails rather than serve them). */
export function assertAccessDeclared(registry: RouteRegistry): void {
  const missing = registry.undeclared();
  if (missing.length === 0) return;
  throw new Error(`HTTP routes without a declared access (config.access: admin | data-plane | public): ${missing.map((r) => `${r.method} ${r.url}`).join(', ')}`);
}
