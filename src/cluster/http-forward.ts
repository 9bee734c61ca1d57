// In a cluster, the HTTP API answers about every client wherever its connection is: a request
// naming a client held by another node (data plane GetConnection, DeleteConnection,
// ListSubscriptions, direct messages; the admin API's connection routes) is replayed on that node
// with the same method, URL, headers, body and caller address, so it is authorized there exactly
// as it was here, and its answer is passed back unchanged.
import type { Broker } from '../broker/broker.js';
import type { HttpApp } from '../api/http-server.js';
import type { Cluster } from './cluster.js';

const FORWARDED = 'x-switchboard-forwarded-by';
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);
const CLIENT_ROUTE = /^\/(?:api\/)?connections\/([^/?]+)/;

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

export function registerClusterForwarding(app: HttpApp, broker: Broker, cluster: Cluster): void {
  cluster.handle('http', async (args) => {
    const r = args as unknown as ForwardedRequest;
    const res = await app.inject({
      method: r.method as 'GET',
      url: r.url,
      headers: { ...r.headers, [FORWARDED]: cluster.nodeId },
      ...(r.body !== null ? { payload: Buffer.from(r.body, 'base64') } : {}),
      remoteAddress: r.remoteAddress,
    });
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'x-amzn-requestid']) {
      const value = res.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return { status: res.statusCode, headers, body: res.rawPayload.toString('base64') } satisfies ForwardedReply;
  });

  app.addHook('preHandler', async (request, reply) => {
    if (request.headers[FORWARDED] !== undefined) return;
    const match = CLIENT_ROUTE.exec(request.url);
    if (match === null) return;
    let clientId: string;
    try {
      clientId = decodeURIComponent(match[1]!);
    } catch {
      return;
    }
    if (broker.sessions.has(clientId)) return;
    const owner = await cluster.ownerOf(clientId);
    if (owner === null) return;
    const body = request.body;
    const forwarded: ForwardedRequest = {
      method: request.method,
      url: request.url,
      // The body may be re-encoded (a parsed JSON body), so its length is the receiver's to compute.
      headers: Object.fromEntries(
        Object.entries(request.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined && !HOP_HEADERS.has(e[0])),
      ),
      body: body === undefined || body === null ? null : Buffer.isBuffer(body) ? body.toString('base64') : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
      remoteAddress: request.ip,
    };
    const answer = (await cluster.call(owner, 'http', forwarded as unknown as Record<string, unknown>, 20_000)) as ForwardedReply;
    reply.code(answer.status);
    for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
    return reply.send(Buffer.from(answer.body, 'base64'));
  });
}
