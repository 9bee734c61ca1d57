// A Sentinel-managed Redis for a test: a master and replicas (test/helpers/redis-server.ts) and
// three redis-sentinel processes, all on 127.0.0.1 with free ports and their own temporary
// directory. `failover()` asks a Sentinel for a failover (SENTINEL FAILOVER) and resolves once the
// Sentinels name the new master and it answers as one.
//
// Invariants: every wait is bounded; every process started here is stopped by stop(), and a
// process 'exit' hook SIGKILLs leftovers and removes their directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis-server.js';

export const REDIS_SENTINEL_BIN = '/usr/bin/redis-sentinel';
const READY_TIMEOUT_MS = 15_000;

export interface SentinelSetup {
  readonly masterName: string;
  /** "127.0.0.1:port" of each Sentinel. */
  readonly sentinels: string[];
  /** The data servers; which one is master changes with failovers. */
  readonly servers: RedisServer[];
  /** The server the Sentinels name as master now. */
  master(): Promise<RedisServer>;
  /** SENTINEL FAILOVER; resolves with the new master once it answers ROLE as master. */
  failover(): Promise<RedisServer>;
  /** Waits until the Sentinels name a master other than `old` that answers as master (after a kill). */
  waitForNewMaster(old: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /** Waits until `count` replicas of the master are connected and caught up. */
  waitForReplicas(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await sleep(50);
  }
}

/** One short-lived connection for one command (no retries, bounded). */
async function ask(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000, retryStrategy: () => null });
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    await client.connect();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no reply within 2 s')), 2000);
    });
    return await Promise.race([client.call(String(args[0]), ...args.slice(1)), late]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** A master with `replicas` replicas (default 2: one left to promote or to acknowledge after a failover). */
export async function startSentinelSetup(replicas = 2, masterName = 'sbmaster'): Promise<SentinelSetup> {
  // No 5 s pause before a full resynchronisation (Redis 7's repl-diskless-sync-delay): a server
  // that comes back is a replica again at once.
  const fast = ['--repl-diskless-sync-delay', '0'];
  const primary = await startRedis({ args: fast });
  const servers = [primary];
  for (let i = 0; i < replicas; i++) servers.push(await startRedis({ args: [...fast, '--replicaof', '127.0.0.1', String(primary.port)] }));
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sentinel-'));
  dirs.add(dir);
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  let out = '';

  const byPort = (port: number) => servers.find((s) => s.port === port);
  const masterPort = async (sentinelPort: number): Promise<number> => {
    const reply = await ask(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', masterName);
    if (!Array.isArray(reply)) throw new Error(`no master known: ${String(reply)}`);
    return Number(reply[1]);
  };
  const isMaster = async (port: number) => {
    const role = await ask(port, 'ROLE');
    return Array.isArray(role) && role[0] === 'master';
  };

  const setup: SentinelSetup = {
    masterName,
    sentinels: [],
    servers,
    async master() {
      const port = await masterPort(ports[0]!);
      const server = byPort(port);
      if (server === undefined) throw new Error(`the Sentinels name an unknown master on port ${port}`);
      return server;
    },
    async waitForReplicas(count, timeoutMs = READY_TIMEOUT_MS) {
      await until(`${count} replica(s) in sync`, timeoutMs, async () => {
        const master = await setup.master();
        const info = String(await ask(master.port, 'INFO', 'replication'));
        const online = info.split('\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length;
        return online >= count ? true : undefined;
      });
    },
    async failover() {
      const before = await setup.master();
      // Refused (NOGOODSLAVE) until the Sentinel has seen the replica: retry within the bound.
      await until('SENTINEL FAILOVER to be accepted', READY_TIMEOUT_MS, async () => {
        const reply = await ask(ports[0]!, 'SENTINEL', 'FAILOVER', masterName);
        return reply === 'OK' ? true : undefined;
      });
      return setup.waitForNewMaster(before);
    },
    async waitForNewMaster(old, timeoutMs = READY_TIMEOUT_MS) {
      return until('a new master', timeoutMs, async () => {
        for (const port of ports) {
          const now = await masterPort(port).catch(() => 0);
          if (now === 0 || now === old.port) return undefined;
        }
        const server = byPort(await masterPort(ports[0]!));
        return server !== undefined && (await isMaster(server.port)) ? server : undefined;
      });
    },
    async stop() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
      await Promise.all(servers.map((s) => s.kill()));
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };

  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its file (it must be writable); fast timings for a test.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const proc = spawn(REDIS_SENTINEL_BIN, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      live.add(proc);
      proc.once('exit', () => live.delete(proc));
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.length > 64_000) out = out.slice(-32_000);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      procs.push(proc);
      ports.push(port);
      setup.sentinels.push(`127.0.0.1:${port}`);
    }
    // Every Sentinel knows the master, its replica, and the two other Sentinels.
    for (const port of ports) {
      await until(`Sentinel ${port} to see the replica and its peers`, READY_TIMEOUT_MS, async () => {
        const reply = await ask(port, 'SENTINEL', 'master', masterName);
        if (!Array.isArray(reply)) return undefined;
        const fields = new Map<string, string>();
        for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
        return Number(fields.get('num-slaves')) >= replicas && Number(fields.get('num-other-sentinels')) >= 2 ? true : undefined;
      });
    }
    await setup.waitForReplicas(replicas);
  } catch (err) {
    await setup.stop();
    throw new Error(`${(err as Error).message}\nsentinel output:\n${out.slice(-4000)}`);
  }
  return setup;
}
