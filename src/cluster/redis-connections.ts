// The two Redis connections a cluster member holds: one for commands (auto-pipelined, so the
// many small PUBLISHes of one event-loop turn leave in one write) and one in subscriber mode.
// Neither queues commands while disconnected — ioredis's offline queue is unbounded — so callers
// see a rejected promise at once and decide what an outage means for them. The Redis is a URL or a
// set of Sentinels (store/redis-target.ts); with Sentinels both connections follow a failover.
import type { Redis } from 'ioredis';
import { createRedisClient, describeTarget, type RedisTarget } from '../store/redis-target.js';
import { withClusterScripts, type ClusterRedis } from './redis-scripts.js';

export interface RedisPair {
  /** With the cluster's scripts defined (redis-scripts.ts). */
  command: ClusterRedis;
  subscriber: Redis;
}

function connection(target: RedisTarget, name: string): Redis {
  return createRedisClient(target, {
    lazyConnect: true,
    connectionName: name,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    // Reconnect for ever, backing off to 2 s: a node outlives a Redis restart.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
}

/** Connects both, or throws a clear error within `timeoutMs` (the caller exits; no crash loop here). */
export async function connectPair(target: RedisTarget, nodeId: string, timeoutMs: number): Promise<RedisPair> {
  const command = connection(target, `switchboard:${nodeId}`);
  const subscriber = connection(target, `switchboard:${nodeId}:sub`);
  // Errors are reported through 'close'/'reconnecting' and the callers' rejected promises.
  command.on('error', () => {});
  subscriber.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([command.connect(), subscriber.connect()]),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    command.disconnect();
    subscriber.disconnect();
    throw new Error(`cannot reach Redis at ${describeTarget(target)}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  return { command: withClusterScripts(command), subscriber };
}
