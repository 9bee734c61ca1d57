// The SQLite backend: one file (default <path>/switchboard.db) in WAL mode, held exclusively by
// this process. Retained messages and authorizers are mirrored in memory for synchronous reads;
// every change is written through in one transaction per event-loop turn (sqlite-batch.ts), and
// acknowledgements wait for it with afterCommit.
//
// Commit failures (disk full, I/O error) are fail-stop: logged at error level, reported once
// through `onError`, and the store writes nothing more; afterCommit callbacks for the failed batch
// and later ones never run, and flush() throws the StoreCommitError. The broker should treat
// onError as fatal (stop and restart once the cause is fixed): the file then holds every batch
// committed before the failure.
//
// Start-up failures throw a StoreOpenError ('locked' | 'corrupt' | 'unreadable' |
// 'newer-schema' | 'unwritable') before the file is modified (sqlite-open.ts).
import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { SqliteAccessKeyStore } from './access-key-sqlite.js';
import { SqliteRuleStore } from './rule-sqlite.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import { SqliteAuthorizerStore } from './authorizer-sqlite.js';
import type { StoreCommitError } from './errors.js';
import { SqliteHistoryStore } from './history-sqlite.js';
import type { HistoryCaps, HistoryStore } from './history-store.js';
import { StoreOpenError } from './errors.js';
import { SqliteRetainedStore } from './retained-sqlite.js';
import { SqliteSessionStore } from './session-sqlite.js';
import { WriteBatch, type BatchStats, type WriteBatchOptions } from './sqlite-batch.js';
import { classify, openDatabase } from './sqlite-open.js';
import { LATEST_SCHEMA_VERSION, migrate } from './sqlite-schema.js';
import type { Store } from './store.js';

export const DEFAULT_SQLITE_FILE = 'switchboard.db';

export interface SqliteStoreOptions {
  /** Directory holding the database; created if missing. */
  path: string;
  /** Default 'switchboard.db'. */
  fileName?: string;
  /** NORMAL (default) survives a process crash; FULL also a power loss, at an fsync per commit. */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long the changes of one event-loop turn wait before their commit, so that acknowledgements
   * arriving meanwhile cancel the in-flight rows they end (sqlite-batch.ts). Default 0: every turn
   * commits (the server passes store.commitDelayMs).
   */
  commitDelayMs?: number;
  /** Bound on changes waiting for their commit; default DEFAULT_MAX_PENDING_CHANGES. */
  maxPendingChanges?: number;
  /** Time for the commit delay; default: monotonic time, timers that keep the process alive. */
  clock?: Clock;
  logger?: Logger;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly capabilities = { durable: true, sharedAcrossNodes: false };
  /** Absolute path of the database file. */
  readonly file: string;
  readonly retained: SqliteRetainedStore;
  readonly sessions: SqliteSessionStore;
  readonly authorizers: SqliteAuthorizerStore;
  readonly accessKeys: SqliteAccessKeyStore;
  readonly rules: SqliteRuleStore;
  readonly sealingKey: Buffer;
  onError: ((error: StoreCommitError) => void) | undefined = undefined;
  private readonly db: Database.Database;
  private readonly batch: WriteBatch;
  private readonly logger: Logger;
  private closed = false;
  private history: SqliteHistoryStore | null = null;

  /** Use openSqliteStore: it checks, locks and migrates the file first. */
  constructor(db: Database.Database, file: string, logger: Logger, sealingKey: Buffer, batching: WriteBatchOptions = {}) {
    this.db = db;
    this.file = file;
    this.logger = logger;
    this.sealingKey = sealingKey;
    this.batch = new WriteBatch(db, file, logger, (error) => this.onError?.(error), batching);
    this.retained = new SqliteRetainedStore(db, this.batch);
    this.sessions = new SqliteSessionStore(db, this.batch);
    this.authorizers = new SqliteAuthorizerStore(db, this.batch);
    this.accessKeys = new SqliteAccessKeyStore(db, this.batch);
    this.rules = new SqliteRuleStore(db, this.batch);
  }

  /** History in this database: loaded into memory at first call, written through in the batch. */
  openHistory(caps: HistoryCaps): HistoryStore {
    return (this.history ??= new SqliteHistoryStore(this.db, this.batch, caps));
  }

  afterCommit(callback: () => void): void {
    this.batch.afterCommit(callback);
  }

  /** Commits what is pending now; throws the StoreCommitError if the store has failed. */
  flush(): void {
    if (this.closed) return;
    this.sessions.sweep();
    this.batch.flush();
  }

  /** Commits what is pending (a failure is reported as for any commit, not thrown) and closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessions.sweep();
    this.batch.close();
    this.db.close();
    // What the group commit saved over the run (docs/storage.md): changes cancelled before their commit.
    this.logger.info({ file: this.file, ...this.batch.stats, storedMessages: this.sessions.storedMessages }, 'store: closed SQLite database');
  }

  /** The first commit failure, if any. */
  get failure(): StoreCommitError | undefined {
    return this.batch.failure;
  }

  /** Commits and changes so far, for metrics and tests. */
  get stats(): Readonly<BatchStats> {
    return this.batch.stats;
  }

  /** Changes waiting for the next commit. */
  get pendingChanges(): number {
    return this.batch.pending;
  }

  /** The raw handle, for diagnostics and tests only: writing through it bypasses the batch. */
  get database(): Database.Database {
    return this.db;
  }
}

/**
 * The access-key sealing key: 32 random bytes in a file beside the database, created with mode
 * 0600 on first start. Kept apart from the database so a copy of the database alone does not
 * reveal the secrets.
 */
function loadSealingKey(path: string): Buffer {
  try {
    const key = readFileSync(path);
    if (key.length !== 32) throw new StoreOpenError('corrupt', path, `the access-key sealing key should hold 32 bytes, not ${key.length}`);
    return key;
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  writeFileSync(path, key, { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * Opens (creating if needed) the store in `options.path`. Throws StoreOpenError, leaving an
 * existing file untouched, when it cannot be used.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const logger = options.logger ?? pino({ enabled: false });
  const { db, file } = openDatabase({
    path: options.path,
    fileName: options.fileName ?? DEFAULT_SQLITE_FILE,
    synchronous: options.synchronous ?? 'NORMAL',
  });
  try {
    const migrations = migrate(db);
    const now = Date.now();
    const purged = db.transaction(() => ({
      retained: SqliteRetainedStore.purgeExpired(db, now),
      ...SqliteSessionStore.purgeExpired(db, now),
    }))();
    const store = new SqliteStore(db, file, logger, loadSealingKey(join(dirname(file), 'sealing.key')), {
      commitDelayMs: options.commitDelayMs,
      maxPendingChanges: options.maxPendingChanges,
      clock: options.clock,
    });
    logger.info(
      {
        file,
        schemaVersion: LATEST_SCHEMA_VERSION,
        migrations,
        retained: store.retained.size,
        authorizers: store.authorizers.list().length,
        expiredSessions: purged.sessions,
        expiredSessionRows: purged.sessionRows,
        expiredMessages: purged.messages,
        expiredRetained: purged.retained,
      },
      'store: opened SQLite database',
    );
    return store;
  } catch (err) {
    db.close();
    throw err instanceof StoreOpenError ? err : classify(err, file, 'write');
  }
}
