// Picks the backend named by the `store` section of the configuration.
import type { Logger } from '../logger.js';
import { MemoryStore } from './memory-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export interface StoreConfig {
  type: 'memory' | 'sqlite';
  /** sqlite: the directory holding switchboard.db. */
  path: string;
  synchronous?: 'NORMAL' | 'FULL';
}

/** Throws StoreOpenError (with a stable `code`) when the SQLite file cannot be used. */
export function openStore(config: StoreConfig, logger?: Logger): Store {
  if (config.type === 'memory') return new MemoryStore();
  return openSqliteStore({ path: config.path, synchronous: config.synchronous, logger });
}
