// Admin API for authorizers, shaped after AWS IoT's control plane (CreateAuthorizer,
// DescribeAuthorizer, ListAuthorizers, UpdateAuthorizer, DeleteAuthorizer, SetDefaultAuthorizer,
// TestInvokeAuthorizer). The CLI's `switchboard authorizers ...` commands call it; the AWS IoT
// control plane (control-plane/authorizers.ts) is another front of the same operations.
import type { HttpApp } from './http-server.js';
import type { TestInvokeInput } from '../auth/test-invoke.js';
import type { AuthorizerOperations } from './authorizer-operations.js';
import { adminRoute } from './route-access.js';

export function registerAuthorizerRoutes(app: HttpApp, authorizers: AuthorizerOperations): void {
  const summary = (name: string) => ({ authorizerName: name, authorizerArn: authorizers.arn(name) });

  app.get('/api/authorizers', adminRoute, async () => ({
    authorizers: authorizers.list().map((r) => ({ ...summary(r.name), status: r.status })),
    defaultAuthorizerName: authorizers.currentDefault() ?? null,
  }));

  app.post('/api/authorizers', adminRoute, async (request, reply) => {
    const record = authorizers.create(request.body);
    reply.code(201);
    return summary(record.name);
  });

  app.get<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request) => ({
    authorizerDescription: authorizers.describe(authorizers.get(request.params.name)),
  }));

  app.patch<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request) =>
    summary(authorizers.update(request.params.name, request.body ?? {}).name),
  );

  app.delete<{ Params: { name: string } }>('/api/authorizers/:name', adminRoute, async (request, reply) => {
    authorizers.delete(request.params.name);
    reply.code(204);
    return null;
  });

  app.get('/api/default-authorizer', adminRoute, async () => summary(authorizers.defaultName()));

  app.put('/api/default-authorizer', adminRoute, async (request) =>
    summary(authorizers.setDefault((request.body as { authorizerName?: unknown } | undefined)?.authorizerName)),
  );

  app.delete('/api/default-authorizer', adminRoute, async (_request, reply) => {
    authorizers.clearDefault();
    reply.code(204);
    return null;
  });

  app.post<{ Params: { name: string } }>('/api/authorizers/:name/test', adminRoute, async (request) =>
    authorizers.testInvoke(request.params.name, (request.body ?? {}) as TestInvokeInput),
  );
}
