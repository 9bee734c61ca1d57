// Starts a private redis-server for a test: 127.0.0.1 on a free port, its own temporary --dir, no
// RDB snapshots (`--save ''`), AOF only when asked. Store tests and cluster tests share it.
//
// Invariants: every wait is bounded (start, stop, restart); every server started here is
// registered until stopped, and a process 'exit' hook SIGKILLs leftovers and removes their
// directories, so a crashed test run leaves no redis-server behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 5_000;

export interface StartRedisOptions {
  /** `appendonly yes` with `appendfsync always`: every acknowledged write survives a kill. */
  appendonly?: boolean;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export interface RedisServer {
  /** redis://127.0.0.1:{port} */
  readonly url: string;
  readonly port: number;
  /** The server's --dir (AOF files live here). */
  readonly dir: string;
  /** The running process id, or undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM (Redis writes its AOF and exits), SIGKILL if it will not go. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. Idempotent. */
  kill(): Promise<void>;
  /** stop(), then start again on the same port and dir; resolves once it answers PING. */
  restart(): Promise<void>;
  /** After stop() or kill(): start again on the same port and dir (an outage of the caller's length). */
  start(): Promise<void>;
  /** FLUSHALL. */
  flushall(): Promise<void>;
  /**
   * Sends one command and resolves with the raw RESP reply text (e.g. '+PONG\r\n'). Without AUTH:
   * a server started with --requirepass answers -NOAUTH.
   */
  command(...args: string[]): Promise<string>;
  /** What the server printed, for failure messages. */
  output(): string;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-redis-'));
  dirs.add(dir);
  const args = (port: number) => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', '',
    ...(options.args ?? []),
  ];
  let out = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (port: number): Promise<void> => {
    const proc = spawn(REDIS_SERVER_BIN, args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    child = proc;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.length > 64_000) out = out.slice(-32_000);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    let gone = false;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        gone = true;
        live.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
      proc.once('error', () => resolve());
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (gone) throw new Error(`redis-server exited during start-up on port ${port}:\n${out}`);
      try {
        // -NOAUTH: up, and protected by a password (--requirepass in args).
        const reply = await sendCommand(port, ['PING'], 500);
        if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return;
      } catch {
        // not listening yet, or still loading the AOF (-LOADING)
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  // The port is free when asked, and may be taken before redis-server binds it: try again.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (err) {
      await exited;
      if (attempt >= 3) throw err;
    }
  }

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      await terminate('SIGTERM');
      await launch(port);
    },
    async start() {
      if (child !== undefined) throw new Error('redis-server is already running');
      await launch(port);
    },
    async flushall() {
      const reply = await sendCommand(port, ['FLUSHALL'], COMMAND_TIMEOUT_MS);
      if (!reply.startsWith('+OK')) throw new Error(`FLUSHALL: ${reply}`);
    },
    command: (...command: string[]) => sendCommand(port, command, COMMAND_TIMEOUT_MS),
    output: () => out,
  };
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * One command over a fresh connection; resolves with the first complete reply line (or the
 * whole bulk reply). Enough for PING, FLUSHALL, CONFIG SET, INFO, MEMORY USAGE.
 */
function sendCommand(port: number, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]} on port ${port}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | undefined, value?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.once('error', (err) => done(err));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (isComplete(reply)) done(undefined, reply);
    });
    socket.once('connect', () => {
      let frame = `*${args.length}\r\n`;
      for (const a of args) frame += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      socket.write(frame);
    });
  });
}

/** Whether `text` holds one whole RESP2 reply (simple, error, integer, or bulk string). */
function isComplete(text: string): boolean {
  const eol = text.indexOf('\r\n');
  if (eol < 0) return false;
  if (text[0] !== '$') return true;
  const length = Number(text.slice(1, eol));
  return length < 0 || Buffer.byteLength(text, 'latin1') >= eol + 2 + length + 2;
}
