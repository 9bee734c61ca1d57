// Picks the backend named by the `store` section of the configuration.
import type { Logger } from '../logger.js';
import { StoreOpenError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import type { RedisSentinelConfig } from './redis-target.js';
import type { Store } from './store.js';

/** The `store` section (flat, as configured: each backend reads its own fields). */
export interface StoreConfig {
  type: 'memory' | 'sqlite' | 'redis';
  /** sqlite (required): the directory holding switchboard.db. */
  path?: string;
  /** sqlite. */
  synchronous?: 'NORMAL' | 'FULL';
  /** sqlite: how long a turn's changes wait for the acknowledgements that cancel them. */
  commitDelayMs?: number;
  /** redis (required): redis://[user:password@]host[:port][/db] or rediss://... */
  url?: string;
  /** redis: the Sentinels to ask for the master, instead of `url` (store/redis-target.ts). */
  sentinel?: RedisSentinelConfig;
  /** redis: replicas each commit must reach before acknowledgements (WAIT); default 1 with sentinel, else 0. */
  waitForReplicas?: number;
  /** redis: one WAIT's timeout in ms; default 1000. */
  waitTimeoutMs?: number;
  /** redis: prefix of every key and of the changes channel; default 'sb:'. */
  keyPrefix?: string;
  /** redis: the access-key sealing key, base64 of 32 bytes; unset: the one kept in Redis. */
  sealingKey?: string;
}

export interface OpenStoreOptions {
  /** The broker's limits.maxRetainedMessages: the bound of the Redis store's retained mirror. */
  maxRetainedMessages?: number;
  /** Redis: bound on connecting and loading; default 5000 ms. */
  openTimeoutMs?: number;
}

/**
 * Throws StoreOpenError (with a stable `code`) when the store cannot be used: the SQLite file is
 * locked, corrupt, newer..., or Redis is unreachable (within openTimeoutMs), holds a newer layout
 * or another sealing key.
 */
export async function openStore(config: StoreConfig, logger?: Logger, options: OpenStoreOptions = {}): Promise<Store> {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite': {
      if (config.path === undefined) throw new StoreOpenError('unwritable', '(store.path)', 'store.path is required for a sqlite store');
      // Backends are imported when chosen, so a node loads only its own driver (better-sqlite3 or ioredis).
      const { openSqliteStore } = await import('./sqlite-store.js');
      return openSqliteStore({ path: config.path, synchronous: config.synchronous, commitDelayMs: config.commitDelayMs, logger });
    }
    case 'redis': {
      if (config.url === undefined && config.sentinel === undefined) throw new StoreOpenError('unreachable', '(store.url)', 'store.url or store.sentinel is required for a redis store');
      const { openRedisStore } = await import('./redis-store.js');
      return openRedisStore({
        url: config.url,
        sentinel: config.sentinel,
        waitForReplicas: config.waitForReplicas,
        waitTimeoutMs: config.waitTimeoutMs,
        keyPrefix: config.keyPrefix,
        sealingKey: config.sealingKey,
        logger,
        maxRetainedMessages: options.maxRetainedMessages,
        openTimeoutMs: options.openTimeoutMs,
      });
    }
  }
}
