// The Redis key layout, in one place. Every key starts with the configured prefix (default 'sb:'),
// so several deployments (or test runs) share one Redis without meeting. A client ID is always
// the LAST part of a key and each per-session key has its own leading word, so no client ID
// (which may contain ':') can make two keys collide:
//   sb:session:a:subs   is the session row of client "a:subs",
//   sb:subs:a           is the subscriptions of client "a".
// No hash tags: Redis Cluster is not supported (one MULTI touches many sessions' keys).
export class RedisKeys {
  /** Hash: topic -> encoded message (redis-codec.ts). */
  readonly retained: string;
  /** Hash: authorizer name -> AuthorizerRecord JSON. */
  readonly authorizers: string;
  /** String: the default authorizer's name (absent: none). */
  readonly defaultAuthorizer: string;
  /** Hash: access key id -> AccessKeyRecord JSON (secret sealed). */
  readonly accessKeys: string;
  /** Hash: rule name -> StoredRule JSON. */
  readonly rules: string;
  /** Set: the client IDs that have a session row. */
  readonly sessions: string;
  /** String: counter of change notices; INCR'd by the script that publishes each one. */
  readonly version: string;
  /** Pub/sub channel of change notices (redis-changes.ts). */
  readonly changes: string;
  /** String: the layout version of the data under this prefix. */
  readonly format: string;
  /** String: base64 of the 32-byte access-key sealing key, when Redis holds it. */
  readonly sealingKey: string;
  /** String: a fingerprint of the sealing key every node must use. */
  readonly sealingKeyId: string;

  constructor(readonly prefix: string) {
    this.retained = `${prefix}retained`;
    this.authorizers = `${prefix}authorizers`;
    this.defaultAuthorizer = `${prefix}default-authorizer`;
    this.accessKeys = `${prefix}access-keys`;
    this.rules = `${prefix}rules`;
    this.sessions = `${prefix}sessions`;
    this.version = `${prefix}version`;
    this.changes = `${prefix}changes`;
    this.format = `${prefix}format`;
    this.sealingKey = `${prefix}sealing-key`;
    this.sealingKeyId = `${prefix}sealing-key-id`;
  }

  /** String: "protocolVersion|expirySeconds|disconnectedAt" (empty disconnectedAt: connected). */
  session(clientId: string): string {
    return `${this.prefix}session:${clientId}`;
  }
  /** Hash: filter -> encoded subscription options. */
  subscriptions(clientId: string): string {
    return `${this.prefix}subs:${clientId}`;
  }
  /** Hash: seq (decimal) -> encoded delivery. Loaded in seq order. */
  queue(clientId: string): string {
    return `${this.prefix}queue:${clientId}`;
  }
  /** Hash: packet id (decimal) -> encoded in-flight delivery (its state in the tag byte). */
  inflight(clientId: string): string {
    return `${this.prefix}inflight:${clientId}`;
  }
  /** Sorted set: packet id, scored by send order; kept when an entry moves to PUBREL. */
  inflightOrder(clientId: string): string {
    return `${this.prefix}inflight-order:${clientId}`;
  }
  /** Set: QoS 2 packet ids received from the client and not yet released. */
  inboundQos2(clientId: string): string {
    return `${this.prefix}qos2in:${clientId}`;
  }

  /** Every key of one session, the row first (what deleteSession removes). */
  sessionKeys(clientId: string): string[] {
    return [
      this.session(clientId),
      this.subscriptions(clientId),
      this.queue(clientId),
      this.inflight(clientId),
      this.inflightOrder(clientId),
      this.inboundQos2(clientId),
    ];
  }
}

/** The layout version written under `format`; a newer one stops start-up. */
export const REDIS_FORMAT_VERSION = 1;
