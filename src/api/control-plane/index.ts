// The AWS IoT control plane on Switchboard's HTTP listener: what `aws iot ...`, boto3's
// client('iot') and @aws-sdk/client-iot call with the endpoint pointed here. Admin routes
// (route-access.ts): the admin token, loopback as allowed, or SigV4 for service `iot` with an
// admin access key (admin-sigv4.ts). AWS's paths do not meet Switchboard's others: /authorizer/,
// /authorizers/, /default-authorizer, /rules, /endpoint versus /api/, /topics/, /retainedMessage,
// /connections/, /mqtt and the console's files.
import type { HttpApp } from '../http-server.js';
import { addUnmatchedResponder } from '../http-server.js';
import type { ArnScope } from '../../policy/index.js';
import type { FunctionDirectory } from '../../functions/function-directory.js';
import type { AuthorizerOperations } from '../authorizer-operations.js';
import type { RuleOperations } from '../rule-operations.js';
import { badRequest } from '../errors.js';
import { adminRoute } from '../route-access.js';
import { registerControlPlaneAuthorizers } from './authorizers.js';
import { registerControlPlaneRules } from './topic-rules.js';
import { UnsupportedOperations } from './unsupported.js';

export interface ControlPlaneOptions {
  authorizers: AuthorizerOperations;
  rules: RuleOperations;
  functions: FunctionDirectory;
  scope: ArnScope;
}

/** The operations served here; docs/compatibility.md lists them too. */
export const SUPPORTED_OPERATIONS: ReadonlySet<string> = new Set([
  'CreateAuthorizer',
  'DescribeAuthorizer',
  'ListAuthorizers',
  'UpdateAuthorizer',
  'DeleteAuthorizer',
  'SetDefaultAuthorizer',
  'DescribeDefaultAuthorizer',
  'TestInvokeAuthorizer',
  'CreateTopicRule',
  'GetTopicRule',
  'ListTopicRules',
  'ReplaceTopicRule',
  'DeleteTopicRule',
  'EnableTopicRule',
  'DisableTopicRule',
  'DescribeEndpoint',
]);

/** AWS's endpoint types; the data endpoints are this listener, the others do not exist here. */
const DATA_ENDPOINTS = new Set(['iot:Data', 'iot:Data-ATS']);

export function registerControlPlane(app: HttpApp, options: ControlPlaneOptions): void {
  app.register(async (scope) => {
    // restJson1 bodies are JSON whatever the content type says (botocore and the JS SDK send
    // application/json, or nothing with an empty body); an empty body is no members.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(badRequest('the request body is not valid JSON'), undefined);
      }
    });
    registerControlPlaneAuthorizers(scope, options);
    registerControlPlaneRules(scope, options);

    // DescribeEndpoint: GET /endpoint?endpointType=iot:Data-ATS. The address is the one this
    // request reached (its Host): devices, the data plane and WebSockets share this listener.
    scope.get<{ Querystring: { endpointType?: string } }>('/endpoint', adminRoute, async (request) => {
      const type = request.query.endpointType ?? 'iot:Data';
      if (!DATA_ENDPOINTS.has(type)) throw badRequest(`endpointType ${type} is not served by Switchboard; iot:Data-ATS and iot:Data are (this listener)`);
      const host = request.headers.host;
      if (host === undefined || host === '') throw badRequest('the request has no Host header to name the endpoint by');
      return { endpointAddress: host };
    });
  });
  addUnmatchedResponder(app, new UnsupportedOperations(SUPPORTED_OPERATIONS).respond);
}
