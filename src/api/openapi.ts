// The OpenAPI description of the HTTP API, served at /api/openapi.json. Written by hand next to
// the routes it describes (data-plane.ts, admin-connections.ts, authorizers.ts, access-keys.ts,
// rules.ts, console.ts, http-server.ts). test/api/openapi-routes.test.ts fails when a registered
// route is missing here.
const error = { $ref: '#/components/schemas/Error' };
const errors = {
  '400': { description: 'InvalidRequestException', content: { 'application/json': { schema: error } } },
  '401': { description: 'UnauthorizedException: no or unusable credentials', content: { 'application/json': { schema: error } } },
  '403': { description: 'ForbiddenException: the caller\'s policy does not allow it, or a bad signature', content: { 'application/json': { schema: error } } },
  '404': { description: 'ResourceNotFoundException', content: { 'application/json': { schema: error } } },
};
const json = (description: string, schema: object = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const queryParam = (name: string, schema: object, description: string) => ({ name, in: 'query', required: false, description, schema });
const admin = [{ adminToken: [] }];
const jsonBody = { content: { 'application/json': { schema: { type: 'object' } } } };
const controlPlane = [{ adminToken: [] }, { sigv4Admin: [] }];
/** AWS IoT control-plane errors; a missing topic rule is a 401 UnauthorizedException, as on AWS. */
const awsErrors = {
  '400': { description: 'InvalidRequestException, SqlParseException', content: { 'application/json': { schema: error } } },
  '401': { description: 'UnauthorizedException: no admin credentials, a non-admin key, or (topic rules) no such rule', content: { 'application/json': { schema: error } } },
  '403': { description: 'InvalidSignatureException, UnrecognizedClientException', content: { 'application/json': { schema: error } } },
  '404': { description: 'ResourceNotFoundException', content: { 'application/json': { schema: error } } },
};
const authorizerName = pathParam('authorizerName', 'the authorizer');
const ruleName = pathParam('ruleName', 'the topic rule');
const listAuthorizersParams = [
  queryParam('pageSize', { type: 'integer' }, '1-250'),
  queryParam('marker', { type: 'string' }, 'nextMarker of the previous page'),
  queryParam('isAscendingOrder', { type: 'boolean' }, 'default true'),
  queryParam('status', { type: 'string', enum: ['ACTIVE', 'INACTIVE'] }, 'only authorizers in this status'),
];

export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Switchboard HTTP API',
    version: '1',
    description:
      'Data plane compatible with AWS IoT Core (what @aws-sdk/client-iot-data-plane calls), the AWS IoT control plane for authorizers and topic rules (what @aws-sdk/client-iot and `aws iot` call), and the admin API under /api/. Errors carry the AWS error type in the x-amzn-ErrorType header; other AWS IoT control-plane operations answer 501 UnsupportedOperationException.',
  },
  components: {
    schemas: {
      Error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
      Ok: { type: 'object', properties: { message: { type: 'string', example: 'OK' }, traceId: { type: 'string' } } },
    },
    securitySchemes: {
      sigv4: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'AWS Signature Version 4 (service iotdata or iotdevicegateway) with a Switchboard access key' },
      customAuthorizer: { type: 'apiKey', in: 'header', name: 'x-amz-customauthorizer-name', description: 'a custom authorizer, with its token header' },
      adminToken: { type: 'http', scheme: 'bearer', description: 'admin API from non-loopback addresses' },
      sigv4Admin: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'AWS Signature Version 4 for service iot (or execute-api, as botocore signs) with an admin access key (switchboard keys create --admin): the admin API and the AWS IoT control plane' },
    },
  },
  paths: {
    '/topics/{topic}': {
      post: {
        summary: 'Publish (AWS IoT Publish)',
        parameters: [
          pathParam('topic', 'topic name, percent-encoded (%2F for /)'),
          queryParam('qos', { type: 'integer', enum: [0, 1] }, 'QoS, default 0'),
          queryParam('retain', { type: 'boolean' }, 'retain; an empty body with retain=true deletes the retained message'),
          queryParam('contentType', { type: 'string' }, 'MQTT 5 Content Type'),
          queryParam('responseTopic', { type: 'string' }, 'MQTT 5 Response Topic'),
          queryParam('messageExpiry', { type: 'integer' }, 'Message Expiry Interval, seconds'),
          { name: 'x-amz-mqtt5-user-properties', in: 'header', schema: { type: 'string' }, description: 'base64 of a JSON array of {"name":"value"} objects' },
          { name: 'x-amz-mqtt5-correlation-data', in: 'header', schema: { type: 'string' }, description: 'base64' },
          { name: 'x-amz-mqtt5-payload-format-indicator', in: 'header', schema: { type: 'string', enum: ['UTF8_DATA', 'UNSPECIFIED_BYTES'] } },
        ],
        requestBody: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        responses: { '200': json('published', { $ref: '#/components/schemas/Ok' }), ...errors },
      },
    },
    '/events': {
      get: {
        summary: 'Server-Sent Events: a listen-only stream of the messages on the given topic filters (docs/websocket-json.md)',
        parameters: [
          queryParam('topic', { type: 'string' }, 'a topic filter (+ and # allowed); repeat for several'),
          queryParam('clientId', { type: 'string' }, 'client ID (default: assigned, told in the connected event)'),
          queryParam('x-amz-customauthorizer-name', { type: 'string' }, 'custom authorizer; its token under its tokenKeyName (query, or a same-site cookie)'),
        ],
        responses: {
          '200': { description: 'text/event-stream: connected, subscribed, message and disconnect events', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '401': json('credentials missing or not accepted', { $ref: '#/components/schemas/Error' }),
          '403': json('not authorized (iot:Connect), or an Origin not allowed', { $ref: '#/components/schemas/Error' }),
        },
      },
    },
    '/retainedMessage/{topic}': {
      get: {
        summary: 'GetRetainedMessage',
        parameters: [pathParam('topic', 'topic name, percent-encoded')],
        responses: { '200': json('topic, payload (base64), qos, lastModifiedTime (ms), userProperties (base64 JSON)'), ...errors },
      },
    },
    '/retainedMessage': {
      get: {
        summary: 'ListRetainedMessages',
        parameters: [queryParam('maxResults', { type: 'integer', minimum: 1, maximum: 200 }, 'page size'), queryParam('nextToken', { type: 'string' }, 'from the previous page')],
        responses: { '200': json('retainedTopics[], nextToken'), ...errors },
      },
    },
    '/history/{topic}': {
      get: {
        summary: "A topic's recent messages from its history (Switchboard; docs/history.md); needs iot:Receive on the topic",
        parameters: [
          pathParam('topic', 'topic name, percent-encoded'),
          queryParam('since', { type: 'string' }, 'an id or cursor from an earlier answer: only what came after it'),
          queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'most messages (the newest), default 100'),
        ],
        responses: { '200': json('topic, messages[] (id, payload base64, qos, receivedAt, properties), reset, truncated, cursor'), ...errors },
      },
    },
    '/connections/{clientId}': {
      get: {
        summary: 'GetConnection',
        parameters: [pathParam('clientId', 'client ID'), queryParam('includeSocketInformation', { type: 'boolean' }, 'add sourceIp, sourcePort, targetIp, targetPort (default false)')],
        responses: { '200': json('connection state'), ...errors },
      },
      delete: {
        summary: 'DeleteConnection: disconnect a client (DISCONNECT 0x98, lifecycle reason API_INITIATED_DISCONNECT)',
        parameters: [
          pathParam('clientId', 'client ID'),
          queryParam('cleanSession', { type: 'boolean' }, 'also end its persistent session'),
          queryParam('preventWillMessage', { type: 'boolean' }, 'do not publish its will'),
        ],
        responses: { '200': json('disconnected'), ...errors },
      },
    },
    '/connections/{clientId}/subscriptions': {
      get: { summary: 'ListSubscriptions', parameters: [pathParam('clientId', 'client ID'), queryParam('maxResults', { type: 'integer' }, 'page size'), queryParam('nextToken', { type: 'string' }, 'next page')], responses: { '200': json('subscriptions[]'), ...errors } },
    },
    '/connections/{clientId}/messages': {
      post: {
        summary: 'SendDirectMessage: one message to one connected client',
        parameters: [
          pathParam('clientId', 'client ID'),
          queryParam('topic', { type: 'string' }, 'topic the client receives it on'),
          queryParam('confirmation', { type: 'boolean' }, 'QoS 1 and wait for PUBACK'),
          queryParam('timeout', { type: 'integer', minimum: 1, maximum: 15 }, 'seconds to wait for PUBACK (504 after)'),
        ],
        requestBody: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        responses: { '200': json('sent', { $ref: '#/components/schemas/Ok' }), '504': json('no PUBACK in time'), ...errors },
      },
    },
    '/api/connections': {
      get: { summary: 'List and search live connections', security: [{ adminToken: [] }], parameters: [queryParam('q', { type: 'string' }, 'search client ID, principal, IP'), queryParam('limit', { type: 'integer' }, 'at most'), queryParam('offset', { type: 'integer' }, 'skip this many'), queryParam('sort', { type: 'string', enum: ['clientId', 'principal', 'address', 'connectedSince', 'subscriptions', 'messagesIn', 'messagesOut'] }, 'order by'), queryParam('order', { type: 'string', enum: ['asc', 'desc'] }, 'with sort')], responses: { '200': json('connections[], total') } },
    },
    '/api/connections/{clientId}': {
      get: { summary: 'One connection', security: [{ adminToken: [] }], parameters: [pathParam('clientId', 'client ID')], responses: { '200': json('connection'), ...errors } },
      delete: { summary: 'Disconnect it', security: [{ adminToken: [] }], parameters: [pathParam('clientId', 'client ID')], responses: { '204': { description: 'disconnected' }, ...errors } },
    },
    '/api/retained': {
      get: { summary: 'List retained messages', security: [{ adminToken: [] }], parameters: [queryParam('filter', { type: 'string' }, 'topic filter, default #'), queryParam('limit', { type: 'integer' }, 'at most')], responses: { '200': json('retained[]') } },
      delete: { summary: 'Delete one', security: [{ adminToken: [] }], parameters: [queryParam('topic', { type: 'string' }, 'topic')], responses: { '204': { description: 'deleted' }, ...errors } },
    },
    '/api/authorizers': {
      get: { summary: 'ListAuthorizers', security: [{ adminToken: [] }], responses: { '200': json('authorizers[]') } },
      post: { summary: 'CreateAuthorizer', description: 'handler: a function name in functions.dir (never a path); tokenSigningPublicKeys: PEM text of RSA public keys', security: [{ adminToken: [] }], requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { '201': json('created'), ...errors } },
    },
    '/api/authorizers/{name}': {
      get: { summary: 'DescribeAuthorizer', security: [{ adminToken: [] }], parameters: [pathParam('name', 'authorizer')], responses: { '200': json('authorizerDescription'), ...errors } },
      patch: { summary: 'UpdateAuthorizer', security: [{ adminToken: [] }], parameters: [pathParam('name', 'authorizer')], responses: { '200': json('updated'), ...errors } },
      delete: { summary: 'DeleteAuthorizer', security: [{ adminToken: [] }], parameters: [pathParam('name', 'authorizer')], responses: { '204': { description: 'deleted' }, ...errors } },
    },
    '/api/authorizers/{name}/test': {
      post: { summary: 'TestInvokeAuthorizer', security: [{ adminToken: [] }], parameters: [pathParam('name', 'authorizer')], responses: { '200': json('isAuthenticated, principalId, policyDocuments[] (JSON strings), refreshAfterInSeconds, disconnectAfterInSeconds'), ...errors } },
    },
    '/api/default-authorizer': {
      get: { summary: 'DescribeDefaultAuthorizer', security: [{ adminToken: [] }], responses: { '200': json('default authorizer'), ...errors } },
      put: { summary: 'SetDefaultAuthorizer', security: [{ adminToken: [] }], responses: { '200': json('set'), ...errors } },
      delete: { summary: 'ClearDefaultAuthorizer', security: [{ adminToken: [] }], responses: { '204': { description: 'cleared' } } },
    },
    '/api/keys': {
      get: { summary: 'List access keys (without secrets)', security: admin, responses: { '200': json('keys[]') } },
      post: { summary: 'Create an access key for SigV4 callers; the secret is returned once', description: 'policyDocuments: a non-empty array of policy documents (optional with admin); description: optional; admin: true lets the key sign admin-plane calls (service iot or execute-api); expiresInSeconds (1 to 129600): a temporary key (ASIA...) whose signatures must carry its sessionToken as X-Amz-Security-Token (never an admin key)', security: admin, requestBody: jsonBody, responses: { '201': json('accessKeyId, secretAccessKey, status; temporary keys also sessionToken, expiration'), ...errors } },
    },
    '/api/keys/{id}': {
      patch: { summary: 'Update an access key (status Active|Inactive, policyDocuments, description)', security: admin, parameters: [pathParam('id', 'access key ID')], requestBody: jsonBody, responses: { '200': json('key'), ...errors } },
      delete: { summary: 'Delete an access key', security: admin, parameters: [pathParam('id', 'access key ID')], responses: { '204': { description: 'deleted' }, ...errors } },
    },
    '/api/rules': {
      get: { summary: 'List topic rules', security: admin, responses: { '200': json('rules[], queued') } },
      post: { summary: 'Create a topic rule', security: admin, requestBody: jsonBody, responses: { '201': json('rule'), ...errors } },
    },
    '/api/rules/test': {
      post: { summary: 'Evaluate a rule SQL statement against one message (topic, payload, clientId)', security: admin, requestBody: jsonBody, responses: { '200': json('result'), ...errors } },
    },
    '/api/rules/{name}': {
      get: { summary: 'One topic rule', security: admin, parameters: [pathParam('name', 'rule')], responses: { '200': json('rule'), ...errors } },
      put: { summary: 'Replace a topic rule', security: admin, parameters: [pathParam('name', 'rule')], requestBody: jsonBody, responses: { '200': json('rule'), ...errors } },
      delete: { summary: 'Delete a topic rule', security: admin, parameters: [pathParam('name', 'rule')], responses: { '204': { description: 'deleted' }, ...errors } },
    },
    '/api/rules/{name}/enable': {
      post: { summary: 'Enable a topic rule', security: admin, parameters: [pathParam('name', 'rule')], responses: { '200': json('rule'), ...errors } },
    },
    '/api/rules/{name}/disable': {
      post: { summary: 'Disable a topic rule', security: admin, parameters: [pathParam('name', 'rule')], responses: { '200': json('rule'), ...errors } },
    },
    '/api/session': {
      get: { summary: 'The signed-in console user', security: [], responses: { '200': json('user'), '401': errors['401'] } },
      post: { summary: 'Console sign-in (username, password); sets the session cookie', security: [], requestBody: jsonBody, responses: { '204': { description: 'signed in' }, '401': errors['401'], '429': json('ThrottlingException: too many failed sign-ins (Retry-After)', error) } },
      delete: { summary: 'Console sign-out', security: [], responses: { '204': { description: 'signed out' } } },
    },
    '/api/console/mqtt-credential': {
      post: { summary: "A short-lived credential for the console's MQTT test client", security: admin, responses: { '200': json('credential, parameter, expiresAt'), '401': errors['401'], '403': errors['403'] } },
    },
    '/api/overview': {
      get: { summary: "The console's overview: listeners, auth, store, cluster", security: admin, responses: { '200': json('overview') } },
    },
    '/api/metrics': {
      get: { summary: 'Current totals (connections, messages, bytes, denials, rules)', security: admin, responses: { '200': json('time, connected, totals') } },
    },
    '/api/metrics/history': {
      get: {
        summary: 'Time series for the console',
        security: admin,
        parameters: [queryParam('range', { type: 'string', enum: ['15m', '1h', '24h'] }, 'default 15m'), queryParam('since', { type: 'integer' }, 'only points after this time (ms)')],
        responses: { '200': json('points[]'), '400': errors['400'] },
      },
    },
    '/api/config/reload': {
      post: { summary: 'Reload the config file: authorizers, rules and limits (as SIGHUP does)', description: 'Returns what changed (authorizers, defaultAuthorizer, rules, limits) and needsRestart: settings that differ but change only on restart. A file that does not validate is refused (400) and the running configuration stays.', security: admin, responses: { '200': json('authorizers, rules, limits, needsRestart'), '400': errors['400'], '401': errors['401'] } },
    },
    '/api/policy/check': {
      post: { summary: 'Evaluate policy documents for one action and resource', description: 'policyDocuments, action, resource (an ARN or client/..., topic/..., topicfilter/...), optional clientId and sourceIp', security: admin, requestBody: jsonBody, responses: { '200': json('effect, reason, resource, decidedBy'), '400': errors['400'] } },
    },
    '/api/openapi.json': {
      get: { summary: 'This document', security: admin, responses: { '200': json('OpenAPI 3.0 document') } },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', security: admin, responses: { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
    },
    // The AWS IoT control plane (src/api/control-plane/): AWS's paths and JSON shapes, admin access.
    '/authorizer/{authorizerName}': {
      post: { summary: 'CreateAuthorizer (AWS IoT)', description: 'authorizerFunctionArn names a function in functions.dir by its name', security: controlPlane, parameters: [authorizerName], requestBody: jsonBody, responses: { '200': json('authorizerName, authorizerArn'), ...awsErrors, '409': json('ResourceAlreadyExistsException', error) } },
      get: { summary: 'DescribeAuthorizer (AWS IoT)', security: controlPlane, parameters: [authorizerName], responses: { '200': json('authorizerDescription'), ...awsErrors } },
      put: { summary: 'UpdateAuthorizer (AWS IoT)', security: controlPlane, parameters: [authorizerName], requestBody: jsonBody, responses: { '200': json('authorizerName, authorizerArn'), ...awsErrors } },
      delete: { summary: 'DeleteAuthorizer (AWS IoT)', security: controlPlane, parameters: [authorizerName], responses: { '200': json('empty'), ...awsErrors } },
    },
    '/authorizer/{authorizerName}/test': {
      post: { summary: 'TestInvokeAuthorizer (AWS IoT)', security: controlPlane, parameters: [authorizerName], requestBody: jsonBody, responses: { '200': json('isAuthenticated, principalId, policyDocuments, refreshAfterInSeconds, disconnectAfterInSeconds'), ...awsErrors } },
    },
    '/authorizers': {
      get: { summary: 'ListAuthorizers (AWS IoT; the JS SDK spelling)', security: controlPlane, parameters: listAuthorizersParams, responses: { '200': json('authorizers[], nextMarker'), ...awsErrors } },
    },
    '/authorizers/': {
      get: { summary: "ListAuthorizers (AWS IoT; botocore's spelling)", security: controlPlane, parameters: listAuthorizersParams, responses: { '200': json('authorizers[], nextMarker'), ...awsErrors } },
    },
    '/default-authorizer': {
      post: { summary: 'SetDefaultAuthorizer (AWS IoT)', security: controlPlane, requestBody: jsonBody, responses: { '200': json('authorizerName, authorizerArn'), ...awsErrors } },
      get: { summary: 'DescribeDefaultAuthorizer (AWS IoT)', security: controlPlane, responses: { '200': json('authorizerDescription'), ...awsErrors } },
    },
    '/rules': {
      get: {
        summary: 'ListTopicRules (AWS IoT)',
        security: controlPlane,
        parameters: [queryParam('topic', { type: 'string' }, 'only rules whose FROM topic filter is this'), queryParam('maxResults', { type: 'integer' }, '1-10000'), queryParam('nextToken', { type: 'string' }, 'from the previous page'), queryParam('ruleDisabled', { type: 'boolean' }, 'only disabled (true) or enabled (false) rules')],
        responses: { '200': json('rules[], nextToken'), ...awsErrors },
      },
    },
    '/rules/{ruleName}': {
      post: { summary: 'CreateTopicRule (AWS IoT)', description: 'the body is the TopicRulePayload; actions: republish, lambda, http', security: controlPlane, parameters: [ruleName], requestBody: jsonBody, responses: { '200': json('empty'), ...awsErrors, '409': json('ResourceAlreadyExistsException', error) } },
      get: { summary: 'GetTopicRule (AWS IoT)', security: controlPlane, parameters: [ruleName], responses: { '200': json('ruleArn, rule'), ...awsErrors } },
      patch: { summary: 'ReplaceTopicRule (AWS IoT)', security: controlPlane, parameters: [ruleName], requestBody: jsonBody, responses: { '200': json('empty'), ...awsErrors } },
      delete: { summary: 'DeleteTopicRule (AWS IoT)', security: controlPlane, parameters: [ruleName], responses: { '200': json('empty'), ...awsErrors } },
    },
    '/rules/{ruleName}/enable': {
      post: { summary: 'EnableTopicRule (AWS IoT)', security: controlPlane, parameters: [ruleName], responses: { '200': json('empty'), ...awsErrors } },
    },
    '/rules/{ruleName}/disable': {
      post: { summary: 'DisableTopicRule (AWS IoT)', security: controlPlane, parameters: [ruleName], responses: { '200': json('empty'), ...awsErrors } },
    },
    '/endpoint': {
      get: { summary: 'DescribeEndpoint (AWS IoT): this listener', security: controlPlane, parameters: [queryParam('endpointType', { type: 'string', enum: ['iot:Data', 'iot:Data-ATS'] }, 'default iot:Data')], responses: { '200': json('endpointAddress'), ...awsErrors } },
    },
    '/': {
      post: {
        summary: 'Amazon Cognito Identity (AWS JSON 1.1): GetId and GetCredentialsForIdentity for auth.identityPools (unauthenticated role)',
        description:
          'X-Amz-Target: AWSCognitoIdentityService.GetId ({IdentityPoolId} -> {IdentityId}) or AWSCognitoIdentityService.GetCredentialsForIdentity ({IdentityId} -> {IdentityId, Credentials: {AccessKeyId, SecretKey, SessionToken, Expiration (epoch s)}}); Content-Type: application/x-amz-json-1.1. Public, rate-limited per client address. Errors: {__type, message} with x-amzn-ErrorType.',
        security: [],
        parameters: [{ name: 'x-amz-target', in: 'header', required: true, schema: { type: 'string', enum: ['AWSCognitoIdentityService.GetId', 'AWSCognitoIdentityService.GetCredentialsForIdentity'] } }],
        requestBody: { content: { 'application/x-amz-json-1.1': { schema: { type: 'object' } } } },
        responses: {
          '200': { description: 'the operation\'s output', content: { 'application/x-amz-json-1.1': { schema: { type: 'object' } } } },
          '400': { description: 'ResourceNotFoundException, NotAuthorizedException, InvalidParameterException, TooManyRequestsException, UnknownOperationException', content: { 'application/x-amz-json-1.1': { schema: { type: 'object', properties: { __type: { type: 'string' }, message: { type: 'string' } } } } } },
        },
      },
      options: {
        summary: 'CORS preflight for browsers calling the Cognito Identity API (any origin, or listeners.http.allowedOrigins)',
        security: [],
        responses: { '204': { description: 'Access-Control-Allow-Origin/-Methods/-Headers' } },
      },
    },
    '/healthz': {
      get: { summary: 'Liveness check', security: [], responses: { '200': json('status: ok') } },
    },
  },
} as const;
