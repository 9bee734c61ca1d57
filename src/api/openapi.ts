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

export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Switchboard HTTP API',
    version: '1',
    description:
      'Data plane compatible with AWS IoT Core (what @aws-sdk/client-iot-data-plane calls), and the admin API under /api/. Errors carry the AWS error type in the x-amzn-ErrorType header.',
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
      post: { summary: 'Create an access key for SigV4 callers; the secret is returned once', description: 'policyDocuments: a non-empty array of policy documents; description: optional', security: admin, requestBody: jsonBody, responses: { '201': json('accessKeyId, secretAccessKey, status'), ...errors } },
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
    '/api/policy/check': {
      post: { summary: 'Evaluate policy documents for one action and resource', description: 'policyDocuments, action, resource (an ARN or client/..., topic/..., topicfilter/...), optional clientId and sourceIp', security: admin, requestBody: jsonBody, responses: { '200': json('effect, reason, resource, decidedBy'), '400': errors['400'] } },
    },
    '/api/openapi.json': {
      get: { summary: 'This document', security: admin, responses: { '200': json('OpenAPI 3.0 document') } },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', security: admin, responses: { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
    },
    '/healthz': {
      get: { summary: 'Liveness check', security: [], responses: { '200': json('status: ok') } },
    },
  },
} as const;
