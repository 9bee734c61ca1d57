// One schema for the whole configuration: the types come from it, and so does validation,
// so a wrong field is named in the error before anything starts.
import { z } from 'zod';
import { parseCidr } from '../policy/ip-address.js';
import { validateTopicFilter } from '../protocol/topic.js';

const tls = z
  .object({
    cert: z.string().describe('path to a PEM certificate chain'),
    key: z.string().describe('path to the PEM private key'),
    ca: z.string().optional().describe('path to a PEM CA bundle for client certificates'),
  })
  .strict();

const listener = (defaultPort: number) =>
  z
    .object({
      host: z.string().default('0.0.0.0'),
      // 0 asks the OS for a free port; the "switchboard ready" log line reports the port taken.
      port: z.number().int().min(0).max(65535).default(defaultPort),
      tls: tls.optional(),
    })
    .strict();

// Addresses of reverse proxies / load balancers allowed to say who the client is (docs/deployment.md).
const cidrList = z
  .array(z.string().refine((s) => parseCidr(s.trim()) !== null, 'must be an IP address or CIDR block, e.g. 127.0.0.1/32 or 10.0.0.0/8'))
  .max(1000);

const httpListener = listener(8080).extend({
  // Peers whose forwarded header (clientAddressHeader) names the client; see auth/client-address.ts.
  trustedProxies: cidrList.optional(),
  clientAddressHeader: z.enum(['x-forwarded-for', 'forwarded']).optional(),
  // Browser origins allowed to open a WebSocket on /mqtt (Origin header); absent: any.
  allowedOrigins: z
    .array(z.string().regex(/^https?:\/\/[^/?#\s]+$/i, 'must be an origin such as https://app.example.com (scheme, host, optional port)'))
    .max(1000)
    .optional(),
});

const mqttListener = listener(1883).extend({
  // PROXY protocol v1/v2 from these peers before the MQTT bytes (transport/proxy-protocol.ts).
  proxyProtocol: z.union([z.literal(false), z.object({ trustedProxies: cidrList.min(1) }).strict()]).optional(),
});

export const limitsSchema = z
  .object({
    // AWS IoT Core's values where AWS has one (see docs/configuration.md).
    maxPacketBytes: z.number().int().min(1024).max(268435455).default(131072),
    maxPayloadBytes: z.number().int().min(0).max(268435455).default(131072),
    maxTopicBytes: z.number().int().min(1).max(65535).default(256),
    maxTopicLevels: z.number().int().min(1).max(1024).default(8),
    maxClientIdBytes: z.number().int().min(1).max(65535).default(128),
    maxSubscriptionsPerConnection: z.number().int().min(1).default(50),
    maxFiltersPerSubscribe: z.number().int().min(1).default(64),
    // Receive Maximum we advertise (client -> server) and the cap on what we send un-acknowledged.
    maxInflightMessages: z.number().int().min(1).max(65535).default(100),
    maxQueuedMessagesPerSession: z.number().int().min(1).default(1000),
    maxConnections: z.number().int().min(1).default(100000),
    // Bytes written to a socket but not yet flushed by the kernel; past this, QoS 0 is dropped.
    maxOutboundBufferBytes: z.number().int().min(1024).default(1048576),
    // Outbound budget (bytes queued + 128 per queued write) past which a connection's input is not
    // read until its replies are flushed, so a peer is slowed to its own reading speed (transport/flow.ts).
    outboundPauseReadBytes: z.number().int().min(4096).default(65536),
    // More than this queued (default: the larger of maxOutboundBufferBytes and
    // outboundPauseReadBytes) must be read within
    // slowConsumerSeconds, or the connection is closed as a slow consumer.
    slowConsumerBytes: z.number().int().min(1024).optional(),
    slowConsumerSeconds: z.number().min(0.1).max(3600).default(60),
    topicAliasMaximum: z.number().int().min(0).max(65535).default(8),
    maxKeepAliveSeconds: z.number().int().min(0).max(65535).default(1200),
    // 0 = never override the client's keep-alive downward.
    minKeepAliveSeconds: z.number().int().min(0).max(65535).default(0),
    connectTimeoutMs: z.number().int().min(100).default(10000),
    maxSessionExpirySeconds: z.number().int().min(0).max(4294967295).default(604800),
    // v3.1.1 has no session expiry; persistent v3 sessions expire after this.
    defaultSessionExpirySeconds: z.number().int().min(0).max(4294967295).default(3600),
    maxMessageExpirySeconds: z.number().int().min(1).max(4294967295).default(604800),
    maxRetainedMessages: z.number().int().min(0).default(100000),
    // Per-topic history over every topic together (docs/history.md): messages (also the bound on
    // topics remembered) and payload + topic bytes; past either the oldest messages go first.
    maxHistoryMessages: z.number().int().min(1).default(100000),
    maxHistoryBytes: z.number().int().min(1024).default(67108864),
  })
  .strict()
  .superRefine((l, ctx) => {
    // Reading stops before the slow-consumer bound is reached; the other way round a peer would be
    // disconnected while we still read (and queue replies for) everything it sends.
    if (l.slowConsumerBytes !== undefined && l.slowConsumerBytes < l.outboundPauseReadBytes) {
      ctx.addIssue({ code: 'custom', path: ['slowConsumerBytes'], message: `must be at least outboundPauseReadBytes (${l.outboundPauseReadBytes}), got ${l.slowConsumerBytes}` });
    }
  });

export const authorizerSchema = z
  .object({
    name: z.string().regex(/^[\w=,@-]{1,128}$/, 'must be 1-128 characters of letters, digits, _ = , @ -'),
    type: z.enum(['function', 'http']),
    handler: z.string().min(1).optional().describe('function: a function name in functions.dir (admin API: names only), or in the config file a path of a JS module exporting handler'),
    url: z.string().url().optional().describe('http: URL receiving the event as a JSON POST'),
    status: z.enum(['ACTIVE', 'INACTIVE']).default('ACTIVE'),
    tokenKeyName: z.string().min(1).max(128).optional(),
    // AWS's default is signing on; it needs tokenKeyName and at least one public key.
    signingDisabled: z.boolean().default(false),
    tokenSigningPublicKeys: z.record(z.string(), z.string()).optional().describe('key name -> PEM text (admin API: PEM text only), or in the config file a PEM file path'),
    timeoutMs: z.number().int().min(100).max(60000).default(5000),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.type === 'function' && !a.handler) ctx.addIssue({ code: 'custom', path: ['handler'], message: 'a function authorizer needs handler' });
    if (a.type === 'http' && !a.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'an http authorizer needs url' });
    if (!a.signingDisabled) {
      if (!a.tokenKeyName) ctx.addIssue({ code: 'custom', path: ['tokenKeyName'], message: 'signing is enabled (signingDisabled: false), so tokenKeyName is required' });
      if (!a.tokenSigningPublicKeys || Object.keys(a.tokenSigningPublicKeys).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['tokenSigningPublicKeys'], message: 'signing is enabled (signingDisabled: false), so at least one public key is required' });
      }
    }
  });

export const identityPoolSchema = z
  .object({
    // AWS's form: region:uuid, e.g. us-east-1:1c9d2a3b-0000-4000-8000-000000000001.
    id: z.string().regex(/^[a-z0-9-]+:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be region:uuid, like us-east-1:1c9d2a3b-0000-4000-8000-000000000001').max(55),
    // The unauthenticated role's policy; default: auth.unauthenticatedPolicy.
    unauthenticatedPolicy: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]).optional(),
    // AWS's credentials last one hour.
    credentialsTtlSeconds: z.number().int().min(1).max(43_200).default(3600),
  })
  .strict();

export const authSchema = z
  .object({
    // ARNs in policies are matched against arn:aws:iot:{region}:{accountId}:...
    region: z.string().regex(/^[a-z0-9-]+$/).default('us-east-1'),
    accountId: z.string().regex(/^\d{12}$/, 'must be 12 digits').default('123456789012'),
    authorizers: z.array(authorizerSchema).max(100).default([]),
    defaultAuthorizer: z.string().optional(),
    // Policy for clients that name no authorizer when there is no default (a Cognito identity
    // pool's unauthenticated role, in AWS terms). Documents as objects.
    unauthenticatedPolicy: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]).optional(),
    // Admission of clients that name no authorizer when neither a default authorizer nor an
    // unauthenticated policy applies. Default: 'loopback' with no auth configuration at all,
    // 'nobody' as soon as authorizers or an unauthenticated policy are configured.
    anonymous: z.enum(['loopback', 'everyone', 'nobody']).optional(),
    // Cognito identity pools served by GetId / GetCredentialsForIdentity (unauthenticated role
    // only); their credentials sign WebSocket URLs and HTTP requests (docs/authorization.md).
    identityPools: z.array(identityPoolSchema).max(100).default([]),
    functionWorkers: z.number().int().min(1).max(64).default(2),
    // 0: every MQTT connection and HTTP request invokes the authorizer, as on AWS. A positive size
    // reuses answers to identical requests across connections (a documented deviation).
    resultCacheSize: z.number().int().min(0).default(0),
    // TEST ONLY: lowers the 300 s minimum of refreshAfterInSeconds / disconnectAfterInSeconds.
    testingMinimumTtlSeconds: z.number().int().min(1).max(300).optional(),
  })
  .strict();

const historyRule = z
  .object({
    filter: z
      .string()
      .min(1)
      .superRefine((filter, ctx) => {
        // Generous limits here: the topic limits of `limits` still decide what can be published.
        const problem = filter.startsWith('$share/') ? 'shared' : validateTopicFilter(filter, { maxTopicBytes: 65535, maxTopicLevels: 1024 });
        if (problem !== null) ctx.addIssue({ code: 'custom', message: `is not a topic filter (${problem})` });
      }),
    maxMessages: z.number().int().min(1).max(1000000).default(100),
    maxAgeSeconds: z.number().int().min(0).max(31536000).default(86400),
  })
  .strict();

export const configSchema = z
  .object({
    listeners: z
      .object({
        http: z.union([httpListener, z.literal(false)]).default({ host: '0.0.0.0', port: 8080 }),
        mqtt: z.union([mqttListener, z.literal(false)]).default({ host: '0.0.0.0', port: 1883 }),
      })
      .strict()
      .default({ http: { host: '0.0.0.0', port: 8080 }, mqtt: { host: '0.0.0.0', port: 1883 } }),
    store: z
      .object({
        // sqlite: one file (switchboard.db, WAL) in `path`; memory: nothing survives a restart;
        // redis: shared by the nodes of a cluster (docs/storage.md, "Redis").
        type: z.enum(['memory', 'sqlite', 'redis']).default('sqlite'),
        path: z.string().default('./data'),
        // NORMAL survives process crashes (kill -9); FULL also survives power loss, slower.
        synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
        // redis: redis://[user:password@]host[:port][/db], or rediss:// for TLS.
        url: z.string().regex(/^rediss?:\/\/[^/]/, 'must be a redis:// or rediss:// URL').optional(),
        // redis: prefix of every key and of the change-notice channel; default 'sb:'.
        keyPrefix: z.string().min(1).max(64).optional(),
        // The Redis store's access-key sealing key (store.type redis, or a cluster's Redis store):
        // base64 of 32 bytes, the same on every node. Unset: one kept in Redis (then a copy of
        // Redis holds both the sealed secrets and their key). SQLite keeps its own file.
        sealingKey: z.string().regex(/^[A-Za-z0-9+/]{43}=?$/, 'must be base64 of 32 bytes (openssl rand -base64 32)').optional(),
      })
      .strict()
      .superRefine((store, ctx) => {
        if (store.type === 'redis' && store.url === undefined) {
          ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when store.type is redis' });
        }
        if (store.type !== 'redis') {
          for (const field of ['url', 'keyPrefix'] as const) {
            if (store[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only applies when store.type is redis' });
          }
        }
      })
      .default({ type: 'sqlite', path: './data', synchronous: 'NORMAL' }),
    limits: limitsSchema.default(limitsSchema.parse({})),
    auth: authSchema.default(authSchema.parse({})),
    // Rules (AWS IoT SQL + actions); validated and compiled by the rules engine at start, so a SQL
    // error names the rule, line and column. See docs/rules.md.
    rules: z.array(z.record(z.string(), z.unknown())).max(1000).default([]),
    rulesQueueLimit: z.number().int().min(1).default(10000),
    // Per-topic history for resuming clients and GET /history (docs/history.md): messages on topics
    // matching a filter are kept with an id, up to maxMessages per topic and maxAgeSeconds old
    // (0: no age limit). Empty: nothing is kept, at no cost per publish.
    history: z.array(historyRule).max(1000).default([]),
    // Where functions named over the admin API live (authorizer handlers, rule function actions):
    // name N is <dir>/N.js (or .mjs, .cjs). Relative to the config file's directory.
    functions: z.object({ dir: z.string().min(1).default('./functions') }).strict().default({ dir: './functions' }),
    events: z
      .object({
        // AWS IoT's lifecycle events under $aws/events/...; each can be switched off.
        connected: z.boolean().default(true),
        disconnected: z.boolean().default(true),
        connectFailed: z.boolean().default(true),
        subscribed: z.boolean().default(true),
        unsubscribed: z.boolean().default(true),
        qos: z.union([z.literal(0), z.literal(1)]).default(1),
      })
      .strict()
      .default({ connected: true, disconnected: true, connectFailed: true, subscribed: true, unsubscribed: true, qos: 1 }),
    admin: z
      .object({
        // Console sign-in and the admin API from non-loopback addresses.
        username: z.string().min(1).optional(),
        password: z.string().min(8).optional(),
        // Bearer token for the admin API (/api/...) and the CLI from other machines.
        token: z.string().min(16).optional(),
        // Loopback clients use the console and the admin API without signing in, unless this is set.
        requireSignInOnLoopback: z.boolean().default(false),
      })
      .strict()
      .default({ requireSignInOnLoopback: false }),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        // auto: readable coloured lines when standard output is a terminal, JSON lines otherwise.
        format: z.enum(['auto', 'pretty', 'json']).default('auto'),
      })
      .strict()
      .default({ level: 'info', format: 'auto' }),
    // Cluster mode: nodes sharing one Redis route publishes, sessions and presence between them
    // (docs/cluster.md). Absent: a single node.
    cluster: z
      .object({
        redis: z
          .object({
            url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
            keyPrefix: z.string().min(1).max(64).default('sb:'),
          })
          .strict(),
        // Unique per node; default: hostname, pid and a random suffix.
        nodeId: z.string().min(1).max(200).regex(/^\S+$/, 'must not contain spaces').optional(),
        // A node silent this long is declared dead: its clients' wills and disconnected events
        // are published and its persistent sessions move to the other nodes.
        nodeTimeoutSeconds: z.number().min(1).max(3600).default(10),
        // QoS 1/2 messages held per target node until it acknowledges them (Redis outages).
        outboxLimit: z.number().int().min(100).default(100000),
        // 'interest': publishes go only to nodes with a matching subscription; 'broadcast': to
        // every node (to measure the difference; see docs/cluster.md).
        routing: z.enum(['interest', 'broadcast']).default('interest'),
      })
      .strict()
      .optional(),
    // Member processes started by `switchboard start` (they share the listening ports); 'auto' =
    // one per core. More than one needs cluster.redis.
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type Limits = z.infer<typeof limitsSchema>;
export type HistoryRuleConfig = z.infer<typeof historyRule>;
export type AuthConfig = z.infer<typeof authSchema>;
export type AdminConfig = Config['admin'];
export type AuthorizerConfig = z.infer<typeof authorizerSchema>;
export type ListenerConfig = z.infer<ReturnType<typeof listener>>;
export type HttpListenerConfig = z.infer<typeof httpListener>;
export type MqttListenerConfig = z.infer<typeof mqttListener>;
