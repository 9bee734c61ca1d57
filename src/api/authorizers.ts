// Admin API for authorizers, shaped after AWS IoT's control plane (CreateAuthorizer,
// DescribeAuthorizer, ListAuthorizers, UpdateAuthorizer, DeleteAuthorizer, SetDefaultAuthorizer,
// TestInvokeAuthorizer). The CLI's `switchboard authorizers ...` commands call it.
import type { HttpApp } from './http-server.js';
import { arnPrefix, type ArnScope } from '../policy/index.js';
import type { AuthorizerStore } from '../store/authorizer-store.js';
import { AuthorizerDefinitionError, checkApiValues, describe, parseDefinition, toRecord } from '../auth/authorizer-records.js';
import type { FunctionDirectory } from '../functions/function-directory.js';
import type { FunctionPool } from '../functions/function-pool.js';
import { testInvokeAuthorizer, type TestInvokeInput } from '../auth/test-invoke.js';
import { adminRoute } from './route-access.js';

export interface AuthorizerRoutesOptions {
  store: AuthorizerStore;
  scope: ArnScope;
  pool: FunctionPool;
  /** The config's directory (records made from the API never read a path). */
  baseDir: string;
  /** functions.dir: where a handler named over the API must be. */
  functions: FunctionDirectory;
  testingMinimumTtlSeconds: number | undefined;
}

class ApiError extends Error {
  statusCode: number;
  constructor(name: string, statusCode: number, message: string) {
    super(message);
    this.name = name;
    this.statusCode = statusCode;
  }
}

const notFound = (name: string) => new ApiError('ResourceNotFoundException', 404, `authorizer ${name} does not exist`);

export function registerAuthorizerRoutes(app: HttpApp, options: AuthorizerRoutesOptions): void {
  const { store, scope, baseDir } = options;
  const prefix = arnPrefix(scope);
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AuthorizerDefinitionError) throw new ApiError('InvalidRequestException', 400, err.message);
      throw err;
    }
  };

  app.get('/api/authorizers', adminRoute, async () => ({
    authorizers: store.list().map((r) => ({ authorizerName: r.name, authorizerArn: `${prefix}authorizer/${r.name}`, status: r.status })),
    defaultAuthorizerName: store.getDefault() ?? null,
  }));

  app.post('/api/authorizers', adminRoute, async (request, reply) => {
    const definition = wrap(() => parseDefinition(request.body));
    // Network input is a value, never a path: a handler names a function, a key is PEM text.
    wrap(() => checkApiValues(definition, options.functions));
    if (store.get(definition.name) !== undefined) {
      throw new ApiError('ResourceAlreadyExistsException', 409, `authorizer ${definition.name} already exists`);
    }
    const record = wrap(() => toRecord(definition, baseDir, undefined, 'api'));
    store.put(record);
    reply.code(201);
    return { authorizerName: record.name, authorizerArn: `${prefix}authorizer/${record.name}` };
  });

  app.get<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request) => {
    const record = store.get(request.params.name);
    if (record === undefined) throw notFound(request.params.name);
    return { authorizerDescription: describe(record, prefix, store.getDefault() === record.name) };
  });

  app.patch<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request) => {
    const record = store.get(request.params.name);
    if (record === undefined) throw notFound(request.params.name);
    const changes = (request.body ?? {}) as Record<string, unknown>;
    if (typeof changes !== 'object' || Array.isArray(changes)) throw new ApiError('InvalidRequestException', 400, 'body must be an object');
    // AWS: signing cannot be switched after creation; the name and kind are the record's identity.
    for (const fixed of ['name', 'type', 'signingDisabled']) {
      if (fixed in changes && changes[fixed] !== (record as unknown as Record<string, unknown>)[fixed]) {
        throw new ApiError('InvalidRequestException', 400, `${fixed} cannot be changed after creation`);
      }
    }
    const { creationDate: _c, lastModifiedDate: _m, ...current } = record;
    // Only the values this request supplies are checked: a handler path the config file gave
    // the record stays (the operator wrote it) unless the request replaces it.
    wrap(() => checkApiValues(changes, options.functions));
    const merged = wrap(() => parseDefinition({ ...current, ...changes }));
    const updated = wrap(() => toRecord(merged, baseDir, record, 'api'));
    store.put(updated);
    return { authorizerName: updated.name, authorizerArn: `${prefix}authorizer/${updated.name}` };
  });

  app.delete<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request, reply) => {
    if (!store.delete(request.params.name)) throw notFound(request.params.name);
    reply.code(204);
    return null;
  });

  app.get('/api/default-authorizer', adminRoute, async () => {
    const name = store.getDefault();
    if (name === undefined) throw new ApiError('ResourceNotFoundException', 404, 'no default authorizer is set');
    return { authorizerName: name, authorizerArn: `${prefix}authorizer/${name}` };
  });

  app.put('/api/default-authorizer', adminRoute, async (request) => {
    const name = (request.body as { authorizerName?: unknown } | undefined)?.authorizerName;
    if (typeof name !== 'string') throw new ApiError('InvalidRequestException', 400, 'authorizerName is required');
    if (store.get(name) === undefined) throw notFound(name);
    store.setDefault(name);
    return { authorizerName: name, authorizerArn: `${prefix}authorizer/${name}` };
  });

  app.delete('/api/default-authorizer', adminRoute, async (_request, reply) => {
    store.setDefault(undefined);
    reply.code(204);
    return null;
  });

  app.post<{ Params: { name: string } }>('/api/authorizers/:name/test', adminRoute, async (request) => {
    const record = store.get(request.params.name);
    if (record === undefined) throw notFound(request.params.name);
    return testInvokeAuthorizer(record, (request.body ?? {}) as TestInvokeInput, {
      pool: options.pool,
      ...(options.testingMinimumTtlSeconds !== undefined ? { minSeconds: options.testingMinimumTtlSeconds } : {}),
    });
  });
}

