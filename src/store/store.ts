// The storage a node runs on: one object per backend (memory, sqlite, redis) giving the parts the
// rest of the server uses. Every implementation passes test/store/store-contract.ts.
import type { AccessKeyStore } from './access-key-store.js';
import type { RuleStore } from './rule-store.js';
import type { AuthorizerStore } from './authorizer-store.js';
import type { StoreCommitError } from './errors.js';
import type { HistoryCaps, HistoryStore } from './history-store.js';
import type { RetainedStore } from './retained-store.js';
import type { SessionStore } from './session-store.js';

/** What a store shared across nodes announces: the kind of record, its key, who changed it. */
export type ChangeKind = 'retained' | 'authorizer' | 'accessKey' | 'rule';
export type ChangeOrigin = 'local' | 'remote';
export type ChangeListener = (kind: ChangeKind, key: string, origin: ChangeOrigin) => void;

/** What a backend can do; the composition root (server.ts) decides from these, never from its class. */
export interface StoreCapabilities {
  /**
   * Recorded changes survive a restart (sqlite, redis): persistent sessions are recorded and
   * acknowledgements wait for afterCommit. False (memory): nothing to wait for, nothing to record.
   */
  readonly durable: boolean;
  /**
   * One store serves every node of a cluster (redis): sessions belong to the node their client is
   * on, so a starting node does not load them all (cluster/ adopts those of dead nodes), and what
   * another node changes is announced through onChange.
   */
  readonly sharedAcrossNodes: boolean;
}

export interface Store {
  /** For logs and the console only; decisions use `capabilities`. */
  readonly kind: 'memory' | 'sqlite' | 'redis';
  readonly capabilities: StoreCapabilities;
  readonly retained: RetainedStore;
  readonly sessions: SessionStore;
  readonly authorizers: AuthorizerStore;
  readonly accessKeys: AccessKeyStore;
  readonly rules: RuleStore;
  /**
   * The per-topic history (docs/history.md), opened on first call with these caps (later calls
   * return the same one): memory keeps it in this process only, sqlite in the database, redis in
   * Redis streams shared by every node.
   */
  openHistory(caps: HistoryCaps): HistoryStore;
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
  /** Changes accepted and not yet committed (for /metrics); absent where commits never queue. */
  readonly backlog?: number;
  /** Stores shared across nodes: tells of changes made here and by other nodes (rules, authorizers...). */
  onChange?(listener: ChangeListener): () => void;
}
