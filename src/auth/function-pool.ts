/**
 * Runs function authorizers off the event loop, in a small pool of worker threads
 * (function-worker.ts), so a slow or broken authorizer cannot stall MQTT traffic.
 *
 * Invariants:
 * - Every `invoke` settles exactly once, at the latest after `timeoutMs` (AWS: 5 s hard limit),
 *   with the handler's raw result or an AuthorizerInvokeError carrying a stable code.
 * - Invocations are spread over at most `size` workers, least-busy first; one worker runs many
 *   invocations concurrently (handlers mostly wait on I/O).
 * - A timeout alone does not condemn a worker (the handler may merely await forever): the
 *   worker is pinged, and only if it does not answer within `unresponsiveAfterMs` (a handler
 *   stuck in synchronous code) is it terminated, its other invocations failed, and a fresh
 *   worker started. A worker that crashes is replaced the same way.
 * - Workers are unref'd: an idle pool never keeps the process alive (pending invocations do,
 *   through their timers).
 *
 * Locating the worker: compiled, `dist/auth/function-worker.js` sits beside this file and is
 * the worker's entry. Under tsx (tests, running `src/`) only `function-worker.ts` exists, and
 * node cannot start a worker from a .ts entry even with `execArgv: ['--import', 'tsx']` (tried:
 * "Unknown file extension .ts"), so the worker starts from a small eval'd bootstrap that
 * registers tsx through its API (`tsx/esm/api`) and then imports the .ts entry.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { AuthorizerInvokeError, type AuthorizerEvent } from './authorizer.js';
import type { WorkerReply, WorkerRequest } from './function-worker.js';

export const DEFAULT_POOL_SIZE = 2;
export const MAX_POOL_SIZE = 64;
/** How long a worker may take to answer a ping after one of its invocations timed out. */
export const DEFAULT_UNRESPONSIVE_AFTER_MS = 1000;

export interface FunctionPoolOptions {
  /** Number of worker threads, 1-64; default 2. */
  size?: number;
  /** Ping grace before a worker is declared stuck and replaced; default 1000 ms. */
  unresponsiveAfterMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set while a ping is outstanding. */
  pingTimer: NodeJS.Timeout | undefined;
  alive: boolean;
  /** The worker loaded and said so; one that dies before that is not respawned eagerly. */
  ready: boolean;
}

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
  private nextId = 0;
  private closed = false;

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
  }

  /** Number of live worker threads (started lazily, at most `size`). */
  get workerCount(): number {
    return this.slots.length;
  }

  /**
   * Calls `handler` of the module at `handlerPath` (absolute, or relative to the working
   * directory) with `event`; resolves with its raw result, parsed from the JSON it serialised to.
   */
  invoke(handlerPath: string, event: AuthorizerEvent, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new AuthorizerInvokeError('POOL_CLOSED', 'function authorizer pool is closed'));
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return Promise.reject(new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`));
    }
    const path = resolvePath(handlerPath);
    const slot = this.pick();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.onTimeout(slot, id, path, timeoutMs), timeoutMs);
      slot.pending.set(id, { resolve, reject, timer });
      const request: WorkerRequest = { type: 'invoke', id, handlerPath: path, event, deadline: Date.now() + timeoutMs };
      try {
        slot.worker.postMessage(request);
      } catch (e) {
        clearTimeout(timer);
        slot.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  /** Fails every pending invocation with POOL_CLOSED and stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => this.retire(slot, new AuthorizerInvokeError('POOL_CLOSED', 'function authorizer pool is closed'))));
  }

  /** Least-busy responsive worker; a new one while fewer than `size` exist and all are busy. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.pingTimer !== undefined) continue;
      if (best === undefined || slot.pending.size < best.pending.size) best = slot;
    }
    if ((best === undefined || best.pending.size > 0) && this.slots.length < this.size) return this.spawn();
    if (best !== undefined) return best;
    // Every worker is under suspicion and the pool is full: the least busy of them.
    let fallback = this.slots[0] as Slot;
    for (const slot of this.slots) if (slot.pending.size < fallback.pending.size) fallback = slot;
    return fallback;
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
    const slot: Slot = { worker, pending: new Map(), pingTimer: undefined, alive: true, ready: false };
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (e) => this.replace(slot, `function authorizer worker crashed: ${e.message}`));
    worker.on('exit', (code) => this.replace(slot, `function authorizer worker exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'ready') {
      slot.ready = true;
      return;
    }
    if (reply.type === 'pong') {
      clearTimeout(slot.pingTimer);
      slot.pingTimer = undefined;
      return;
    }
    const pending = slot.pending.get(reply.id);
    // Absent: it already timed out; the late answer is dropped.
    if (pending === undefined) return;
    slot.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.type === 'error') {
      pending.reject(new AuthorizerInvokeError(reply.code, reply.message));
      return;
    }
    try {
      pending.resolve(JSON.parse(reply.json) as unknown);
    } catch (e) {
      pending.reject(new AuthorizerInvokeError('INVALID_RESULT', `authorizer result is not JSON: ${(e as Error).message}`));
    }
  }

  private onTimeout(slot: Slot, id: number, path: string, timeoutMs: number): void {
    const pending = slot.pending.get(id);
    if (pending === undefined) return;
    slot.pending.delete(id);
    pending.reject(new AuthorizerInvokeError('TIMEOUT', `function authorizer ${path} timed out after ${timeoutMs} ms`));
    this.checkResponsive(slot);
  }

  /** Pings the worker; no pong in time means a handler holds its thread: replace it. */
  private checkResponsive(slot: Slot): void {
    if (!slot.alive || slot.pingTimer !== undefined) return;
    slot.pingTimer = setTimeout(
      () => this.replace(slot, `function authorizer worker stopped responding (a handler blocked it for over ${this.unresponsiveAfterMs} ms) and was restarted`),
      this.unresponsiveAfterMs,
    );
    slot.pingTimer.unref();
    slot.worker.postMessage({ type: 'ping', id: ++this.nextId } satisfies WorkerRequest);
  }

  private replace(slot: Slot, reason: string): void {
    if (!slot.alive) return;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    void this.retire(slot, new AuthorizerInvokeError('WORKER_RESTARTED', reason));
    // A worker that never came up would fail again at once: leave the next start to `pick`.
    if (!this.closed && slot.ready) this.spawn();
  }

  private async retire(slot: Slot, error: AuthorizerInvokeError): Promise<void> {
    if (!slot.alive) return;
    slot.alive = false;
    clearTimeout(slot.pingTimer);
    slot.pingTimer = undefined;
    for (const pending of slot.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    slot.pending.clear();
    await slot.worker.terminate();
  }
}
