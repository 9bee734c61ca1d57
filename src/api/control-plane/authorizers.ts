// The AWS IoT control plane's authorizer operations, on AWS's REST paths and JSON shapes
// (API reference, iot 2015-05-28): CreateAuthorizer, DescribeAuthorizer, ListAuthorizers,
// UpdateAuthorizer, DeleteAuthorizer, SetDefaultAuthorizer, DescribeDefaultAuthorizer,
// TestInvokeAuthorizer. Each is a translation onto AuthorizerOperations, the logic the /api/
// routes use: authorizerFunctionArn names a function in functions.dir (lambda-arn.ts).
//
// Differences, documented in docs/compatibility.md: `tags` are accepted and not kept;
// enableCachingForHttp may only be false (auth.resultCacheSize caches answers for all
// authorizers); http authorizers from the config file are described without
// authorizerFunctionArn and cannot be given one.
import type { HttpApp } from '../http-server.js';
import type { AuthorizerRecord } from '../../store/authorizer-store.js';
import type { TestInvokeInput } from '../../auth/test-invoke.js';
import type { ArnScope } from '../../policy/index.js';
import type { FunctionDirectory } from '../../functions/function-directory.js';
import type { AuthorizerOperations } from '../authorizer-operations.js';
import { badRequest } from '../errors.js';
import { adminRoute } from '../route-access.js';
import { functionArnOf, functionNameOf } from './lambda-arn.js';
import { bodyOf, epochSeconds, optionalBoolean, page, queryBoolean, queryInteger, type JsonObject } from './request.js';

export interface ControlPlaneAuthorizerOptions {
  authorizers: AuthorizerOperations;
  functions: FunctionDirectory;
  scope: ArnScope;
}

type Params = { Params: { authorizerName: string } };

const CREATE = ['authorizerFunctionArn', 'tokenKeyName', 'tokenSigningPublicKeys', 'status', 'tags', 'signingDisabled', 'enableCachingForHttp'] as const;
const UPDATE = ['authorizerFunctionArn', 'tokenKeyName', 'tokenSigningPublicKeys', 'status', 'enableCachingForHttp'] as const;
const TEST = ['token', 'tokenSignature', 'httpContext', 'mqttContext', 'tlsContext'] as const;

function checkCaching(body: JsonObject): void {
  if (optionalBoolean(body, 'enableCachingForHttp') === true) {
    throw badRequest('enableCachingForHttp: Switchboard has no per-authorizer HTTP cache; set auth.resultCacheSize in the config to reuse authorizer answers');
  }
}

/** The members Switchboard's definition shares with AWS's request, copied when present. */
function sharedMembers(body: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of ['tokenKeyName', 'tokenSigningPublicKeys', 'status', 'signingDisabled']) if (body[key] !== undefined && body[key] !== null) out[key] = body[key];
  return out;
}

export function registerControlPlaneAuthorizers(app: HttpApp, options: ControlPlaneAuthorizerOptions): void {
  const { authorizers, functions, scope } = options;
  const summary = (name: string) => ({ authorizerName: name, authorizerArn: authorizers.arn(name) });

  /** AWS's AuthorizerDescription. */
  const description = (record: AuthorizerRecord) => {
    const d = authorizers.describe(record);
    return {
      authorizerName: d.authorizerName,
      authorizerArn: d.authorizerArn,
      ...(record.type === 'function' && record.handler ? { authorizerFunctionArn: functionArnOf(record.handler, scope) } : {}),
      ...(d.tokenKeyName !== undefined ? { tokenKeyName: d.tokenKeyName } : {}),
      ...(d.tokenSigningPublicKeys !== undefined ? { tokenSigningPublicKeys: d.tokenSigningPublicKeys } : {}),
      status: d.status,
      creationDate: epochSeconds(d.creationDate),
      lastModifiedDate: epochSeconds(d.lastModifiedDate),
      signingDisabled: d.signingDisabled,
      enableCachingForHttp: false,
    };
  };

  // CreateAuthorizer: POST /authorizer/{authorizerName}
  app.post<Params>('/authorizer/:authorizerName', adminRoute, async (request) => {
    const body = bodyOf(request.body, CREATE);
    checkCaching(body);
    const handler = functionNameOf(body['authorizerFunctionArn'], 'authorizerFunctionArn', functions);
    const record = authorizers.create({ name: request.params.authorizerName, type: 'function', handler, ...sharedMembers(body) });
    return summary(record.name);
  });

  // DescribeAuthorizer: GET /authorizer/{authorizerName}
  app.get<Params>('/authorizer/:authorizerName', adminRoute, async (request) => ({
    authorizerDescription: description(authorizers.get(request.params.authorizerName)),
  }));

  // UpdateAuthorizer: PUT /authorizer/{authorizerName}
  app.put<Params>('/authorizer/:authorizerName', adminRoute, async (request) => {
    const body = bodyOf(request.body, UPDATE);
    checkCaching(body);
    const changes = sharedMembers(body);
    if (body['authorizerFunctionArn'] !== undefined) {
      changes['type'] = 'function';
      changes['handler'] = functionNameOf(body['authorizerFunctionArn'], 'authorizerFunctionArn', functions);
    }
    return summary(authorizers.update(request.params.authorizerName, changes).name);
  });

  // DeleteAuthorizer: DELETE /authorizer/{authorizerName}
  app.delete<Params>('/authorizer/:authorizerName', adminRoute, async (request) => {
    authorizers.delete(request.params.authorizerName);
    return {};
  });

  // ListAuthorizers: GET /authorizers/?pageSize&marker&isAscendingOrder&status (botocore sends
  // the model's trailing slash, the JS SDK's smithy model has none)
  const list = async (request: { query: Record<string, string | undefined> }) => {
    const q = request.query;
    const size = queryInteger(q['pageSize'], 'pageSize', 1, 250) ?? 250;
    const descending = queryBoolean(q['isAscendingOrder'], 'isAscendingOrder') === false;
    const status = q['status'];
    if (status !== undefined && status !== 'ACTIVE' && status !== 'INACTIVE') throw badRequest('status must be ACTIVE or INACTIVE');
    const names = authorizers
      .list()
      .filter((r) => status === undefined || r.status === status)
      .map((r) => r.name)
      .sort();
    if (descending) names.reverse();
    const { items, next } = page(names, (n) => n, q['marker'], size, descending);
    return { authorizers: items.map(summary), ...(next !== undefined ? { nextMarker: next } : {}) };
  };
  for (const url of ['/authorizers', '/authorizers/']) app.get<{ Querystring: Record<string, string | undefined> }>(url, adminRoute, list);

  // SetDefaultAuthorizer: POST /default-authorizer
  app.post('/default-authorizer', adminRoute, async (request) => {
    const body = bodyOf(request.body, ['authorizerName']);
    return summary(authorizers.setDefault(body['authorizerName']));
  });

  // DescribeDefaultAuthorizer: GET /default-authorizer
  app.get('/default-authorizer', adminRoute, async () => ({
    authorizerDescription: description(authorizers.get(authorizers.defaultName())),
  }));

  // TestInvokeAuthorizer: POST /authorizer/{authorizerName}/test
  app.post<Params>('/authorizer/:authorizerName/test', adminRoute, async (request) => {
    const body = bodyOf(request.body, TEST);
    return authorizers.testInvoke(request.params.authorizerName, body as TestInvokeInput);
  });
}
