// The memory backend: every part in Maps, nothing survives the process. Serves tests and
// deployments that want no disk; every change is "committed" as soon as it is made.
import { randomBytes } from 'node:crypto';
import { MemoryAccessKeyStore } from './access-key-store.js';
import { MemoryRuleStore } from './rule-store.js';
import { MemoryAuthorizerStore } from './authorizer-store.js';
import type { StoreCommitError } from './errors.js';
import { MemoryHistoryStore } from './history-memory.js';
import type { HistoryCaps, HistoryStore } from './history-store.js';
import { MemoryRetainedStore } from './retained-memory.js';
import { MemorySessionStore } from './session-memory.js';
import type { Store } from './store.js';

export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly capabilities = { durable: false, sharedAcrossNodes: false };
  readonly retained = new MemoryRetainedStore();
  readonly sessions = new MemorySessionStore();
  readonly authorizers = new MemoryAuthorizerStore();
  readonly accessKeys = new MemoryAccessKeyStore();
  readonly rules = new MemoryRuleStore();
  readonly sealingKey = randomBytes(32);
  /** Never called: there is nothing to fail. */
  onError: ((error: StoreCommitError) => void) | undefined = undefined;
  private history: HistoryStore | null = null;

  /** History in this process only: lost at restart (a cursor from before is answered with a reset). */
  openHistory(caps: HistoryCaps): HistoryStore {
    return (this.history ??= new MemoryHistoryStore(caps));
  }

  /** Microtasks run in the order queued, so callbacks keep the order they were given in. */
  afterCommit(callback: () => void): void {
    queueMicrotask(callback);
  }

  flush(): void {}

  close(): void {}
}
