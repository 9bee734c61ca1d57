// Write batching for Redis: every change is an Op (its commands, plus the mirror change it makes,
// if any), queued in call order and sent as ONE MULTI/EXEC per event-loop turn. The EXEC also runs
// the NOTIFY script once, publishing every mirror change of the batch as one notice
// (redis-changes.ts). afterCommit callbacks wait for the EXEC holding every change made before
// them.
//
// Longer than our usual file: the batch, its retry after a Redis outage and its invariants are one
// state machine, and splitting it would spread those invariants over files that must change together.
//
// Invariants:
// - At most one EXEC is in flight; the next batch leaves when its reply is in. Batches therefore
//   reach Redis in the order their changes were made, and one that failed is retried before any
//   later one.
// - Callbacks run in the order given: with nothing waiting or in flight, on a microtask; otherwise
//   right after the EXEC that holds the changes made before them.
// - Redis unreachable (connection lost, restarting, loading, out of memory...) is not a failure:
//   the batch in flight goes back to the head of the queue, whole and in order, and is sent again
//   once Redis answers; callbacks wait meanwhile (so acknowledgements wait instead of lying).
//   Every command is idempotent (HSET, HDEL, SADD, SREM, DEL, SET, ZADD NX, ZREM, the scripts), so
//   a batch that did run before its reply was lost may safely run again.
// - Bounded while waiting: a change supersedes a waiting one with the same coalescing key (the
//   retained message of one topic, the session row, one queued message, one in-flight entry...);
//   the superseded op is blanked, never sent. Callbacks given after the blanked op wait for the
//   one that superseded it (a batch never ends between the two: see `safeEnd`).
// - With waitReplicas, a batch is committed when the master answered the EXEC AND enough replicas
//   acknowledged it (WAIT); too few in time counts as "not now": the batch is retried.
// - Fail-stop on anything else (a reply error such as WRONGTYPE or a script error: a bug or
//   someone else's data under our prefix): the writer reports one StoreCommitError, runs no more
//   callbacks and sends nothing more. Redis does not roll back a transaction whose command failed,
//   so that last batch may be partly applied.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { runCommitCallbacks } from './commit-callbacks.js';
import { encodeNoticeBody, type Change } from './redis-codec.js';
import type { RedisKeys } from './redis-keys.js';
import { NOTIFY } from './redis-scripts.js';
import { StoreCommitError, errorDetail } from './errors.js';

export type Arg = string | Buffer | number;
export type Command = [string, ...Arg[]];

/** A batch larger than this (in commands) is split where it safely can be. */
const MAX_BATCH_COMMANDS = 10_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
/** Reply errors that mean "not now" rather than "never": the batch is retried. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|READONLY|OOM|NOREPLICAS|CLUSTERDOWN|MISCONF)\b/;

export interface OpInit {
  /** Coalescing key: a later op with the same key supersedes this one while both wait. */
  key?: string;
  /** The client ID of a session op (deleteSession supersedes the whole group). */
  group?: string;
  /** Supersedes every waiting op of `group` (deleteSession). */
  supersedeGroup?: boolean;
  /** The commands, or a function of the batch number that gives them (scripts naming their batch). */
  commands: Command[] | ((batch: number) => Command[]);
  /** The number of commands a function gives. */
  size?: number;
  /** The mirror change, published in the batch's notice. */
  change?: Change;
  /** The in-flight entry's send order, carried when a waiting put is superseded. */
  ord?: number;
}

export class Op {
  readonly id: number;
  readonly key: string | undefined;
  readonly group: string | undefined;
  readonly commands: Command[] | ((batch: number) => Command[]);
  readonly size: number;
  readonly change: Change | undefined;
  readonly ord: number | undefined;
  /** 0 while live; the id of the op that superseded it. */
  blankedBy = 0;
  /** The batch that carries it; Infinity while waiting (again, after a lost connection). */
  batch = Infinity;
  /** Set once the EXEC holding it succeeded. */
  committed = false;

  constructor(id: number, init: OpInit) {
    this.id = id;
    this.key = init.key;
    this.group = init.group;
    this.commands = init.commands;
    this.size = typeof init.commands === 'function' ? (init.size ?? 1) : init.commands.length;
    this.change = init.change;
    this.ord = init.ord;
  }
}

class Marker {
  constructor(readonly callback: () => void) {}
}

type Entry = Op | Marker;

interface InFlight {
  entries: Entry[];
  batch: number;
  /** Live ops sent (changes). */
  ops: number;
  commands: number;
}

export interface RedisBatchStats {
  /** EXECs that succeeded. */
  commits: number;
  /** Ops committed. */
  changes: number;
  /** Ops superseded before they were sent. */
  coalesced: number;
  /** Batches sent again after Redis was unreachable or busy. */
  retries: number;
  /** Commits that too few replicas acknowledged in time (waitReplicas), sent again. */
  replicaTimeouts: number;
}

export interface WriterOptions {
  client: Redis;
  keys: RedisKeys;
  nodeId: string;
  /** The URL without password, for messages. */
  url: string;
  logger: Logger;
  report: (error: StoreCommitError) => void;
  /** Replicas that must acknowledge each commit (WAIT) before its callbacks run; default 0. */
  waitReplicas?: number;
  /** One WAIT's timeout; default 1000 ms. */
  waitTimeoutMs?: number;
}

export class RedisWriteBatch {
  private queue: Entry[] = [];
  private inflight: InFlight | null = null;
  private readonly byKey = new Map<string, Op>();
  private readonly byGroup = new Map<string, Set<Op>>();
  private ready: (() => void)[] = [];
  private readyScheduled = false;
  private nextId = 1;
  private nextBatch = 1;
  private live = 0;
  /** Set by a cluster member (fence): asked before each EXEC leaves. */
  private mayWrite: (() => boolean) | null = null;
  private timer: NodeJS.Immediate | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = RETRY_MIN_MS;
  private connected = false;
  /** No new changes (close() began); what is queued is still sent. */
  private closing = false;
  private warnedClosed = false;
  /** Nothing is sent any more. */
  private stopped = false;
  /**
   * Set while changes wait for Redis: since when, why, how many committed since, and (once a
   * batch succeeds again) the last op id made while waiting: drained when none up to it is left.
   */
  private waiting: { since: number; reason: string; committed: number; mark: number } | null = null;
  private drainWaiters: (() => void)[] = [];
  failure: StoreCommitError | undefined = undefined;
  readonly stats: RedisBatchStats = { commits: 0, changes: 0, coalesced: 0, retries: 0, replicaTimeouts: 0 };
  private readonly client: Redis;
  private readonly keys: RedisKeys;
  private readonly nodeId: string;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly report: (error: StoreCommitError) => void;
  /**
   * Redis replicates asynchronously: an EXEC answered by the master may be lost if the master
   * fails before a replica has it, and Sentinel promotes that replica. With `waitReplicas` > 0 a
   * batch counts as committed (its callbacks, hence acknowledgements, run) only once WAIT says that
   * many replicas have it; Sentinel promotes the replica with the most data, so it has the write.
   */
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly scheduledSend = () => {
    this.timer = null;
    this.send();
  };
  private readonly retryNow = () => {
    this.retryTimer = null;
    this.send();
  };
  private readonly drainReady = () => {
    this.readyScheduled = false;
    const ready = this.ready;
    this.ready = [];
    this.runCallbacks(ready);
  };

  constructor(options: WriterOptions) {
    this.client = options.client;
    this.keys = options.keys;
    this.nodeId = options.nodeId;
    this.url = options.url;
    this.logger = options.logger;
    this.report = options.report;
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 1000;
  }

  /** Commands waiting or in flight: what an outage holds back (a metric). */
  get backlog(): number {
    return this.live;
  }

  /** The waiting op with that coalescing key, if any (the session store carries in-flight order). */
  waitingOp(key: string): Op | undefined {
    return this.byKey.get(key);
  }

  /** Records one change for the next batch; returns the op (the change feed tracks it). */
  add(init: OpInit): Op {
    const op = new Op(this.nextId++, init);
    if (this.closing || this.stopped) {
      if (!this.warnedClosed && this.failure === undefined) {
        this.warnedClosed = true;
        this.logger.warn({ url: this.url }, 'store: change after close ignored');
      }
      return op;
    }
    if (this.failure !== undefined) return op;
    if (op.key !== undefined) {
      const previous = this.byKey.get(op.key);
      if (previous !== undefined) this.blank(previous, op.id);
      this.byKey.set(op.key, op);
    }
    if (op.group !== undefined) {
      let group = this.byGroup.get(op.group);
      if (init.supersedeGroup && group !== undefined) {
        for (const other of group) this.blank(other, op.id);
        group = undefined;
      }
      if (group === undefined) {
        group = new Set();
        this.byGroup.set(op.group, group);
      }
      group.add(op);
    }
    this.queue.push(op);
    this.live += op.size;
    if (!this.connected) this.startWaiting('Redis is unreachable');
    this.timer ??= setImmediate(this.scheduledSend);
    return op;
  }

  afterCommit(callback: () => void): void {
    if (this.stopped || this.failure !== undefined) return;
    if (this.queue.length > 0) this.queue.push(new Marker(callback));
    else if (this.inflight !== null) this.inflight.entries.push(new Marker(callback));
    else {
      this.ready.push(callback);
      if (!this.readyScheduled) {
        this.readyScheduled = true;
        queueMicrotask(this.drainReady);
      }
    }
  }

  /** Sends what is waiting now, if Redis is there and no EXEC is in flight. */
  flush(): void {
    if (this.timer !== null) {
      clearImmediate(this.timer);
      this.timer = null;
    }
    this.send();
    if (this.failure !== undefined) throw this.failure;
  }

  /** The connection's state, from the store's ioredis listeners. */
  setConnected(connected: boolean, reason = 'the connection to Redis was lost'): void {
    this.connected = connected;
    if (!connected) {
      this.startWaiting(reason);
      return;
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.send();
    this.checkDrained();
  }

  /** Takes no new changes; resolves true once everything queued is committed, false after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    this.closing = true;
    if (this.timer !== null) {
      clearImmediate(this.timer);
      this.timer = null;
    }
    this.send();
    if (this.isIdle()) return Promise.resolve(this.failure === undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(this.failure === undefined);
      };
      this.drainWaiters.push(done);
    });
  }

  /** See store.ts WriteFence. */
  fence(mayWrite: () => boolean): void {
    this.mayWrite = mayWrite;
  }

  /** The fence opened again: send what waited. */
  resume(): void {
    this.send();
  }

  /** The node was declared dead: drops what is queued (not what is in flight); its callbacks never run. */
  discard(): void {
    this.queue = [];
    this.byKey.clear();
    this.byGroup.clear();
    this.live = this.inflight?.commands ?? 0;
    this.checkDrained();
  }

  /** Stops for good: what is still queued is dropped and its callbacks never run. */
  stop(): void {
    this.closing = true;
    this.stopped = true;
    if (this.timer !== null) clearImmediate(this.timer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.timer = null;
    this.retryTimer = null;
    this.queue = [];
    this.byKey.clear();
    this.byGroup.clear();
    this.live = this.inflight?.commands ?? 0;
    this.resolveDrainWaiters();
  }

  private isIdle(): boolean {
    return this.inflight === null && (this.queue.length === 0 || this.failure !== undefined || this.stopped);
  }

  private blank(op: Op, by: number): void {
    if (op.blankedBy !== 0 || op.batch !== Infinity) return;
    op.blankedBy = by;
    this.live -= op.size;
    this.stats.coalesced++;
    if (op.key !== undefined && this.byKey.get(op.key) === op) this.byKey.delete(op.key);
    if (op.group !== undefined) this.byGroup.get(op.group)?.delete(op);
  }

  private forget(op: Op): void {
    if (op.key !== undefined && this.byKey.get(op.key) === op) this.byKey.delete(op.key);
    if (op.group !== undefined) {
      const group = this.byGroup.get(op.group);
      if (group !== undefined) {
        group.delete(op);
        if (group.size === 0) this.byGroup.delete(op.group);
      }
    }
  }

  /**
   * Where the next batch may end: after at least MAX_BATCH_COMMANDS commands (or at the end of
   * the queue), and never between a blanked op and the op that superseded it, so a callback is
   * never run while a change made before it is still unsent. Markers right after the end ride
   * along.
   */
  private safeEnd(): number {
    const q = this.queue;
    let reach = 0;
    let lastId = 0;
    let commands = 0;
    let end = q.length;
    for (let i = 0; i < q.length; i++) {
      const e = q[i]!;
      if (e instanceof Op) {
        lastId = e.id;
        if (e.blankedBy !== 0) reach = Math.max(reach, e.blankedBy);
        else commands += e.size;
      }
      if (commands >= MAX_BATCH_COMMANDS && reach <= lastId) {
        end = i + 1;
        break;
      }
    }
    while (end < q.length && q[end] instanceof Marker) end++;
    return end;
  }

  private send(): void {
    if (this.inflight !== null || !this.connected || this.stopped || this.failure !== undefined) return;
    if (this.retryTimer !== null || this.queue.length === 0) return;
    // A cluster member that may have been declared dead writes nothing (store.ts WriteFence).
    if (this.mayWrite !== null && !this.mayWrite()) return;
    const end = this.safeEnd();
    const entries = end === this.queue.length ? this.queue : this.queue.slice(0, end);
    this.queue = end === this.queue.length ? [] : this.queue.slice(end);
    const batch = this.nextBatch++;
    const multi = this.client.multi();
    const changes: Change[] = [];
    let ops = 0;
    let commands = 0;
    for (const e of entries) {
      if (!(e instanceof Op) || e.blankedBy !== 0) continue;
      e.batch = batch;
      this.forget(e);
      const list = typeof e.commands === 'function' ? e.commands(batch) : e.commands;
      for (const [name, ...args] of list) multi.call(name, ...args);
      ops++;
      commands += e.size;
      if (e.change !== undefined) changes.push(e.change);
    }
    if (ops === 0) {
      // Only callbacks (their changes were committed or superseded within this prefix).
      const callbacks: (() => void)[] = [];
      for (const e of entries) if (e instanceof Marker) callbacks.push(e.callback);
      this.runCallbacks(callbacks);
      this.send();
      return;
    }
    if (changes.length > 0) {
      multi.call('EVAL', NOTIFY, 1, this.keys.version, this.keys.changes, encodeNoticeBody(this.nodeId, batch, changes));
    }
    const inflight: InFlight = { entries, batch, ops, commands };
    this.inflight = inflight;
    const exec = multi.exec();
    if (this.waitReplicas === 0) {
      exec.then(
        (results) => this.onReply(inflight, results, -1),
        (err: unknown) => this.onRejected(inflight, err),
      );
      return;
    }
    // WAIT right behind the EXEC on the same connection (one round trip): it answers once
    // `waitReplicas` replicas have every write this connection made, or after the timeout with
    // how many do. See `waitReplicas`.
    // A reply error (a replica refuses WAIT: we reached a demoted master) counts as none acknowledged.
    const replicated = this.client.call('WAIT', this.waitReplicas, this.waitTimeoutMs).catch((err: unknown) => (isReplyError(err) ? 0 : Promise.reject(err)));
    Promise.all([exec, replicated]).then(
      ([results, acked]) => this.onReply(inflight, results, Number(acked)),
      (err: unknown) => this.onRejected(inflight, err),
    );
  }

  private onReply(inflight: InFlight, results: [Error | null, unknown][] | null, replicas: number): void {
    if (this.inflight !== inflight) return;
    this.inflight = null;
    if (this.stopped) {
      this.resolveDrainWaiters();
      return;
    }
    const error = results === null ? new Error('the transaction was aborted (EXEC returned nil)') : results.find((r) => r[0] !== null)?.[0];
    if (error !== undefined && error !== null) {
      if (TRANSIENT_REPLY.test(error.message)) this.retryLater(inflight, errorDetail(error));
      else this.fail(error, inflight.ops);
      return;
    }
    if (replicas >= 0 && replicas < this.waitReplicas) {
      // Committed on the master only: a failover now could promote a replica without it. Not
      // committed yet, then: the batch goes again (idempotent) with another WAIT, and the
      // acknowledgements behind it wait, as during an outage.
      this.stats.replicaTimeouts++;
      this.retryLater(inflight, `${replicas} of ${this.waitReplicas} replica(s) acknowledged the write within ${this.waitTimeoutMs} ms`);
      return;
    }
    this.retryDelay = RETRY_MIN_MS;
    this.live -= inflight.commands;
    this.stats.commits++;
    this.stats.changes += inflight.ops;
    const callbacks: (() => void)[] = [];
    for (const e of inflight.entries) {
      if (e instanceof Op) {
        if (e.blankedBy === 0) e.committed = true;
      } else callbacks.push(e.callback);
    }
    if (this.waiting !== null) {
      this.waiting.committed += inflight.ops;
      this.waiting.mark ||= this.nextId - 1;
    }
    this.runCallbacks(callbacks);
    this.checkDrained();
    this.send();
  }

  private onRejected(inflight: InFlight, err: unknown): void {
    if (this.inflight !== inflight) return;
    this.inflight = null;
    if (this.stopped) {
      this.resolveDrainWaiters();
      return;
    }
    if (isReplyError(err)) {
      // EXECABORT: a command was refused while queued; nothing of the batch ran.
      const previous = (err as { previousErrors?: Error[] }).previousErrors ?? [];
      const causes = previous.length > 0 ? previous : [err as Error];
      if (causes.every((e) => TRANSIENT_REPLY.test(e.message))) this.retryLater(inflight, errorDetail(causes[0]));
      else this.fail(causes.find((e) => !TRANSIENT_REPLY.test(e.message)) ?? err, inflight.ops);
      return;
    }
    // The connection went away with the EXEC unanswered: it may or may not have run. Send it
    // again (idempotent) once ioredis has reconnected; if the connection still looks up, after a
    // delay.
    this.requeue(inflight);
    this.startWaiting(`the connection to Redis was lost (${errorDetail(err)})`);
    if (this.connected) this.scheduleRetry();
  }

  private retryLater(inflight: InFlight, reason: string): void {
    this.requeue(inflight);
    this.startWaiting(`Redis refused the batch for now (${reason})`);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(this.retryNow, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  /** Puts a batch that was not answered back at the head of the queue, in its order. */
  private requeue(inflight: InFlight): void {
    this.stats.retries++;
    for (const e of inflight.entries) {
      if (!(e instanceof Op) || e.blankedBy !== 0) continue;
      e.batch = Infinity;
      // A newer waiting op with the same key stays the one later changes supersede; this older
      // one is simply sent first.
      if (e.key !== undefined && !this.byKey.has(e.key)) this.byKey.set(e.key, e);
      if (e.group !== undefined) {
        let group = this.byGroup.get(e.group);
        if (group === undefined) {
          group = new Set();
          this.byGroup.set(e.group, group);
        }
        group.add(e);
      }
    }
    this.queue = inflight.entries.concat(this.queue);
  }

  private startWaiting(reason: string): void {
    if (this.waiting !== null || this.stopped || this.failure !== undefined) return;
    this.waiting = { since: Date.now(), reason, committed: 0, mark: 0 };
    this.logger.warn(
      { url: this.url, reason, backlog: this.live },
      'store: Redis is unavailable; writes and the acknowledgements that depend on them wait for it',
    );
  }

  /**
   * Ends the waiting period once Redis answers and every change made while it did not is
   * committed (later changes may be flowing already: steady traffic never leaves the queue empty).
   */
  private checkDrained(): void {
    const w = this.waiting;
    if (w !== null && this.connected && this.retryTimer === null && this.inflight === null) {
      const first = this.firstLiveOp();
      if (first === undefined || (w.mark !== 0 && first.id > w.mark)) {
        this.waiting = null;
        this.logger.info({ url: this.url, waitedMs: Date.now() - w.since, changes: w.committed }, `store: Redis is back; ${w.committed} waiting change(s) committed`);
      }
    }
    if (this.isIdle()) this.resolveDrainWaiters();
  }

  /** The oldest op still to send (queue ids only grow, a requeued batch going back to the head). */
  private firstLiveOp(): Op | undefined {
    for (const e of this.queue) if (e instanceof Op && e.blankedBy === 0) return e;
    return undefined;
  }

  private resolveDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private fail(err: unknown, changes: number): void {
    const failure = new StoreCommitError(
      this.url,
      changes,
      err,
      'That batch may be partly applied (Redis does not roll back a failed command). Check what else writes under this key prefix, then restart.',
    );
    this.failure = failure;
    this.queue = [];
    this.byKey.clear();
    this.byGroup.clear();
    this.live = 0;
    this.logger.error({ err: failure, url: this.url }, failure.message);
    this.resolveDrainWaiters();
    this.report(failure);
  }

  private runCallbacks(callbacks: (() => void)[]): void {
    runCommitCallbacks(callbacks, this.logger);
  }
}

/** An error Redis replied with (as opposed to a connection problem). */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
