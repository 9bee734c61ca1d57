#!/usr/bin/env node
// All cores (issue #18): `switchboard start --workers N` (N member processes sharing the ports,
// node:cluster handing accepted connections to them in turn, state shared through one Redis)
// against one node, with the same load, in one run. Two scenarios over WebSocket or TCP:
//   fanout  one publisher, S subscribers on one topic (spread over the members by the accept
//           round-robin), bursts of QoS 0 messages; deliveries per second
//   pairs   P publisher/subscriber pairs, each on its own topic, closed loop (64 in flight per
//           pair), 1 s warm-up then 3 s counted; deliveries per second
// Broker, Redis and load generators are not pinned unless asked (--broker-cores, --generator-cores):
// on a machine with fewer cores than members plus generator they share them, and the report states
// each one's share of the machine (CPU seconds per wall second), so the figure can be read for what
// it is. --generators N splits the clients over N generator processes (one core each at most).
// See docs/benchmarks.md ("All cores") for how to run it on a bigger machine.
//
//   node bench/workers.js [--workers 1,2|1,auto] [--scenarios fanout,pairs] [--transport ws|tcp]
//                         [--reps 3] [--subscribers 1000] [--messages 500] [--pairs 100] [--broker-cores 0-1]
//                         [--generator-cores 0-1] [--generators 1] [--switchboard-dir DIR] [--out FILE]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './brokers/launch.js';
import { startGenerator } from './lib/generator.js';
import { cpuSeconds } from './lib/proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PAYLOAD = 64;

function parseArgs(argv) {
  const all = `0-${availableParallelism() - 1}`;
  const opts = {
    workers: ['1', '2'], scenarios: ['fanout', 'pairs'], transport: 'ws', reps: 3, subscribers: 1000, messages: 500, pairs: 100, generators: 1,
    brokerCores: all, generatorCores: all, dir: path.resolve(here, '..'), out: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? (() => { throw new Error(`${a} needs a value`); })();
    if (a === '--workers') opts.workers = value().split(',');
    else if (a === '--scenarios') opts.scenarios = value().split(',');
    else if (a === '--transport') opts.transport = value();
    else if (a === '--reps') opts.reps = Number(value());
    else if (a === '--subscribers') opts.subscribers = Number(value());
    else if (a === '--generators') opts.generators = Number(value());
    else if (a === '--messages') opts.messages = Number(value());
    else if (a === '--pairs') opts.pairs = Number(value());
    else if (a === '--broker-cores') opts.brokerCores = value();
    else if (a === '--generator-cores') opts.generatorCores = value();
    else if (a === '--switchboard-dir') opts.dir = path.resolve(value());
    else if (a === '--out') opts.out = path.resolve(value());
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port, alive, what) {
  for (let i = 0; i < 300; i++) {
    if (!alive()) throw new Error(`${what} exited`);
    if (await canConnect(port)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen within 30 s`);
}

/** Every process of the tree rooted at `pid` (the primary and the members it forked). */
function treeOf(pid) {
  const children = new Map();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (!p) continue;
    if (!children.has(pp)) children.set(pp, []);
    children.get(pp).push(p);
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function spawnTracked(cmd, args, cwd) {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err = (err + c).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  return {
    pid: child.pid,
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function startRedis(opts) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-workers-redis-'));
  const proc = spawnTracked('taskset', ['-c', opts.brokerCores, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
  await waitForPort(port, proc.alive, 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, stop: async () => (await proc.stop(), rmSync(dir, { recursive: true, force: true })) };
}

async function startSwitchboard(opts, workers, redis, runId) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-workers-'));
  const policy = JSON.parse(readFileSync(path.join(here, 'brokers', 'policy.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auth: { unauthenticatedPolicy: policy } }));
  const ws = await freePort();
  const tcp = await freePort();
  const args = ['-c', opts.brokerCores, process.execPath, path.join(opts.dir, 'bin', 'switchboard.js'), 'start', '--config', path.join(dir, 'config.json'),
    '--http-port', String(ws), '--mqtt-port', String(tcp), '--http-host', '127.0.0.1', '--mqtt-host', '127.0.0.1', '--log-level', 'warn',
    '--set', 'limits.maxConnections=200000', '--set', 'store.type=memory', '--workers', workers];
  if (workers !== '1') args.push('--redis', redis.url, '--set', `cluster.redis.keyPrefix=bench-workers-${runId}-${workers}:`);
  const proc = spawnTracked('taskset', args, dir);
  await waitForPort(ws, proc.alive, `switchboard --workers ${workers}`);
  await waitForPort(tcp, proc.alive, `switchboard --workers ${workers}`);
  if (workers !== '1') await sleep(2000); // every member listening and known to the others
  const target = opts.transport === 'tcp' ? { host: '127.0.0.1', port: tcp, transport: 'tcp' } : { host: '127.0.0.1', port: ws, transport: 'ws', path: '/mqtt' };
  return {
    target,
    cpu: () => treeOf(proc.pid).reduce((n, pid) => n + (cpuSeconds(pid) ?? 0), 0),
    alive: proc.alive,
    stderr: proc.stderr,
    stop: async () => (await proc.stop(), rmSync(dir, { recursive: true, force: true })),
  };
}

/** CPU seconds per wall second of broker, generators and Redis over `fn`. */
async function measured(broker, gens, redis, fn) {
  const cpu = () => ({ broker: broker.cpu(), gen: gens.reduce((n, g) => n + (cpuSeconds(g.pid) ?? 0), 0), redis: redis ? cpuSeconds(redis.pid) ?? 0 : 0, at: performance.now() });
  const a = cpu();
  const result = await fn();
  const b = cpu();
  const wall = (b.at - a.at) / 1000;
  return { ...result, brokerShare: (b.broker - a.broker) / wall, generatorShare: (b.gen - a.gen) / wall, redisShare: (b.redis - a.redis) / wall, brokerCpuPerMsgUs: ((b.broker - a.broker) / result.delivered) * 1e6 };
}

async function fanout(opts, broker, redis, runId, workers) {
  const subGens = await Promise.all(Array.from({ length: opts.generators }, (_, k) => startGenerator(opts.generatorCores, `workers-subs-${k}`)));
  const pubGen = await startGenerator(opts.generatorCores, 'workers-pub');
  const per = Math.ceil(opts.subscribers / subGens.length);
  const subscribers = per * subGens.length;
  try {
    for (const [k, g] of subGens.entries()) {
      const o = await g.call('open', { pool: 'subs', target: broker.target, count: per, concurrency: 100, clientIdPrefix: `${runId}-w${workers}-s${k}-`, subscribe: [{ topic: 'bench/w/fan', qos: 0 }], timeoutMs: 120000 }, 130000);
      if (o.opened < per) throw new Error(`only ${o.opened} of ${per} subscribers connected`);
    }
    await pubGen.call('open', { pool: 'pub', target: broker.target, count: 1, concurrency: 1, clientIdPrefix: `${runId}-w${workers}-p-`, timeoutMs: 10000 });
    await sleep(1500); // subscriptions announced to every member
    const burst = async (count) => {
      for (const g of subGens) await g.call('reset', { pool: 'subs' });
      const expected = count * subscribers;
      const sent = await pubGen.call('burst', { pool: 'pub', topic: 'bench/w/fan', qos: 0, count, window: 100, payloadSize: PAYLOAD, timeoutMs: 60000 }, 70000);
      let received = 0;
      let lastNs = 0n;
      let last = -1;
      let still = 0;
      for (let i = 0; i < 600 && received < expected && still < 20; i++) {
        await sleep(100);
        received = 0;
        for (const g of subGens) {
          const st = await g.call('stats', { pool: 'subs' });
          received += st.received;
          if (BigInt(st.lastRecvNs) > lastNs) lastNs = BigInt(st.lastRecvNs);
        }
        still = received === last ? still + 1 : 0;
        last = received;
      }
      const seconds = Number(lastNs - BigInt(sent.t0Ns)) / 1e9;
      return { delivered: received, rate: received / seconds, lost: expected - received };
    };
    await burst(20); // warm-up
    const results = [];
    for (let rep = 0; rep < opts.reps; rep++) results.push(await measured(broker, [...subGens, pubGen], redis, () => burst(opts.messages)));
    return results;
  } finally {
    for (const g of [...subGens, pubGen]) await g.stop();
  }
}

async function pairs(opts, broker, redis, runId, workers) {
  const gens = await Promise.all(Array.from({ length: opts.generators }, (_, k) => startGenerator(opts.generatorCores, `workers-pairs-${k}`)));
  const per = Math.ceil(opts.pairs / gens.length);
  try {
    for (const [k, g] of gens.entries()) {
      const s = await g.call('open', { pool: 'subs', target: broker.target, count: per, concurrency: 50, clientIdPrefix: `${runId}-w${workers}-g${k}s`, subscribe: [{ topic: `bench/wp/${k}/{i}`, qos: 0 }], timeoutMs: 30000 });
      const p = await g.call('open', { pool: 'pubs', target: broker.target, count: per, concurrency: 50, clientIdPrefix: `${runId}-w${workers}-g${k}p`, timeoutMs: 30000 });
      if (s.opened < per || p.opened < per) throw new Error('pairs could not all connect');
    }
    await sleep(1500); // subscriptions announced to every member
    const run = () => measured(broker, gens, redis, async () => {
        const rs = await Promise.all(gens.map((g, k) => g.call('pairs', { pubPool: 'pubs', subPool: 'subs', topicPrefix: `bench/wp/${k}/`, window: 64, warmupMs: 1000, durationMs: 3000, payloadSize: PAYLOAD })));
        const delivered = rs.reduce((n, r) => n + r.delivered, 0);
        const seconds = Math.max(...rs.map((r) => Number(r.elapsedNs) / 1e9));
        return { delivered, rate: delivered / seconds, lost: rs.reduce((n, r) => n + r.lost, 0) };
      });
    // An unrecorded first run: with members, the first seconds of cross-member traffic ran far
    // slower than the rest (links between members being set up); the figure is the steady state.
    const warmup = await run();
    const results = [];
    for (let rep = 0; rep < opts.reps; rep++) results.push(await run());
    results.warmupRate = warmup.rate;
    return results;
  } finally {
    for (const g of gens) await g.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const runId = Date.now().toString(36);
  const needsRedis = opts.workers.some((w) => w !== '1');
  const redis = needsRedis ? await startRedis(opts) : null;
  const out = { opts, cores: availableParallelism(), results: {} };
  try {
    for (const scenario of opts.scenarios) {
      for (const workers of opts.workers) {
        const broker = await startSwitchboard(opts, workers, redis, runId);
        try {
          const runs = scenario === 'fanout' ? await fanout(opts, broker, redis, runId, workers) : await pairs(opts, broker, redis, runId, workers);
          out.results[`${scenario} workers=${workers}`] = { runs, warmupRate: runs.warmupRate ?? null };
          const m = (k) => median(runs.map((r) => r[k]));
          console.log(`${scenario.padEnd(6)} ${opts.transport} --workers ${workers}: ${Math.round(m('rate')).toLocaleString('en')} msg/s (runs ${runs.map((r) => Math.round(r.rate / 1000) + 'k').join(', ')}), broker ${m('brokerShare').toFixed(2)} cores, generator ${m('generatorShare').toFixed(2)} cores, Redis ${m('redisShare').toFixed(2)} cores, broker ${m('brokerCpuPerMsgUs').toFixed(2)} µs CPU/delivery, lost ${m('lost')}${runs.warmupRate != null ? `; unrecorded first run ${Math.round(runs.warmupRate).toLocaleString('en')} msg/s` : ''}`);
        } catch (err) {
          console.log(`${scenario} --workers ${workers}: ERROR ${err.message}\n${broker.stderr()}`);
        } finally {
          await broker.stop();
        }
      }
    }
  } finally {
    await redis?.stop();
  }
  if (opts.out) writeFileSync(opts.out, JSON.stringify(out, null, 2));
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
