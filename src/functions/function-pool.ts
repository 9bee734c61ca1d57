/**
 * Runs function authorizers off the event loop, in a small pool of worker threads
 * (function-worker.ts), so a slow or broken authorizer cannot stall MQTT traffic.
 *
 * Invariants:
 * - Every `invoke` settles exactly once, at the latest after `timeoutMs` (AWS: 5 s hard limit),
 *   with the handler's raw result or an AuthorizerInvokeError carrying a stable code.
 * - Invocations are spread over at most `size` workers, least-busy first; one worker runs many
 *   invocations concurrently (handlers mostly wait on I/O). When every worker is under
 *   suspicion (below), invocations wait in a queue, still under their own timeout.
 * - A timeout alone does not condemn a worker (the handler may merely await forever). The
 *   worker is pinged; if it does not answer within `unresponsiveAfterMs` (a handler stuck in
 *   synchronous code), it is terminated, its other invocations fail with WORKER_RESTARTED, and
 *   a fresh worker is started. While it still owes answers to timed-out invocations it is
 *   pinged again every `unresponsiveAfterMs`, because a handler may start spinning after the
 *   first ping (its module was still loading, say). A worker that crashes is replaced too.
 * - Workers are unref'd: an idle pool never keeps the process alive (pending invocations do,
 *   through their timers).
 * - Messages are batched: invocations handed to a worker in one event-loop turn travel in one
 *   postMessage (at most MAX_BATCH each), sent from setImmediate once the turn's I/O callbacks
 *   have run, and the worker answers the same way. In a connect storm (every client with its own
 *   token, so every CONNECT runs the authorizer) one message per invocation each way was the
 *   largest cost on both threads; batching changes no invocation's outcome, deadline or timeout.
 *   The invocations travel as one JSON text, not as objects for structured clone (which cost
 *   more than the handlers on the main thread): the event is plain JSON by construction, and
 *   Lambda too hands a handler its event as parsed JSON. An event that is not JSON fails alone.
 *
 * Locating the worker: compiled, `dist/functions/function-worker.js` sits beside this file and is
 * the worker's entry. Under tsx (tests, running `src/`) only `function-worker.ts` exists, and
 * node cannot start a worker from a .ts entry even with `execArgv: ['--import', 'tsx']` (tried:
 * "Unknown file extension .ts"), so the worker starts from a small eval'd bootstrap that
 * registers tsx through its API (`tsx/esm/api`) and then imports the .ts entry.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { AuthorizerInvokeError } from './invoke-error.js';
import { FunctionNameError, isFunctionName, type FunctionDirectory } from './function-directory.js';
import type { WorkerReply, WorkerRequest } from './function-worker.js';

export const DEFAULT_POOL_SIZE = 2;
export const MAX_POOL_SIZE = 64;
/** How long a worker may take to answer a ping after one of its invocations timed out. */
export const DEFAULT_UNRESPONSIVE_AFTER_MS = 1000;
/** Most invocations carried by one message to a worker (bounds one structured clone). */
export const MAX_BATCH = 256;

export interface FunctionPoolOptions {
  /** Number of worker threads, 1-64; default 2. */
  size?: number;
  /** Ping grace before a worker is declared stuck and replaced; default 1000 ms. */
  unresponsiveAfterMs?: number;
  /** Where functions given by name (not path) are found (functions.dir); without it, names fail. */
  functions?: FunctionDirectory;
  /**
   * Module paths that may be run (those the config file names, see configuredPaths()); any
   * other path is refused. Without it every path may run (tests, tools given a path directly).
   */
  allowedPaths?: ReadonlySet<string>;
}

interface Job {
  readonly id: number;
  readonly path: string;
  readonly event: unknown;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** The worker running it; undefined while queued. */
  slot: Slot | undefined;
}

interface Slot {
  readonly worker: Worker;
  readonly running: Map<number, Job>;
  /** Ids of invocations that timed out here and have not answered yet. */
  readonly abandoned: Set<number>;
  /** Set while a ping is outstanding: the worker gets no new invocations meanwhile. */
  pingTimer: NodeJS.Timeout | undefined;
  /** Next re-check while `abandoned` is not empty. */
  recheckTimer: NodeJS.Timeout | undefined;
  alive: boolean;
  /** The worker loaded and said so; one that dies before that is not respawned eagerly. */
  ready: boolean;
  /** Invocations handed to this worker in the current turn (JSON text each), posted by flush(). */
  outbox: string[];
  /** Their ids, in the same order. */
  outboxIds: number[];
}

type InvokeRequest = Extract<WorkerRequest, { type: 'invoke' }>;

type WorkerScript = { kind: 'js'; url: URL } | { kind: 'tsx'; entry: string; tsxApi: string };

// Runs as a CommonJS script in the worker: register tsx, then load the TypeScript entry.
const TSX_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsxApi).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;

function locateWorker(): WorkerScript {
  const js = new URL('./function-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { kind: 'js', url: js };
  const ts = new URL('./function-worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(ts))) {
    let tsxApi: string;
    try {
      tsxApi = import.meta.resolve('tsx/esm/api');
    } catch {
      throw new Error(`running from TypeScript sources needs tsx installed to start ${fileURLToPath(ts)}; build with tsc to run from dist/`);
    }
    return { kind: 'tsx', entry: ts.href, tsxApi };
  }
  throw new Error(`function authorizer worker not found beside ${fileURLToPath(import.meta.url)}`);
}

export class FunctionPool {
  private readonly size: number;
  private readonly unresponsiveAfterMs: number;
  private readonly script: WorkerScript;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;
  /** A flush() is scheduled for this turn. */
  private flushing = false;
  private posted = 0;
  private readonly functions: FunctionDirectory | undefined;
  private readonly allowedPaths: ReadonlySet<string> | undefined;

  constructor(opts: FunctionPoolOptions = {}) {
    const size = opts.size ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
      throw new RangeError(`FunctionPool size must be an integer from 1 to ${MAX_POOL_SIZE}, got ${size}`);
    }
    const grace = opts.unresponsiveAfterMs ?? DEFAULT_UNRESPONSIVE_AFTER_MS;
    if (!Number.isFinite(grace) || grace <= 0) {
      throw new RangeError(`FunctionPool unresponsiveAfterMs must be a positive number, got ${grace}`);
    }
    this.size = size;
    this.unresponsiveAfterMs = grace;
    this.script = locateWorker();
    this.functions = opts.functions;
    this.allowedPaths = opts.allowedPaths;
  }

  /** Invocation messages posted to workers so far (each carries up to MAX_BATCH invocations). */
  get messagesPosted(): number {
    return this.posted;
  }

  /** Number of live worker threads (started on demand, at most `size`). */
  get workerCount(): number {
    return this.slots.length;
  }

  /**
   * Calls `handler` of the module at `handlerPath` (a function name, looked up in functions.dir
   * at every call so a file replaced by a link elsewhere is refused; or, from the config file, a
   * path: absolute, or relative to the working directory) with `event`; resolves with its raw
   * result, parsed from the JSON it serialised to.
   */
  invoke(handlerPath: string, event: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError());
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return Promise.reject(new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`));
    }
    let path: string;
    try {
      if (!isFunctionName(handlerPath)) {
        path = resolvePath(handlerPath);
        if (this.allowedPaths !== undefined && !this.allowedPaths.has(path)) {
          throw new FunctionNameError(`${path} is not named by the config file; functions given over the API must be names in functions.dir`);
        }
      } else if (this.functions === undefined) throw new FunctionNameError(`function ${handlerPath} is named, but no functions directory is configured`);
      else path = this.functions.resolve(handlerPath);
    } catch (err) {
      return Promise.reject(new AuthorizerInvokeError('LOAD_ERROR', (err as Error).message));
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: ++this.nextId,
        path,
        event,
        timeoutMs,
        deadline: Date.now() + timeoutMs,
        resolve,
        reject,
        timer: undefined,
        slot: undefined,
      };
      job.timer = setTimeout(() => this.onTimeout(job), timeoutMs);
      const slot = this.pick();
      if (slot === undefined) this.queue.push(job);
      else this.send(slot, job);
    });
  }

  /** Fails every pending invocation with POOL_CLOSED and stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, closedError());
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => this.retire(slot, closedError())));
  }

  /** Least-busy responsive worker, a new one while fewer than `size` exist and all are busy, else none. */
  private pick(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.pingTimer !== undefined) continue;
      if (best === undefined || slot.running.size < best.running.size) best = slot;
    }
    if ((best === undefined || best.running.size > 0) && this.slots.length < this.size) return this.spawn();
    return best;
  }

  private send(slot: Slot, job: Job): void {
    job.slot = slot;
    slot.running.set(job.id, job);
    let json: string;
    try {
      json = JSON.stringify({ type: 'invoke', id: job.id, handlerPath: job.path, event: job.event, deadline: job.deadline } satisfies InvokeRequest);
    } catch (e) {
      slot.running.delete(job.id);
      this.settle(job, new AuthorizerInvokeError('INVALID_RESULT', `authorizer event is not JSON: ${(e as Error).message}`));
      return;
    }
    slot.outbox.push(json);
    slot.outboxIds.push(job.id);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** Posts each worker's outbox: one message per MAX_BATCH invocations. */
  private flush(): void {
    this.flushing = false;
    for (const slot of this.slots) {
      while (slot.alive && slot.outbox.length > 0) {
        const requests = slot.outbox.splice(0, MAX_BATCH);
        const ids = slot.outboxIds.splice(0, MAX_BATCH);
        try {
          slot.worker.postMessage({ type: 'batch', json: `[${requests.join(',')}]` } satisfies WorkerRequest);
          this.posted++;
        } catch (e) {
          // The worker is gone (its exit handler settles the rest).
          for (const id of ids) {
            const job = slot.running.get(id);
            if (job === undefined) continue;
            slot.running.delete(id);
            this.settle(job, e as Error);
          }
        }
      }
    }
  }

  /** Hands queued invocations to workers that can take them. */
  private drain(): void {
    while (this.queue.length > 0) {
      const slot = this.pick();
      if (slot === undefined) return;
      this.send(slot, this.queue.shift() as Job);
    }
  }

  private settle(job: Job, error: Error | null, value?: unknown): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    if (error === null) job.resolve(value);
    else job.reject(error);
  }

  private spawn(): Slot {
    const script = this.script;
    const worker =
      script.kind === 'js'
        ? new Worker(script.url, { name: 'switchboard-authorizer' })
        : new Worker(TSX_BOOTSTRAP, {
            eval: true,
            name: 'switchboard-authorizer',
            workerData: { tsxApi: script.tsxApi, entry: script.entry },
            // Not the parent's `--import tsx`: the bootstrap registers tsx itself.
            execArgv: [],
          });
    worker.unref();
    const slot: Slot = {
      worker,
      running: new Map(),
      abandoned: new Set(),
      pingTimer: undefined,
      recheckTimer: undefined,
      alive: true,
      ready: false,
      outbox: [],
      outboxIds: [],
    };
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (e) => this.replace(slot, `function authorizer worker crashed: ${e.message}`));
    worker.on('exit', (code) => this.replace(slot, `function authorizer worker exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'batch') {
      for (const one of reply.replies) this.onReply(slot, one);
      return;
    }
    if (reply.type === 'ready') {
      slot.ready = true;
      return;
    }
    if (reply.type === 'pong') {
      clearTimeout(slot.pingTimer);
      slot.pingTimer = undefined;
      if (slot.abandoned.size > 0) {
        slot.recheckTimer = setTimeout(() => this.checkResponsive(slot), this.unresponsiveAfterMs);
        slot.recheckTimer.unref();
      }
      this.drain();
      return;
    }
    const job = slot.running.get(reply.id);
    if (job === undefined) {
      // It already timed out; the late answer is dropped.
      slot.abandoned.delete(reply.id);
      return;
    }
    slot.running.delete(reply.id);
    if (reply.type === 'error') {
      this.settle(job, new AuthorizerInvokeError(reply.code, reply.message));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(reply.json) as unknown;
    } catch (e) {
      this.settle(job, new AuthorizerInvokeError('INVALID_RESULT', `authorizer result is not JSON: ${(e as Error).message}`));
      return;
    }
    this.settle(job, null, value);
  }

  private onTimeout(job: Job): void {
    job.timer = undefined;
    const slot = job.slot;
    if (slot === undefined) {
      const index = this.queue.indexOf(job);
      if (index >= 0) this.queue.splice(index, 1);
    } else {
      slot.running.delete(job.id);
      slot.abandoned.add(job.id);
    }
    job.reject(new AuthorizerInvokeError('TIMEOUT', `function authorizer ${job.path} timed out after ${job.timeoutMs} ms`));
    if (slot !== undefined) this.checkResponsive(slot);
  }

  /** Pings the worker; no pong in time means a handler holds its thread: replace it. */
  private checkResponsive(slot: Slot): void {
    if (!slot.alive || slot.pingTimer !== undefined) return;
    clearTimeout(slot.recheckTimer);
    slot.recheckTimer = undefined;
    slot.pingTimer = setTimeout(
      () => this.replace(slot, `function authorizer worker stopped responding (a handler blocked it for over ${this.unresponsiveAfterMs} ms) and was restarted`, true),
      this.unresponsiveAfterMs,
    );
    slot.pingTimer.unref();
    slot.worker.postMessage({ type: 'ping', id: ++this.nextId } satisfies WorkerRequest);
  }

  /**
   * `requeue`: the worker was stopped because a handler that already timed out blocks it; the
   * invocations that were merely sharing its thread are not at fault and run again on the next
   * worker while their own deadline allows. After a crash any running handler may be the cause,
   * so those fail.
   */
  private replace(slot: Slot, reason: string, requeue = false): void {
    if (!slot.alive) return;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    void this.retire(slot, new AuthorizerInvokeError('WORKER_RESTARTED', reason), requeue);
    if (this.closed) return;
    // A worker that never came up would fail again at once: then only demand starts the next.
    if (slot.ready || this.queue.length > 0) this.spawn();
    this.drain();
  }

  private async retire(slot: Slot, error: AuthorizerInvokeError, requeue = false): Promise<void> {
    if (!slot.alive) return;
    slot.alive = false;
    clearTimeout(slot.pingTimer);
    clearTimeout(slot.recheckTimer);
    slot.pingTimer = undefined;
    slot.recheckTimer = undefined;
    for (const job of slot.running.values()) {
      if (requeue && !this.closed && job.deadline > Date.now() + 50) {
        job.slot = undefined;
        this.queue.unshift(job);
      } else this.settle(job, error);
    }
    slot.running.clear();
    slot.abandoned.clear();
    slot.outbox.length = 0;
    slot.outboxIds.length = 0;
    await slot.worker.terminate();
  }
}

function closedError(): AuthorizerInvokeError {
  return new AuthorizerInvokeError('POOL_CLOSED', 'function authorizer pool is closed');
}
