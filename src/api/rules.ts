// Admin API for rules (the CLI's `switchboard rules ...` and the console call it).
import { RuleDefinitionError, RulesEngine } from '../rules/engine.js';
import { FunctionNameError, type FunctionDirectory } from '../functions/function-directory.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { HttpApp } from './http-server.js';
import { adminRoute } from './route-access.js';

function asApiError(err: unknown): unknown {
  if (err instanceof RuleDefinitionError) {
    const e = new ApiError('InvalidRequestException', 400, err.message) as ApiError & { line?: number; column?: number };
    return e;
  }
  return err;
}

/**
 * Network input is a value, never a path: every function action in a rule sent over the API names
 * a function in functions.dir (config-file rules may give paths). Throws a 400 naming the action.
 */
function checkFunctionActions(body: unknown, functions: FunctionDirectory): void {
  if (typeof body !== 'object' || body === null) return;
  const { actions, errorAction } = body as { actions?: unknown; errorAction?: unknown };
  const all = [...(Array.isArray(actions) ? actions.map((a, i) => [`actions.${i}`, a] as const) : []), ['errorAction', errorAction] as const];
  for (const [where, action] of all) {
    const f = (action as { function?: { handler?: unknown } } | null | undefined)?.function;
    if (typeof f !== 'object' || f === null) continue;
    try {
      functions.resolve(f.handler as string);
    } catch (err) {
      if (err instanceof FunctionNameError) throw badRequest(`${where}.function.handler: ${err.message}`);
      throw err;
    }
  }
}

export function registerRuleRoutes(app: HttpApp, engine: RulesEngine, functions: FunctionDirectory): void {
  // stats: this node's executions, failures and last error for the rule (RulesEngine.stats).
  const describe = (r: ReturnType<RulesEngine['list']>[number]) => ({ ...r.definition, createdAt: r.createdAt, lastModifiedAt: r.lastModifiedAt, stats: engine.stats(r.name) });

  app.get('/api/rules', adminRoute, async () => ({ rules: engine.list().map(describe), queued: engine.queued }));

  app.get<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request) => {
    const rule = engine.get(request.params.name);
    if (rule === undefined) throw notFound(`rule ${request.params.name} does not exist`);
    return describe(rule);
  });

  app.post('/api/rules', adminRoute, async (request, reply) => {
    checkFunctionActions(request.body, functions);
    try {
      const rule = engine.put(request.body, { replace: false });
      reply.code(201);
      return describe(rule);
    } catch (err) {
      throw asApiError(err);
    }
  });

  app.put<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request) => {
    if (engine.get(request.params.name) === undefined) throw notFound(`rule ${request.params.name} does not exist`);
    const body = { ...((request.body ?? {}) as Record<string, unknown>), name: request.params.name };
    checkFunctionActions(body, functions);
    try {
      return describe(engine.put(body, { replace: true }));
    } catch (err) {
      throw asApiError(err);
    }
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post<{ Params: { name: string } }>(`/api/rules/:name/${verb}`, adminRoute, async (request) => {
      const rule = engine.setEnabled(request.params.name, enabled);
      if (rule === undefined) throw notFound(`rule ${request.params.name} does not exist`);
      return describe(rule);
    });
  }

  app.delete<{ Params: { name: string } }>('/api/rules/:name', adminRoute, async (request, reply) => {
    if (!engine.delete(request.params.name)) throw notFound(`rule ${request.params.name} does not exist`);
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
      throw asApiError(err);
    }
  });
}
