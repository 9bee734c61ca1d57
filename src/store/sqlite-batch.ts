// Write batching (group commit): every change is a prepared statement plus its parameters,
// buffered in call order and committed in one transaction with the changes around it.
//
// When a change is committed: the changes of one event-loop turn form a segment, closed at the end
// of that turn (a setImmediate armed by the turn's first change). A closed segment is committed once
// `commitDelayMs` have passed since it closed: at the end of the first turn that ends after that, or
// by a timer if the loop goes quiet. With commitDelayMs 0 every turn commits its own changes (one
// transaction per turn). The delay lets acknowledgements read in the meantime cancel the changes
// they undo before they reach the file (cancel(): an in-flight row written for a delivery and
// deleted by its PUBACK costs nothing), which is what makes a QoS 1 fan-out to persistent sessions
// cheap. Past `maxPendingChanges` waiting changes everything closed is committed at once, so what
// waits in memory is bounded by one turn's changes plus that bound.
//
// Invariants:
// - Changes are applied in the order they were made; a commit applies a prefix of them, so what is
//   on disk is always a prefix of the changes made (less the cancelled pairs, see cancel()).
// - afterCommit callbacks run in the order given, once every change made before them is committed:
//   those with nothing pending go to `ready` and run on a microtask (or first in the next commit if
//   that comes sooner); the others right after the commit that takes in their position.
// - Fail-stop: the first failed commit makes the batch writer `failed`. The commit is rolled back,
//   its callbacks (and every later one) never run, later changes are dropped, and flush() throws.
//   No batch is ever applied after one that was lost.
// - A single change that SQLite rejects on its own (a constraint or a value it cannot bind: a
//   caller bug, not a disk problem) is logged and skipped; the rest of the batch commits.
import type Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import type { Clock, Timer } from '../shared/clock.js';
import { runCommitCallbacks } from './commit-callbacks.js';
import { StoreCommitError } from './errors.js';
import type { SqlParams, SqlValue } from './sqlite-codec.js';

export interface BatchStats {
  /** Transactions committed. */
  commits: number;
  /** Changes committed. */
  changes: number;
  /** Changes SQLite rejected and that were skipped (see file-top note). */
  rejected: number;
  /** Changes cancelled before their commit by a later change that undid them (cancel()). */
  cancelled: number;
}

export interface WriteBatchOptions {
  /** How long a closed segment waits before its commit (see file-top note); 0: commit every turn. */
  commitDelayMs?: number;
  /** Past this many waiting changes, everything closed is committed at once. */
  maxPendingChanges?: number;
  /** Time for the delay (tests advance a ManualClock); default: monotonic, referenced timers. */
  clock?: Clock;
}

export const DEFAULT_MAX_PENDING_CHANGES = 100_000;

/** A segment of changes closed at the end of one turn: [previous end, end), closed at `at`. */
interface Segment {
  end: number;
  at: number;
}

const NO_PARAMS: SqlValue[] = [];

/**
 * The default time source: monotonic (a wall-clock step must not hold a commit back), and timers
 * that keep the process alive, as the setImmediate of a turn does: changes waiting for their
 * commit are never abandoned by an exit (systemClock's timers are unref'd).
 */
const COMMIT_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    return { cancel: () => clearInterval(handle) };
  },
};

export class WriteBatch {
  /** Pending changes; a cancelled one is null. statements[0] is change number `base`. */
  private statements: (Database.Statement | null)[] = [];
  private params: SqlParams[] = [];
  private base = 0;
  private segments: Segment[] = [];
  /** Callbacks waiting for the changes before `waitingAt[i]` to commit. */
  private waiting: (() => void)[] = [];
  private waitingAt: number[] = [];
  /** Callbacks whose changes are already committed, run on a microtask. */
  private ready: (() => void)[] = [];
  private readyScheduled = false;
  private turnEnd: NodeJS.Immediate | null = null;
  private wake: Timer | null = null;
  private closed = false;
  private warnedClosed = false;
  private readonly committedListeners: (() => void)[] = [];
  failure: StoreCommitError | undefined = undefined;
  readonly stats: BatchStats = { commits: 0, changes: 0, rejected: 0, cancelled: 0 };
  private readonly delayMs: number;
  private readonly maxPending: number;
  private readonly clock: Clock;
  private readonly runAll: (statements: (Database.Statement | null)[], params: SqlParams[], count: number) => number;
  private readonly onTurnEnd = () => {
    this.turnEnd = null;
    const end = this.end;
    const last = this.segments.length === 0 ? this.base : this.segments[this.segments.length - 1]!.end;
    if (end > last) this.segments.push({ end, at: this.delayMs === 0 ? 0 : this.clock.now() });
    this.commitDue();
  };
  private readonly onWake = () => {
    this.wake = null;
    this.commitDue();
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
    options: WriteBatchOptions = {},
  ) {
    this.delayMs = options.commitDelayMs ?? 0;
    this.maxPending = options.maxPendingChanges ?? DEFAULT_MAX_PENDING_CHANGES;
    this.clock = options.clock ?? COMMIT_CLOCK;
    this.runAll = db.transaction((statements: (Database.Statement | null)[], params: SqlParams[], count: number): number => {
      let applied = 0;
      for (let i = 0; i < count; i++) {
        const statement = statements[i]!;
        if (statement === null) continue;
        const p = params[i]!;
        try {
          statement.run(...(Array.isArray(p) ? p : p.values()));
          applied++;
        } catch (err) {
          if (!isRejectedChange(err) || !db.inTransaction) throw err;
          this.stats.rejected++;
          this.logger.error({ err, sql: statement.source, file: this.file }, 'store: SQLite rejected a change; skipped');
        }
      }
      return applied;
    });
  }

  /** Changes waiting for a commit (cancelled ones included until their segment commits). */
  get pending(): number {
    return this.statements.length;
  }

  /** The number of the next change; changes below `committedBelow` are committed. */
  private get end(): number {
    return this.base + this.statements.length;
  }

  /** Changes numbered below this are committed (or were cancelled, or dropped by a failure). */
  get committedBelow(): number {
    return this.base;
  }

  /** Records one change; returns its number (for cancel()), or -1 if it was dropped. */
  add(statement: Database.Statement, params: SqlParams): number {
    if (this.closed) {
      if (!this.warnedClosed) {
        this.warnedClosed = true;
        this.logger.warn({ file: this.file, sql: statement.source }, 'store: change after close ignored');
      }
      return -1;
    }
    if (this.failure !== undefined) return -1;
    this.statements.push(statement);
    this.params.push(params);
    this.turnEnd ??= setImmediate(this.onTurnEnd);
    return this.end - 1;
  }

  /**
   * Drops change `n` if it is not committed yet. The caller vouches that the change it is about to
   * skip would undo exactly this one (an INSERT of a row that did not exist before it, and the
   * DELETE of that row), so the file ends as if both had been applied. Returns false when `n` is
   * already committed (or cancelled): the caller must then record its own change.
   */
  cancel(n: number): boolean {
    const i = n - this.base;
    if (i < 0 || i >= this.statements.length || this.statements[i] === null) return false;
    this.statements[i] = null;
    this.params[i] = NO_PARAMS;
    this.stats.cancelled++;
    return true;
  }

  /** Called after every commit (for callers keeping numbers of pending changes). */
  onCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  afterCommit(callback: () => void): void {
    if (this.closed || this.failure !== undefined) return;
    if (this.statements.length > 0) {
      this.waiting.push(callback);
      this.waitingAt.push(this.end);
      return;
    }
    this.ready.push(callback);
    if (!this.readyScheduled) {
      this.readyScheduled = true;
      queueMicrotask(this.drainReady);
    }
  }

  /** Commits everything now; throws the failure if this commit or an earlier one failed. */
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
    this.stopTimers();
  }

  /** Commits every pending change now, then runs callbacks. Failures go to `fail`, never to the caller. */
  commit(): void {
    this.commitBelow(this.end);
  }

  /** Commits the closed segments that are due (and all of them when too many changes wait). */
  private commitDue(): void {
    if (this.closed || this.failure !== undefined) return;
    let upTo = this.base;
    if (this.delayMs === 0) {
      if (this.segments.length > 0) upTo = this.segments[this.segments.length - 1]!.end;
    } else {
      const now = this.clock.now();
      for (const s of this.segments) {
        if (now - s.at < this.delayMs) break;
        upTo = s.end;
      }
      if (this.statements.length > this.maxPending && this.segments.length > 0) upTo = this.segments[this.segments.length - 1]!.end;
    }
    if (upTo > this.base) this.commitBelow(upTo);
    if (this.failure === undefined && !this.closed && this.segments.length > 0 && this.wake === null) {
      const wait = Math.max(0, this.segments[0]!.at + this.delayMs - this.clock.now());
      this.wake = this.clock.setTimeout(this.onWake, wait);
    }
  }

  /** Commits the changes numbered below `upTo`, then runs the callbacks that waited for them. */
  private commitBelow(upTo: number): void {
    if (this.closed || this.failure !== undefined) return;
    const count = upTo - this.base;
    let applied = 0;
    if (count > 0) {
      const statements = this.statements;
      const params = this.params;
      const all = count === statements.length;
      this.statements = all ? [] : statements.slice(count);
      this.params = all ? [] : params.slice(count);
      this.base = upTo;
      while (this.segments.length > 0 && this.segments[0]!.end <= upTo) this.segments.shift();
      if (all) this.segments.length = 0;
      try {
        applied = this.runAll(statements, params, count);
      } catch (err) {
        this.fail(err, count);
        return;
      }
      this.stats.commits++;
      this.stats.changes += applied;
    }
    if (this.statements.length === 0) this.stopTimers();
    // Ready callbacks were given before any change of this batch: they go first.
    this.runCallbacks(this.takeReady());
    if (count > 0) {
      let n = 0;
      while (n < this.waitingAt.length && this.waitingAt[n]! <= upTo) n++;
      if (n > 0) {
        const due = this.waiting.splice(0, n);
        this.waitingAt.splice(0, n);
        this.runCallbacks(due);
      }
      for (const listener of this.committedListeners) listener();
    }
  }

  private stopTimers(): void {
    if (this.turnEnd !== null) clearImmediate(this.turnEnd);
    this.turnEnd = null;
    this.wake?.cancel();
    this.wake = null;
    this.segments.length = 0;
  }

  private fail(err: unknown, changes: number): void {
    const failure = new StoreCommitError(this.file, changes, err);
    this.failure = failure;
    this.waiting = [];
    this.waitingAt = [];
    this.stopTimers();
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
