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

type ConnectionList = { connections: (ReturnType<typeof describeClient> & { node?: string })[]; total: number };

/** In a cluster: asks every node for its part of a listing. */
export interface ClusterListing {
  readonly nodeId: string;
  handle(op: string, handler: (args: Record<string, unknown>) => unknown): void;
  gather(op: string, args: Record<string, unknown>): Promise<unknown[]>;
}

export function registerAdminConnectionRoutes(app: HttpApp, broker: Broker, clients: ClientRegistry, cluster: ClusterListing | null = null): void {
  const listLocal = (q: string, limit: number): ConnectionList => {
    const out: ConnectionList['connections'] = [];
    let total = 0;
    for (const c of clients.all()) {
      if (!c.connected) continue;
      const d = c.details();
      if (q && !d.clientId.toLowerCase().includes(q) && !d.principal.toLowerCase().includes(q) && !d.remoteAddress.includes(q)) continue;
      total++;
      if (out.length < limit) out.push(cluster === null ? describeClient(c) : { ...describeClient(c), node: cluster.nodeId });
    }
    return { connections: out, total };
  };
  cluster?.handle('admin.connections', (args) => listLocal(String(args.q ?? ''), Number(args.limit) || 100));

  app.get<{ Querystring: { q?: string; limit?: string } }>('/api/connections', adminRoute, async (request) => {
    const q = (request.query.q ?? '').toLowerCase();
    const limit = Math.min(Math.max(Number(request.query.limit ?? 100) || 100, 1), 10000);
    if (cluster === null) return listLocal(q, limit);
    // Every node's part, merged; a node that does not answer in time is left out (and logged there).
    const parts = (await cluster.gather('admin.connections', { q, limit })) as ConnectionList[];
    const all = parts.flatMap((p) => p.connections).sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    return { connections: all.slice(0, limit), total: parts.reduce((n, p) => n + p.total, 0), nodes: parts.length };
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
