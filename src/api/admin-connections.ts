// Admin API: live connections (search, detail, disconnect) and retained messages, for the CLI
// and the console. Guarded like every /api/ route (loopback or the admin token).
import type { Broker } from '../broker/broker.js';
import type { Client } from '../broker/client.js';
import type { ClientRegistry } from '../broker/client-registry.js';
import { RC } from '../protocol/reason-codes.js';
import { notFound } from './errors.js';
import type { HttpApp } from './http-server.js';

function describeClient(c: Client) {
  const session = c.session;
  return {
    clientId: c.clientId,
    principal: c.principal,
    ipAddress: c.connection.remoteAddress,
    port: c.connection.remotePort,
    protocolVersion: c.version === 5 ? '5.0' : c.version === 4 ? '3.1.1' : '3.1',
    transport: c.connection.transport,
    connectedSince: new Date(c.connectedAt).toISOString(),
    keepAliveSeconds: c.keepAliveMs / 1000,
    persistentSession: session?.persistent ?? false,
    subscriptions: session ? [...session.subscriptions.values()].map((s) => ({ topicFilter: s.key, qos: s.qos })) : [],
    messagesIn: c.messagesIn,
    messagesOut: c.messagesOut,
    inflight: session?.inflight.size ?? 0,
    queued: session?.queue.length ?? 0,
    droppedMessages: session?.droppedMessages ?? 0,
  };
}

export function registerAdminConnectionRoutes(app: HttpApp, broker: Broker, clients: ClientRegistry): void {
  app.get<{ Querystring: { q?: string; limit?: string } }>('/api/connections', async (request) => {
    const q = (request.query.q ?? '').toLowerCase();
    const limit = Math.min(Math.max(Number(request.query.limit ?? 100) || 100, 1), 10000);
    const out = [];
    let total = 0;
    for (const c of clients.all()) {
      if (c.state !== 'connected') continue;
      if (q && !c.clientId.toLowerCase().includes(q) && !c.principal.toLowerCase().includes(q) && !c.connection.remoteAddress.includes(q)) continue;
      total++;
      if (out.length < limit) out.push(describeClient(c));
    }
    return { connections: out, total };
  });

  app.get<{ Params: { clientId: string } }>('/api/connections/:clientId', async (request) => {
    const client = broker.sessions.get(request.params.clientId)?.client as Client | null | undefined;
    if (!client) throw notFound(`client ${request.params.clientId} is not connected`);
    return describeClient(client);
  });

  app.delete<{ Params: { clientId: string } }>('/api/connections/:clientId', async (request, reply) => {
    const client = broker.sessions.get(request.params.clientId)?.client as Client | null | undefined;
    if (!client) throw notFound(`client ${request.params.clientId} is not connected`);
    client.disconnect(RC.administrativeAction, 'disconnected by an administrator', 'api-disconnect');
    reply.code(204);
    return null;
  });

  app.get<{ Querystring: { filter?: string; limit?: string } }>('/api/retained', async (request) => {
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

  app.delete<{ Querystring: { topic?: string } }>('/api/retained', async (request, reply) => {
    const topic = request.query.topic;
    if (!topic || broker.retained.get(topic) === undefined) throw notFound(`no retained message on ${topic ?? '(no topic given)'}`);
    broker.retained.delete(topic);
    reply.code(204);
    return null;
  });
}
