// Write batching: every change is a prepared statement plus its parameters, buffered in call order
// and run in ONE transaction per event-loop turn (a setImmediate armed by the first change of the
// turn). afterCommit callbacks wait for the transaction that holds every change made before them.
//
// Invariants:
// - Changes are applied in the order they were made, so "enqueue 7, dequeue 7" in one turn nets out.
// - Callbacks run in the order given: those with nothing to wait for (no change pending when they
//   were given) go to `ready` and run on a microtask, or first in the next commit if flush() comes
//   sooner; those given while changes are pending run right after that batch commits.
// - Fail-stop: the first failed commit makes the batch writer `failed`. The batch is rolled back,
//   its callbacks (and every later one) never run, later changes are dropped, and flush() throws.
//   What is on disk is therefore always a prefix of the changes made: no batch is applied after
//   one that was lost.
// - A single change that SQLite rejects on its own (a constraint or a value it cannot bind: a
//   caller bug, not a disk problem) is logged and skipped; the rest of the batch commits.
import type Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { runCommitCallbacks } from './commit-callbacks.js';
import { StoreCommitError } from './errors.js';
import type { SqlValue } from './sqlite-codec.js';

export interface BatchStats {
  /** Transactions committed. */
  commits: number;
  /** Changes committed. */
  changes: number;
  /** Changes SQLite rejected and that were skipped (see file-top note). */
  rejected: number;
}

export class WriteBatch {
  private statements: Database.Statement[] = [];
  private params: SqlValue[][] = [];
  /** Callbacks waiting for the pending changes to commit. */
  private waiting: (() => void)[] = [];
  /** Callbacks whose changes are already committed, run on a microtask. */
  private ready: (() => void)[] = [];
  private readyScheduled = false;
  private timer: NodeJS.Immediate | null = null;
  private closed = false;
  private warnedClosed = false;
  failure: StoreCommitError | undefined = undefined;
  readonly stats: BatchStats = { commits: 0, changes: 0, rejected: 0 };
  private readonly runAll: (statements: Database.Statement[], params: SqlValue[][]) => void;
  private readonly scheduledCommit = () => {
    this.timer = null;
    this.commit();
  };
  private readonly drainReady = () => {
    this.readyScheduled = false;
    this.runCallbacks(this.takeReady());
  };

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly logger: Logger,
    private readonly report: (error: StoreCommitError) => void,
  ) {
    this.runAll = db.transaction((statements: Database.Statement[], params: SqlValue[][]) => {
      for (let i = 0; i < statements.length; i++) {
        try {
          statements[i]!.run(...params[i]!);
        } catch (err) {
          if (!isRejectedChange(err) || !db.inTransaction) throw err;
          this.stats.rejected++;
          this.logger.error({ err, sql: statements[i]!.source, file: this.file }, 'store: SQLite rejected a change; skipped');
        }
      }
    });
  }

  get pending(): number {
    return this.statements.length;
  }

  /** Records one change for the current batch. */
  add(statement: Database.Statement, params: SqlValue[]): void {
    if (this.closed) {
      if (!this.warnedClosed) {
        this.warnedClosed = true;
        this.logger.warn({ file: this.file, sql: statement.source }, 'store: change after close ignored');
      }
      return;
    }
    if (this.failure !== undefined) return;
    this.statements.push(statement);
    this.params.push(params);
    this.timer ??= setImmediate(this.scheduledCommit);
  }

  afterCommit(callback: () => void): void {
    if (this.closed || this.failure !== undefined) return;
    if (this.statements.length > 0) {
      this.waiting.push(callback);
      return;
    }
    this.ready.push(callback);
    if (!this.readyScheduled) {
      this.readyScheduled = true;
      queueMicrotask(this.drainReady);
    }
  }

  /** Commits now; throws the failure if this commit or an earlier one failed. */
  flush(): void {
    this.commit();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Commits what is pending and stops accepting changes. Never throws for a failed commit. */
  close(): void {
    if (this.closed) return;
    // Callbacks run by a commit may make changes of their own; give those a commit too.
    for (let round = 0; round < 10; round++) {
      this.commit();
      if (this.statements.length === 0 || this.failure !== undefined) break;
    }
    this.closed = true;
    if (this.timer !== null) clearImmediate(this.timer);
    this.timer = null;
  }

  /** Commits the pending batch, then runs callbacks. Failures go to `fail`, never to the caller. */
  commit(): void {
    if (this.timer !== null) {
      clearImmediate(this.timer);
      this.timer = null;
    }
    if (this.closed || this.failure !== undefined) return;
    const statements = this.statements;
    const params = this.params;
    const waiting = this.waiting;
    if (statements.length > 0) {
      this.statements = [];
      this.params = [];
      this.waiting = [];
      try {
        this.runAll(statements, params);
      } catch (err) {
        this.fail(err, statements.length);
        return;
      }
      this.stats.commits++;
      this.stats.changes += statements.length;
    }
    // Ready callbacks were given before any change of this batch: they go first.
    this.runCallbacks(this.takeReady());
    if (statements.length > 0) this.runCallbacks(waiting);
  }

  private fail(err: unknown, changes: number): void {
    const failure = new StoreCommitError(this.file, changes, err);
    this.failure = failure;
    this.waiting = [];
    this.logger.error({ err: failure, file: this.file }, failure.message);
    // Their changes were committed by earlier batches.
    this.runCallbacks(this.takeReady());
    this.report(failure);
  }

  private takeReady(): (() => void)[] {
    const ready = this.ready;
    if (ready.length > 0) this.ready = [];
    return ready;
  }

  private runCallbacks(callbacks: (() => void)[]): void {
    runCommitCallbacks(callbacks, this.logger);
  }
}

/** Errors about one statement's values, after which SQLite keeps the transaction open. */
function isRejectedChange(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = String((err as { code?: unknown }).code ?? '');
  return code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG';
}
