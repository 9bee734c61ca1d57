// Where a Redis is, for the store and the cluster alike: one URL (a single Redis, or a proxy), or a
// set of Redis Sentinels and the name of the master they watch. With Sentinels, ioredis asks them
// for the current master on every (re)connection and drops its connection when a Sentinel
// announces a new master (+switch-master), so a failover is followed without a restart. A write
// that reaches the old master after it was demoted is refused with READONLY: `reconnectOnError`
// then reconnects, through the Sentinels, to the new one; the caller retries the command.
//
// Valid: { url: 'redis://:pw@10.0.0.5:6379/0' }
//        { sentinel: { sentinels: ['10.0.0.1:26379', '[::1]:26380'], masterName: 'sb', password: 'pw' } }
// Invalid: both, neither, a sentinel address without a port.
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisSentinelConfig {
  /** host:port of each Sentinel ([v6]:port for IPv6). */
  sentinels: string[];
  /** The master group name the Sentinels monitor (`sentinel monitor <name> ...`). */
  masterName: string;
  /** ACL user / password of the Redis master and replicas. */
  username?: string;
  password?: string;
  db?: number;
  /** TLS to the master (the Sentinels' answer names its address). */
  tls?: boolean;
  /** ACL user / password of the Sentinels themselves (`requirepass` in sentinel.conf). */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** TLS to the Sentinels. */
  sentinelTls?: boolean;
}

export interface RedisTarget {
  url?: string;
  sentinel?: RedisSentinelConfig;
}

/** "10.0.0.1:26379" or "[::1]:26379" -> host and port; null when it is neither. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]\s]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** How the target may be shown in logs and errors: no password. */
export function describeTarget(target: RedisTarget): string {
  if (target.sentinel !== undefined) {
    const s = target.sentinel;
    return `sentinel://${s.sentinels.join(',')}/${s.masterName}`;
  }
  if (target.url === undefined) return '(no Redis configured)';
  try {
    const u = new URL(target.url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/** READONLY: the connection reached a replica (a demoted master); reconnect to find the master. */
function reconnectOnReadonly(err: Error): 1 | false {
  return err.message.startsWith('READONLY') ? 1 : false;
}

/**
 * A lazily connecting ioredis client for the target, with `options` (timeouts, retry strategy,
 * queueing) applied whichever kind it is. Throws when the target names neither or both.
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions): Redis {
  const common: RedisOptions = { reconnectOnError: reconnectOnReadonly, ...options };
  if (target.sentinel !== undefined && target.url !== undefined) throw new Error('a Redis is given by url or by sentinel, not both');
  if (target.sentinel !== undefined) {
    const s = target.sentinel;
    const sentinels = s.sentinels.map((text) => {
      const hp = parseHostPort(text);
      if (hp === null) throw new Error(`sentinel address ${JSON.stringify(text)} is not host:port`);
      return hp;
    });
    return new Redis({
      ...common,
      sentinels,
      name: s.masterName,
      role: 'master',
      username: s.username,
      password: s.password,
      db: s.db ?? 0,
      ...(s.tls === true ? { tls: {} } : {}),
      sentinelUsername: s.sentinelUsername,
      sentinelPassword: s.sentinelPassword,
      ...(s.sentinelTls === true ? { sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      // Drop the connection as soon as a Sentinel announces a new master, rather than when the
      // old one stops answering.
      failoverDetector: true,
      // Ask the Sentinels again soon when none answers (they may be restarting too).
      sentinelRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    });
  }
  if (target.url === undefined) throw new Error('no Redis configured: give a url or a sentinel section');
  return new Redis(target.url, common);
}

/** "host:port" of the server a ready client is connected to (the master, with Sentinels). */
export function connectedAddress(client: Redis): string | null {
  // `stream` is public in ioredis's typings; it is the socket of the current connection.
  const stream: { remoteAddress?: string; remotePort?: number } | undefined = client.stream;
  if (stream?.remoteAddress === undefined) return null;
  return `${stream.remoteAddress}:${stream.remotePort ?? 0}`;
}
