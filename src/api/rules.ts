// Admin API for rules (the CLI's `switchboard rules ...` and the console call it). The AWS IoT
// control plane (control-plane/topic-rules.ts) is another front of the same RuleOperations.
import { RuleDefinitionError, RulesEngine } from '../rules/engine.js';
import { badRequest, notFound } from './errors.js';
import type { HttpApp } from './http-server.js';
import type { RuleOperations } from './rule-operations.js';
import { adminRoute } from './route-access.js';

export function registerRuleRoutes(app: HttpApp, rules: RuleOperations): void {
  // stats: this node's executions, failures and last error for the rule (RulesEngine.stats).
  const describe = (r: ReturnType<RulesEngine['list']>[number]) => ({ ...r.definition, createdAt: r.createdAt, lastModifiedAt: r.lastModifiedAt, stats: rules.engine.stats(r.name) });

  app.get('/api/rules', adminRoute, async () => ({ rules: rules.list().map(describe), queued: rules.engine.queued }));

  app.get<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request) => describe(rules.get(request.params.name)));

  app.post('/api/rules', adminRoute, async (request, reply) => {
    const rule = rules.create(request.body);
    reply.code(201);
    return describe(rule);
  });

  app.put<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request) => {
    rules.get(request.params.name);
    return describe(rules.replace({ ...((request.body ?? {}) as Record<string, unknown>), name: request.params.name }));
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post<{ Params: { name: string } }>(`/api/rules/:name/${verb}`, adminRoute, async (request) => {
      const rule = rules.setEnabled(request.params.name, enabled);
      if (rule === undefined) throw notFound(`rule ${request.params.name} does not exist`);
      return describe(rule);
    });
  }

  app.delete<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request, reply) => {
    if (!rules.delete(request.params.name)) throw notFound(`rule ${request.params.name} does not exist`);
    reply.code(204);
    return null;
  });

  app.post('/api/rules/test', adminRoute, async (request) => {
    const body = (request.body ?? {}) as { sql?: unknown; topic?: unknown; payload?: unknown; clientId?: unknown };
    if (typeof body.sql !== 'string' || typeof body.topic !== 'string') throw badRequest('sql and topic are required');
    const payload = typeof body.payload === 'string' ? body.payload : JSON.stringify(body.payload ?? {});
    try {
      return RulesEngine.test(body.sql, { topic: body.topic, payload, ...(typeof body.clientId === 'string' ? { clientId: body.clientId } : {}) });
    } catch (err) {
      if (err instanceof RuleDefinitionError) throw badRequest(err.message);
      throw err;
    }
  });
}
