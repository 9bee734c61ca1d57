// The Lua scripts the cluster runs on Redis, with their typed signatures. ioredis's defineCommand
// adds each as a method (sent as EVALSHA, falling back to EVAL after a Redis restart flushed the
// script cache); `withClusterScripts` defines them once on the command connection and checks they
// are there, so callers get a `ClusterRedis` and call `redis.sbHeartbeat(...)` without a cast.
// Scripts run atomically: each is a read-then-write that must not interleave with another node's.
import type { Redis } from 'ioredis';

export interface ClusterScripts {
  /**
   * Records this node's heartbeat on the Redis clock (so nodes on different machines agree on
   * "silent for 10 s"). Returns Redis's time in ms, or -1 once this node was declared dead.
   */
  sbHeartbeat(nodesKey: string, reapedKey: string, nodeId: string): Promise<number>;
  /**
   * Declares `node` dead if it is still silent (no heartbeat within `timeoutMs`, Redis clock):
   * sets its reaped key (`by`, 1 h), so every later heartbeat of it answers -1. Returns 1 if
   * declared, 0 if it beat meanwhile. Atomic with sbHeartbeat: once this returns 1 the node can
   * never again renew its lease, so its sessions may be adopted.
   */
  sbMarkDead(nodesKey: string, reapedKey: string, node: string, timeoutMs: number, by: string): Promise<number>;
  /** The nodes whose last heartbeat is older than `timeoutMs` (Redis clock). */
  sbSilent(nodesKey: string, timeoutMs: number): Promise<string[]>;
  /** Sets the client's owner to `nodeId` unless another node holds it; returns the owner after. */
  sbClaimOwner(ownersKey: string, clientId: string, nodeId: string): Promise<string>;
  /**
   * A CONNECT's claim, compare-and-set: makes `nodeId` the client's owner if the owner is still
   * `expected` ('' for none) or already `nodeId`; returns the owner after (`nodeId` on success).
   * Two nodes that read the same owner and race here: exactly one wins.
   */
  sbTakeOwner(ownersKey: string, clientId: string, nodeId: string, expected: string): Promise<string>;
  /**
   * sbTakeOwner from an owner that did not answer (dead, not yet cleaned up after): on success
   * also records the client in the old owner's taken hash (`takenKey`, 1 h), atomically, so the
   * node cleaning up after it knows where its session went (reaper.ts) whatever the interleaving.
   */
  sbTakeFromSilent(ownersKey: string, takenKey: string, clientId: string, nodeId: string, expected: string): Promise<string>;
  /** Removes the client's owner only if it is still `nodeId`; returns 1 if removed, else 0. */
  sbReleaseOwner(ownersKey: string, clientId: string, nodeId: string): Promise<number>;
}

export type ClusterRedis = Redis & ClusterScripts;

const SCRIPTS: Record<keyof ClusterScripts, { numberOfKeys: number; lua: string }> = {
  sbHeartbeat: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now`,
  },
  sbMarkDead: {
    numberOfKeys: 2,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if last and tonumber(last) > now - tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'EX', 3600)
return 1`,
  },
  sbSilent: {
    numberOfKeys: 1,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))`,
  },
  sbClaimOwner: {
    numberOfKeys: 1,
    lua: `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and owner ~= ARGV[2] then return owner end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]`,
  },
  sbTakeOwner: {
    numberOfKeys: 1,
    lua: `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then owner = '' end
if owner ~= ARGV[3] and owner ~= ARGV[2] then return owner end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]`,
  },
  sbTakeFromSilent: {
    numberOfKeys: 2,
    lua: `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then owner = '' end
if owner ~= ARGV[3] and owner ~= ARGV[2] then return owner end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if owner ~= '' and owner ~= ARGV[2] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], 3600)
end
return ARGV[2]`,
  },
  sbReleaseOwner: {
    numberOfKeys: 1,
    lua: `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`,
  },
};

/** Defines the scripts on `redis` (once per connection) and returns it typed with them. */
export function withClusterScripts(redis: Redis): ClusterRedis {
  for (const [name, definition] of Object.entries(SCRIPTS)) redis.defineCommand(name, definition);
  if (!hasClusterScripts(redis)) throw new Error('ioredis did not define the cluster scripts');
  return redis;
}

function hasClusterScripts(redis: Redis): redis is ClusterRedis {
  return Object.keys(SCRIPTS).every((name) => typeof Reflect.get(redis, name) === 'function');
}
