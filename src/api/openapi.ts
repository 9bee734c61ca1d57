// The OpenAPI description of the HTTP API, served at /api/openapi.json. Written by hand next to
// the routes it describes (data-plane.ts, admin-connections.ts, authorizers.ts).
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
      get: { summary: 'GetConnection', parameters: [pathParam('clientId', 'client ID')], responses: { '200': json('connection state'), ...errors } },
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
      get: { summary: 'List and search live connections', security: [{ adminToken: [] }], parameters: [queryParam('q', { type: 'string' }, 'search client ID, principal, IP'), queryParam('limit', { type: 'integer' }, 'at most')], responses: { '200': json('connections[], total') } },
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
  },
} as const;
