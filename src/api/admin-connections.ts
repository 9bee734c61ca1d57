// Admin API: live connections (search, detail, disconnect) and retained messages, for the CLI
// and the console. Guarded like every /api/ route (loopback or the admin token).
import type { Broker } from '../broker/broker.js';
import type { ClientConnection } from '../broker/client-connection.js';
import type { ClientRegistry } from '../mqtt/client-registry.js';
import { RC } from '../protocol/reason-codes.js';
import { notFound } from './errors.js';
import type { HttpApp } from './http-server.js';
import { adminRoute } from './route-access.js';

function describeClient(c: ClientConnection) {
  const session = c.session;
  const d = c.details();
  return {
    clientId: d.clientId,
    principal: d.principal,
    ipAddress: d.remoteAddress,
    port: d.remotePort,
    protocol: d.protocol,
    protocolVersion: d.protocolVersion,
    transport: d.transport,
    connectedSince: new Date(d.connectedAt).toISOString(),
    keepAliveSeconds: d.keepAliveSeconds,
    persistentSession: session?.persistent ?? false,
    subscriptions: session ? [...session.subscriptions.values()].map((s) => ({ topicFilter: s.key, qos: s.qos })) : [],
    messagesIn: d.messagesIn,
    messagesOut: d.messagesOut,
    inflight: session?.inflight.size ?? 0,
    queued: session?.queue.length ?? 0,
    droppedMessages: session?.droppedMessages ?? 0,
  };
}

type Described = ReturnType<typeof describeClient>;

/** Orders the console's table can ask for (?sort=); every list is paged with ?offset= and ?limit=. */
const SORT_KEYS: Record<string, (c: Described) => string | number> = {
  clientId: (c) => c.clientId,
  principal: (c) => c.principal,
  address: (c) => c.ipAddress,
  connectedSince: (c) => c.connectedSince,
  subscriptions: (c) => c.subscriptions.length,
  messagesIn: (c) => c.messagesIn,
  messagesOut: (c) => c.messagesOut,
};

function compareBy(sort: string, desc: boolean): (a: Described, b: Described) => number {
  const key = SORT_KEYS[sort] ?? SORT_KEYS.clientId!;
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    const c = x < y ? -1 : x > y ? 1 : a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0;
    return desc ? -c : c;
  };
}

interface ListQuery {
  q: string;
  limit: number;
  offset: number;
  /** Undefined: the registry's order (cheapest; the CLI's listing). */
  sort?: string;
  desc: boolean;
}

type ConnectionList = { connections: (ReturnType<typeof describeClient> & { node?: string })[]; total: number };

/** In a cluster: asks every node for its part of a listing. */
export interface ClusterListing {
  readonly nodeId: string;
  handle(op: string, handler: (args: Record<string, unknown>) => unknown): void;
  gather(op: string, args: Record<string, unknown>): Promise<unknown[]>;
}

export function registerAdminConnectionRoutes(app: HttpApp, broker: Broker, clients: ClientRegistry, cluster: ClusterListing | null = null): void {
  const listLocal = ({ q, limit, offset, sort, desc }: ListQuery): ConnectionList => {
    const out: ConnectionList['connections'] = [];
    let total = 0;
    const sorted = sort !== undefined;
    for (const c of clients.all()) {
      if (!c.connected) continue;
      const d = c.details();
      if (q && !d.clientId.toLowerCase().includes(q) && !d.principal.toLowerCase().includes(q) && !d.remoteAddress.includes(q)) continue;
      total++;
      // Sorted: every match is described and ordered before the page is cut (10,000 connections
      // sort in a few milliseconds); unsorted: only the page is described.
      if (sorted || (total > offset && out.length < limit)) out.push(cluster === null ? describeClient(c) : { ...describeClient(c), node: cluster.nodeId });
    }
    if (sorted) return { connections: out.sort(compareBy(sort, desc)).slice(offset, offset + limit), total };
    return { connections: out, total };
  };
  const readQuery = (raw: Record<string, unknown>): ListQuery => {
    const sort = typeof raw.sort === 'string' && raw.sort in SORT_KEYS ? raw.sort : undefined;
    return {
      q: String(raw.q ?? '').toLowerCase(),
      limit: Math.min(Math.max(Number(raw.limit ?? 100) || 100, 1), 10000),
      offset: Math.min(Math.max(Math.floor(Number(raw.offset ?? 0)) || 0, 0), 10_000_000),
      ...(sort !== undefined ? { sort } : {}),
      desc: raw.order === 'desc' || raw.desc === true,
    };
  };
  cluster?.handle('admin.connections', (args) => listLocal(readQuery(args)));

  app.get<{ Querystring: { q?: string; limit?: string; offset?: string; sort?: string; order?: string } }>('/api/connections', adminRoute, async (request) => {
    const query = readQuery(request.query);
    if (cluster === null) return listLocal(query);
    // Every node's first offset+limit in this order, merged; a node that does not answer in time
    // is left out (and logged there).
    const parts = (await cluster.gather('admin.connections', { q: query.q, limit: query.offset + query.limit, offset: 0, sort: query.sort ?? 'clientId', desc: query.desc })) as ConnectionList[];
    const all = parts.flatMap((p) => p.connections).sort(compareBy(query.sort ?? 'clientId', query.desc));
    return { connections: all.slice(query.offset, query.offset + query.limit), total: parts.reduce((n, p) => n + p.total, 0), nodes: parts.length };
  });

  app.get<{ Params: { clientId: string } }>('/api/connections/:clientId', adminRoute, async (request) => {
    const client = broker.sessions.get(request.params.clientId)?.client;
    if (!client) throw notFound(`client ${request.params.clientId} is not connected`);
    return describeClient(client);
  });

  app.delete<{ Params: { clientId: string } }>('/api/connections/:clientId', adminRoute, async (request, reply) => {
    const client = broker.sessions.get(request.params.clientId)?.client;
    if (!client) throw notFound(`client ${request.params.clientId} is not connected`);
    client.disconnect(RC.administrativeAction, 'disconnected by an administrator', 'api-disconnect');
    reply.code(204);
    return null;
  });

  app.get<{ Querystring: { filter?: string; limit?: string } }>('/api/retained', adminRoute, async (request) => {
    const filter = request.query.filter || '#';
    const limit = Math.min(Math.max(Number(request.query.limit ?? 100) || 100, 1), 10000);
    const all = broker.retained.match(filter).sort((a, b) => (a.topic < b.topic ? -1 : 1));
    return {
      total: all.length,
      retained: all.slice(0, limit).map((m) => ({
        topic: m.topic,
        qos: m.qos,
        payloadSize: m.payload.length,
        payload: m.payload.toString('base64'),
        lastModifiedTime: m.receivedAt ?? 0,
        ...(m.properties ? { properties: { ...m.properties, correlationData: m.properties.correlationData?.toString('base64') } } : {}),
      })),
    };
  });

  app.delete<{ Querystring: { topic?: string } }>('/api/retained', adminRoute, async (request, reply) => {
    const topic = request.query.topic;
    if (!topic || broker.retained.get(topic) === undefined) throw notFound(`no retained message on ${topic ?? '(no topic given)'}`);
    broker.retained.delete(topic);
    reply.code(204);
    return null;
  });
}
