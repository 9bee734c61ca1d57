// `switchboard start --workers N`: a primary process that runs N cluster members on this machine.
// The members share the listening ports (node:cluster hands accepted connections to them in turn)
// and share everything else through Redis, exactly as members on different machines do.
//
// The primary only supervises: a member that fails before it is ready stops the whole start (a
// wrong Redis URL must not become a crash loop); a member that dies later is started again, with
// a growing pause, up to a bounded number of restarts per minute.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

export const WORKER_READY = 'switchboard:ready';

const MAX_RESTARTS_PER_MINUTE = 10;
const STOP_TIMEOUT_MS = 10_000;

export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** Runs in the primary; resolves when every member has exited after a signal (or a failed start). */
export function superviseWorkers(count: number, log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const ready = new Set<Worker>();
    const restarts: number[] = [];
    let stopping = false;
    let exitCode = 0;

    const fork = () => {
      const worker = cluster.fork();
      worker.on('message', (m: unknown) => {
        if (m === WORKER_READY) ready.add(worker);
      });
    };

    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      }, STOP_TIMEOUT_MS).unref();
    };

    cluster.on('exit', (worker, code, signal) => {
      const wasReady = ready.delete(worker);
      if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) {
        resolve(exitCode);
        return;
      }
      if (stopping) return;
      if (!wasReady) {
        log(`switchboard: a member process failed to start (exit ${code ?? signal}); stopping`);
        stopAll(1);
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve(1);
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && now - restarts[0]! > 60_000) restarts.shift();
      if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        log(`switchboard: member processes keep dying (${restarts.length} restarts in a minute); stopping`);
        stopAll(1);
        return;
      }
      restarts.push(now);
      const pause = Math.min(200 * 2 ** restarts.length, 10_000);
      log(`switchboard: member process ${worker.process.pid} died (exit ${code ?? signal}); starting another in ${pause} ms`);
      setTimeout(() => {
        if (!stopping) fork();
      }, pause).unref();
    });

    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 1) process.exit(1);
      stopAll(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    for (let i = 0; i < count; i++) fork();
  });
}
