// The storage a node runs on: one object per backend (memory, sqlite, redis) giving the parts the
// rest of the server uses. Every implementation passes test/store/store-contract.ts.
import type { AccessKeyStore } from './access-key-store.js';
import type { RuleStore } from './rule-store.js';
import type { AuthorizerStore } from './authorizer-store.js';
import type { StoreCommitError } from './errors.js';
import type { RetainedStore } from './retained-store.js';
import type { SessionStore } from './session-store.js';

export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'redis';
  readonly retained: RetainedStore;
  readonly sessions: SessionStore;
  readonly authorizers: AuthorizerStore;
  readonly accessKeys: AccessKeyStore;
  readonly rules: RuleStore;
  /**
   * The key that seals access-key secrets at rest (AES-256-GCM). SQLite: read from
   * `sealing.key` beside the database (created 0600 on first start); memory: random per process;
   * Redis: store.sealingKey when configured, else one kept in Redis (docs/storage.md).
   */
  readonly sealingKey: Buffer;
  /**
   * Runs `callback` once every change recorded so far is durable. Changes made in one event-loop
   * turn are committed together (one transaction), so acknowledgements wait for at most one
   * commit. The memory store calls back on the next microtask. Redis: while Redis is unreachable
   * callbacks wait, in order, until the changes before them are committed.
   */
  afterCommit(callback: () => void): void;
  /** Commits what is pending now (Redis: sends it now; the commit completes later). */
  flush(): void;
  /**
   * Flushes and closes; the store is unusable afterwards. Redis: the flush completes in the
   * background (bounded); await closeAsync() to know when it is done.
   */
  close(): void;
  /**
   * close(), resolving once pending changes are committed (or given up after a bounded wait) and
   * the connections are closed. Only stores whose close cannot finish synchronously (Redis) have
   * it: `await (store.closeAsync?.() ?? store.close())`.
   */
  closeAsync?(): Promise<void>;
  /**
   * Called once, with the first failed commit (the memory store never fails). The store has then
   * stopped writing: callbacks given to afterCommit for that batch and later never run, and what
   * is on disk is every batch committed before it. Unset: the failure is only logged.
   */
  onError?: (error: StoreCommitError) => void;
}
