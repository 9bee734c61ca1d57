// In a cluster, the HTTP API answers about every client wherever its connection is: a request
// naming a client held by another node (data plane GetConnection, DeleteConnection,
// ListSubscriptions, direct messages; the admin API's connection routes) is replayed on that node
// with the same method, URL, headers, body and caller address, so it is authorized there exactly
// as it was here, and its answer (status, body, content type and the x-amzn-* headers) is passed
// back unchanged.
//
// The caller address is what the owner's policies and admin guard judge, so it is read when the
// request arrives (requestClient: the peer, or the client a trusted proxy named): after an await
// the socket may be gone (the caller hung up) and its address undefined — replayed without it,
// light-my-request would make the caller 127.0.0.1. A request whose address is unknown is
// refused, never replayed. The replay keeps the original headers, so a request that came through
// a proxy (X-Forwarded-For, a non-loopback Host) is not local on the owner either.
//
// Only the client routes are replayed, and the receiving node checks that too: anyone who can
// publish on the Redis channels can send an 'http' call, and it must not reach the admin API.
// Which route a request is for is what the router matched (after decoding, so /%61pi/connections/c1
// is the admin route it names); the replay uses that route's canonical URL, which is what the
// receiving node's strict pattern accepts.
//   replayed: GET /connections/c1, DELETE /connections/c1?x=1, GET /connections/c1/subscriptions,
//             POST /connections/c1/messages, GET|DELETE /api/connections/c1
//   refused:  /api/connections (the list), /api/retained, /connections/c1/other, /topics/a
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Broker } from '../broker/broker.js';
import { requestClient, type HttpApp } from './http-server.js';
import type { Cluster } from '../cluster/cluster.js';

const FORWARDED = 'x-switchboard-forwarded-by';
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);
/** The client routes as registered (Fastify's route URLs). */
const CLIENT_ROUTES: ReadonlySet<string> = new Set(['/connections/:clientId', '/connections/:clientId/subscriptions', '/connections/:clientId/messages', '/api/connections/:clientId']);
/** The replayed URL a receiving node accepts (see the file-top note); group 1 or 2 is the client ID, still URL-encoded. */
const CLIENT_ROUTE = /^\/(?:connections\/([^/?#]+)(?:\/subscriptions|\/messages)?|api\/connections\/([^/?#]+))(?:\?[^#]*)?$/;
const METHODS = new Set(['GET', 'DELETE', 'POST']);
/** Reply headers passed back besides the x-amzn-* ones (x-amzn-RequestId, x-amzn-ErrorType). */
const REPLY_HEADERS = new Set(['content-type']);

interface ForwardedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body: string | null;
  remoteAddress: string;
}

interface ForwardedReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The caller's address as read on arrival (see the file-top note). */
const kCaller = Symbol('switchboard.caller');
type WithCaller = FastifyRequest & { [kCaller]?: string | undefined };

function clientIdOf(url: string): string | null {
  const match = CLIENT_ROUTE.exec(url);
  if (match === null) return null;
  try {
    return decodeURIComponent(match[1] ?? match[2]!);
  } catch {
    return null;
  }
}

/** The client ID of a request the router matched to a client route (decoded), else null. */
function matchedClientId(request: FastifyRequest): string | null {
  const route = request.routeOptions.url;
  if (route === undefined || !CLIENT_ROUTES.has(route)) return null;
  const clientId = (request.params as { clientId?: unknown } | undefined)?.clientId;
  return typeof clientId === 'string' ? clientId : null;
}

/** The matched client route's URL with the client ID encoded once, and the query as sent. */
function canonicalUrl(request: FastifyRequest, clientId: string): string {
  const q = request.url.indexOf('?');
  return request.routeOptions.url!.replace(':clientId', encodeURIComponent(clientId)) + (q < 0 ? '' : request.url.slice(q));
}

// Synchronous (done-style), so nothing awaited comes between the request's arrival and this read.
function captureCaller(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (request.headers[FORWARDED] === undefined && matchedClientId(request) !== null) (request as WithCaller)[kCaller] = requestClient(request).address;
  done();
}

const isHeaderValue = (v: unknown): v is string | string[] => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));

/** Throws unless `args` is a replay of a client route this node may answer. */
function checkForwarded(args: Record<string, unknown>): ForwardedRequest {
  const { method, url, headers, body, remoteAddress } = args;
  if (typeof remoteAddress !== 'string' || remoteAddress.length === 0) throw new Error('forwarded request has no caller address');
  if (typeof method !== 'string' || !METHODS.has(method)) throw new Error('forwarded request has a method no client route takes');
  if (typeof url !== 'string' || clientIdOf(url) === null) throw new Error('forwarded request is not for a client route');
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || !Object.values(headers).every(isHeaderValue)) {
    throw new Error('forwarded request has bad headers');
  }
  if (body !== null && typeof body !== 'string') throw new Error('forwarded request has a bad body');
  return { method, url, headers: headers as Record<string, string | string[]>, body, remoteAddress };
}

export function registerClusterForwarding(app: HttpApp, broker: Broker, cluster: Cluster): void {
  cluster.handle('http', async (args) => {
    const r = checkForwarded(args);
    const res = await app.inject({
      method: r.method as 'GET',
      url: r.url,
      headers: { ...r.headers, [FORWARDED]: cluster.nodeId },
      ...(r.body !== null ? { payload: Buffer.from(r.body, 'base64') } : {}),
      remoteAddress: r.remoteAddress,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (!REPLY_HEADERS.has(name) && !name.startsWith('x-amzn-')) continue;
      if (typeof value === 'string' || typeof value === 'number') headers[name] = String(value);
    }
    return { status: res.statusCode, headers, body: res.rawPayload.toString('base64') } satisfies ForwardedReply;
  });

  app.addHook('onRequest', captureCaller);

  app.addHook('preHandler', async (request, reply) => {
    if (request.headers[FORWARDED] !== undefined) return;
    const clientId = matchedClientId(request);
    if (clientId === null) return;
    if (broker.sessions.has(clientId)) return;
    const remoteAddress = (request as WithCaller)[kCaller];
    const owner = await cluster.ownerOf(clientId);
    if (owner === null) return;
    if (typeof remoteAddress !== 'string' || remoteAddress.length === 0) {
      return reply
        .code(503)
        .header('x-amzn-ErrorType', 'ServiceUnavailableException')
        .send({ code: 'ServiceUnavailableException', message: 'the caller address is unknown, so the request cannot be passed to the node holding the client' });
    }
    const body = request.body;
    const forwarded: ForwardedRequest = {
      method: request.method,
      url: canonicalUrl(request, clientId),
      // The body may be re-encoded (a parsed JSON body), so its length is the receiver's to compute.
      headers: Object.fromEntries(
        Object.entries(request.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined && !HOP_HEADERS.has(e[0])),
      ),
      body: body === undefined || body === null ? null : Buffer.isBuffer(body) ? body.toString('base64') : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
      remoteAddress,
    };
    const answer = (await cluster.call(owner, 'http', forwarded as unknown as Record<string, unknown>, 20_000)) as ForwardedReply;
    reply.code(answer.status);
    for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
    return reply.send(Buffer.from(answer.body, 'base64'));
  });
}
