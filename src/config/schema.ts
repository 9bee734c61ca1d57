// One schema for the whole configuration: the types come from it, and so does validation,
// so a wrong field is named in the error before anything starts.
import { z } from 'zod';

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
  })
  .strict();

export const configSchema = z
  .object({
    listeners: z
      .object({
        http: z.union([listener(8080), z.literal(false)]).default({ host: '0.0.0.0', port: 8080 }),
        mqtt: z.union([listener(1883), z.literal(false)]).default({ host: '0.0.0.0', port: 1883 }),
      })
      .strict()
      .default({ http: { host: '0.0.0.0', port: 8080 }, mqtt: { host: '0.0.0.0', port: 1883 } }),
    store: z
      .object({
        type: z.enum(['memory', 'sqlite']).default('memory'),
        path: z.string().default('./data'),
      })
      .strict()
      .default({ type: 'memory', path: './data' }),
    limits: limitsSchema.default(limitsSchema.parse({})),
    auth: z
      .object({
        // Who may connect without an authorizer until custom authorizers are configured:
        // 'loopback' (default) admits anonymous clients from 127.0.0.0/8 and ::1 only.
        anonymous: z.enum(['loopback', 'everyone', 'nobody']).default('loopback'),
      })
      .strict()
      .default({ anonymous: 'loopback' }),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type Limits = z.infer<typeof limitsSchema>;
export type ListenerConfig = z.infer<ReturnType<typeof listener>>;
