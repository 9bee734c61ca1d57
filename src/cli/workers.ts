// `switchboard start --workers N`: a primary process that runs N cluster members on this machine.
// The members share the listening ports (node:cluster hands accepted connections to them in turn)
// and share everything else through Redis, exactly as members on different machines do.
//
// The primary only supervises: a member that fails before it is ready stops the whole start (a
// wrong Redis URL must not become a crash loop); a member that dies later is started again, with
// a growing pause, up to a bounded number of restarts per minute.
//
// Stopping is the primary's alone. A signal sent to the process group (Ctrl-C in a terminal,
// systemd's default KillMode=control-group) reaches every member directly as well as the
// primary; were members to act on signals, each would see it twice (once directly, once passed
// on) and take the second for "exit now", leaving without committing. So members ignore SIGINT
// and SIGTERM, and stop when the primary sends WORKER_STOP over IPC or when the IPC channel
// closes (the primary died). A member that does not stop within STOP_TIMEOUT_MS gets SIGKILL.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

export const WORKER_READY = 'switchboard:ready';
/** Primary -> member: stop gracefully, then exit. */
export const WORKER_STOP = 'switchboard:stop';
/**
 * Member -> primary: the admin API reloaded the configuration here; reload the other members too.
 * The primary answers with SIGHUP, which a member applies without passing it on, so it cannot loop.
 */
export const WORKER_RELOADED = 'switchboard:reloaded';

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
        else if (m === WORKER_RELOADED) reloadMembers(worker);
      });
    };

    // Only ready members: one still starting has no SIGHUP handler yet, and SIGHUP's default
    // action would end it. (It reads the file as it is now when it starts anyway.)
    const reloadMembers = (except?: Worker) => {
      if (stopping) return;
      for (const w of ready) if (w !== except) w.process.kill('SIGHUP');
    };

    const killAll = () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    };

    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      // A member whose channel is already closed is stopping by itself (see followPrimary).
      for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(WORKER_STOP, () => {});
      setTimeout(killAll, STOP_TIMEOUT_MS).unref();
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

    // The first signal stops the members gracefully; a second means now, for them too (they
    // ignore signals, so the primary kills them rather than leave them running alone).
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 1) {
        killAll();
        process.exit(1);
      }
      stopAll(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // `systemctl reload` signals the primary alone: each member reloads its own configuration.
    process.on('SIGHUP', () => reloadMembers());
    for (let i = 0; i < count; i++) fork();
  });
}

/** A member's view of the primary: `stop` settles once the primary asks it to stop or goes away. */
export interface PrimaryLink {
  /** Resolves with why: 'primary asked' or 'primary went away'. */
  readonly stop: Promise<string>;
  /** For a member that failed to start: stop listening and close the channel so it can exit. */
  close(): void;
}

function ignoreSignal(): void {
  // Members stop when the primary says so (see the file-top note).
}

/**
 * Runs in a member, before it starts: from here on SIGINT and SIGTERM are ignored and `stop`
 * settles on WORKER_STOP or when the IPC channel closes.
 */
export function followPrimary(): PrimaryLink {
  let settle!: (reason: string) => void;
  const stop = new Promise<string>((resolve) => (settle = resolve));
  const onMessage = (m: unknown) => {
    if (m === WORKER_STOP) settle('primary asked');
  };
  const onDisconnect = () => settle('primary went away');
  // Without this, node:cluster exits a member at once (code 0) when the channel closes
  // unexpectedly, before our 'disconnect' listener runs: no graceful stop, nothing committed.
  if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  process.on('SIGINT', ignoreSignal);
  process.on('SIGTERM', ignoreSignal);
  return {
    stop,
    close() {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      process.off('SIGINT', ignoreSignal);
      process.off('SIGTERM', ignoreSignal);
      // The channel keeps the event loop alive; closing it lets the member exit with its code.
      if (process.connected) process.disconnect();
    },
  };
}
