// Starts the real broker as a child process (`node bin/switchboard.js start --config FILE`)
// on port 0 and reports the ports it took, so integration tests talk to it over real sockets.
//
// Invariants: every server started here is registered until stopped; `stopAllServers()` (call
// it from `after()`) stops the stragglers, and a process 'exit' hook SIGKILLs anything left if
// the runner itself dies. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Limits } from '../../src/config/schema.js';

/** The `auth` section as written in a config file (defaults filled in by the server). */
export type AuthInput = Record<string, unknown>;

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const READY_MSG = 'switchboard ready';
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface StartOptions {
  limits?: Partial<Limits>;
  logLevel?: LogLevel;
  /** Passed as `--log-level` on the command line instead of in the config file. */
  cliLogLevel?: LogLevel;
  /** The config file's `auth` section (authorizers, unauthenticatedPolicy, ...). */
  auth?: AuthInput;
  /**
   * Start from this config file (YAML or JSON) instead of a generated one; listeners are moved
   * to 127.0.0.1 on port 0 by command-line flags, and `limits`/`logLevel`/`auth` are ignored.
   */
  configFile?: string;
  /** With configFile: keep the file's store instead of forcing the memory store. */
  keepStore?: boolean;
  /** Extra command-line flags after `start --config FILE`. */
  args?: string[];
  /** Extra environment variables for the server process (authorizer handlers see them). */
  env?: Record<string, string>;
}

export interface LogLine {
  [key: string]: unknown;
  level?: number;
  msg?: string;
}

export interface TestServer {
  httpPort: number;
  mqttPort: number;
  /** ws://127.0.0.1:{httpPort}/mqtt */
  wsUrl: string;
  /** mqtt://127.0.0.1:{mqttPort} */
  mqttUrl: string;
  pid: number;
  /** http://127.0.0.1:{httpPort}, the admin API's (and the CLI's --endpoint) address. */
  httpUrl: string;
  /** Raw stdout lines, in order. */
  logs: string[];
  /** stderr text, for diagnostics. */
  stderr: () => string;
  /** Parsed JSON log lines (non-JSON lines skipped). */
  logLines(): LogLine[];
  /** Resolves with the first log line matching `pred` (including lines already seen). */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  isAlive(): boolean;
  /** SIGTERM, wait for exit (bounded), SIGKILL if it will not go. Idempotent. */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code/signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<TestServer>();
const children = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function parseLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-it-'));
  const configPath = join(dir, 'config.json');
  const config = {
    listeners: {
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { host: '127.0.0.1', port: 0 },
    },
    store: { type: 'memory' },
    limits: options.limits ?? {},
    log: { level: options.logLevel ?? 'info' },
    ...(options.auth !== undefined ? { auth: options.auth } : {}),
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const args = ['bin/switchboard.js', 'start', '--config', options.configFile ?? configPath];
  if (options.configFile !== undefined) {
    args.push('--http-host', '127.0.0.1', '--http-port', '0', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0');
    // Example configs use the default SQLite store under ./data; tests must not share one file.
    if (!options.keepStore) args.push('--set', 'store.type=memory');
  }
  if (options.cliLogLevel) args.push('--log-level', options.cliLogLevel);
  if (options.args) args.push(...options.args);
  // IT_SERVER_ENTRY replaces bin/switchboard.js: another build of the server, or a shim that runs
  // a reference broker under the same contract, to tell a wrong test from a wrong server. (Not
  // SWITCHBOARD_*: the server reads those as configuration.)
  if (process.env.IT_SERVER_ENTRY) args[0] = process.env.IT_SERVER_ENTRY;
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  children.add(child);

  const logs: string[] = [];
  let stderr = '';
  const logWaiters = new Set<() => void>();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    logs.push(line);
    for (const wake of logWaiters) wake();
  });

  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      // Set before waking the waiters, so a server that dies at start-up fails the wait at once.
      hasExited = true;
      for (const wake of logWaiters) wake();
      res({ code, signal });
    });
  });

  const logLines = () => logs.map(parseLine).filter((l): l is LogLine => l !== undefined);

  const waitForLog = (pred: (line: LogLine) => boolean, timeoutMs = 5_000): Promise<LogLine> =>
    new Promise((res, rej) => {
      let scanned = 0;
      const check = () => {
        for (; scanned < logs.length; scanned++) {
          const parsed = parseLine(logs[scanned]!);
          if (parsed && pred(parsed)) {
            done();
            res(parsed);
            return;
          }
        }
        if (hasExited) {
          done();
          rej(new Error(`server exited while waiting for a log line; stderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        rej(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${logs.slice(-10).join('\n')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        logWaiters.delete(check);
      };
      logWaiters.add(check);
      check();
    });

  let ready: LogLine;
  try {
    ready = await waitForLog((l) => l.msg === READY_MSG, READY_TIMEOUT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `switchboard did not become ready: ${(err as Error).message}\nstdout:\n${logs.join('\n')}\nstderr:\n${stderr}`,
    );
  }
  const httpPort = Number(ready.httpPort);
  const mqttPort = Number(ready.mqttPort);
  if (!(httpPort > 0) || !(mqttPort > 0)) {
    child.kill('SIGKILL');
    throw new Error(`ready line lacks httpPort/mqttPort: ${JSON.stringify(ready)}`);
  }

  let stopping: Promise<void> | undefined;
  const server: TestServer = {
    httpPort,
    mqttPort,
    wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    pid: child.pid!,
    logs,
    stderr: () => stderr,
    logLines,
    waitForLog,
    isAlive: () => !hasExited,
    exited,
    kill(signal) {
      if (!hasExited) child.kill(signal);
    },
    stop() {
      stopping ??= (async () => {
        if (!hasExited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        running.delete(server);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  running.add(server);
  return server;
}

export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** Resident set size of a process in bytes, from /proc/{pid}/status (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
