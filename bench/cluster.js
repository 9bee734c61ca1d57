// The cluster scenario (issue #9): fan-out over WebSocket with the subscribers spread over two
// nodes sharing one Redis, against the single-node figure and against Aedes scaled out the way its
// users do it (two instances, mqemitter-redis). On a 2-core machine both members, Redis and the
// load generator share the two cores, so this measures what the cluster costs more than what it
// adds; the same scenario on more cores is what shows the gain.
//
// Variants (records' `target`):
//   switchboard          one node, memory store (the single-node figure, both cores available)
//   switchboard-cluster  `switchboard start --redis URL --workers 2`: two members sharing the ports
//   aedes                two Aedes processes with mqemitter-redis, half the subscribers on each
//
// And what interest routing saves (scenario cluster-routing): three separate members, every
// subscriber on the first, the publisher on the second, the third without subscribers; the third's
// CPU and Redis's per message, with routing 'interest' (the default) and 'broadcast'.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './brokers/launch.js';
import { startGenerator } from './lib/generator.js';
import { cpuSeconds } from './lib/proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PAYLOAD = 64;
export const CLUSTER_VARIANTS = ['switchboard', 'switchboard-cluster', 'aedes'];
const ROUTING_VARIANTS = ['switchboard-routing-interest', 'switchboard-routing-broadcast'];

export function clusterSizes(quick) {
  // Bursts long enough (a second or more) for /proc's 10 ms CPU ticks to mean something.
  return quick
    ? { reps: 1, subscribers: 1000, counts: { q0: 100, q1: 50, routing: 2000 } }
    : { reps: 3, subscribers: 2000, counts: { q0: 100, q1: 50, routing: 2000 } };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Children of `pid` (the members `--workers` forks), read from /proc. */
function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function spawnProcess(cmd, args, cwd) {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  const tail = [];
  const onLine = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line) tail.push(line) > 40 && tail.shift();
  };
  child.stdout.on('data', onLine);
  child.stderr.on('data', onLine);
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  return {
    child,
    pid: child.pid,
    alive: () => exited === null,
    tail: () => tail.join('\n'),
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
        await exit;
        clearTimeout(timer);
      }
    },
  };
}

async function waitForPorts(proc, ports, what) {
  const deadline = performance.now() + 20000;
  while (performance.now() < deadline) {
    if (!proc.alive()) throw new Error(`${what} exited:\n${proc.tail()}`);
    let all = true;
    for (const p of ports) all = all && (await canConnect(p));
    if (all) return;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`${what} did not start:\n${proc.tail()}`);
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-redis-'));
  const proc = spawnProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
  await waitForPorts(proc, [port], 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, stop: async () => (await proc.stop(), rmSync(dir, { recursive: true, force: true })) };
}

/** A variant: its endpoints (one per instance, subscribers spread over them) and its processes. */
async function startVariant(kind, ctx, redis) {
  const dir = mkdtempSync(path.join(tmpdir(), `bench-${kind}-`));
  const procs = [];
  const endpoints = [];
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (kind === 'aedes') {
      for (let i = 0; i < 2; i++) {
        const tcp = await freePort();
        const ws = await freePort();
        const proc = spawnProcess(process.execPath, [path.join(here, 'brokers', 'aedes-redis-server.js'), String(tcp), String(ws), redis.url], dir);
        procs.push(proc);
        await waitForPorts(proc, [tcp, ws], `aedes instance ${i + 1}`);
        endpoints.push({ host: '127.0.0.1', port: ws, transport: 'ws', path: '/mqtt' });
      }
    } else {
      const policy = JSON.parse(readFileSync(path.join(here, 'brokers', 'policy.json'), 'utf8'));
      const config = path.join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ auth: { unauthenticatedPolicy: policy } }));
      const routing = kind.startsWith('switchboard-routing-');
      for (let i = 0; i < (routing ? 3 : 1); i++) {
        const tcp = await freePort();
        const ws = await freePort();
        const args = [
          path.join(ctx.opts.switchboardDir, 'bin', 'switchboard.js'), 'start', '--config', config,
          '--http-port', String(ws), '--mqtt-port', String(tcp), '--http-host', '127.0.0.1', '--mqtt-host', '127.0.0.1',
          '--log-level', 'warn', '--set', 'limits.maxConnections=200000', '--set', 'store.type=memory',
        ];
        if (kind !== 'switchboard') args.push('--redis', redis.url, '--set', `cluster.redis.keyPrefix=bench-${ctx.runId}-${kind}:`);
        if (kind === 'switchboard-cluster') args.push('--workers', '2');
        if (kind === 'switchboard-routing-broadcast') args.push('--set', 'cluster.routing=broadcast');
        const proc = spawnProcess(process.execPath, args, ctx.opts.switchboardDir);
        procs.push(proc);
        await waitForPorts(proc, [tcp, ws], `${kind} ${i + 1}`);
        endpoints.push({ host: '127.0.0.1', port: ws, transport: 'ws', path: '/mqtt' });
      }
      // Every member must be listening and known to the others before subscribers arrive.
      if (kind !== 'switchboard') await sleep(1500);
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    cleanup();
    throw err;
  }
  const pids = () => procs.flatMap((p) => [p.pid, ...childrenOf(p.pid)]);
  return {
    kind,
    endpoints,
    cpu: () => pids().reduce((n, pid) => n + (cpuSeconds(pid) ?? 0), 0),
    /** CPU seconds of instance `i` alone (routing: the member without subscribers). */
    cpuOf: (i) => cpuSeconds(procs[i].pid) ?? 0,
    alive: () => procs.every((p) => p.alive()),
    tail: () => procs.map((p) => p.tail()).join('\n'),
    stop: async () => (await Promise.all(procs.map((p) => p.stop())), cleanup()),
  };
}

async function burst(ctx, { variant, subGen, pubGen, pools, qos, count, subscribers, redis }) {
  for (const pool of pools) await subGen.call('reset', { pool });
  const cpu0 = variant.cpu();
  const idle0 = variant.endpoints.length === 3 ? variant.cpuOf(2) : 0;
  const redis0 = cpuSeconds(redis.pid) ?? 0;
  const expected = count * subscribers;
  const maxMs = 60000;
  const sending = pubGen.call('burst', { pool: `pub-${variant.kind}`, topic: qos ? 'bench/fan/q1' : 'bench/fan/q0', qos, count, window: 100, payloadSize: PAYLOAD, timeoutMs: maxMs }, maxMs + 10000);
  const start = performance.now();
  let received = 0;
  let lastRecvNs = 0n;
  let last = -1;
  let lastChange = start;
  for (let i = 0; i < maxMs / 100 + 1; i++) {
    received = 0;
    lastRecvNs = 0n;
    for (const pool of pools) {
      const s = await subGen.call('stats', { pool });
      received += s.received;
      if (BigInt(s.lastRecvNs) > lastRecvNs) lastRecvNs = BigInt(s.lastRecvNs);
    }
    const now = performance.now();
    if (received >= expected) break;
    if (received !== last) {
      last = received;
      lastChange = now;
    } else if (now - lastChange > 2000) break;
    if (now - start > maxMs) break;
    await sleep(100);
  }
  const sent = await sending;
  const elapsedSec = Number(lastRecvNs - BigInt(sent.t0Ns)) / 1e9;
  const cpu = variant.cpu() - cpu0;
  const redisCpu = (cpuSeconds(redis.pid) ?? 0) - redis0;
  const idleCpu = variant.endpoints.length === 3 ? variant.cpuOf(2) - idle0 : null;
  return {
    idleNodeCpuPerMsgUs: idleCpu !== null && sent.sent ? (idleCpu / sent.sent) * 1e6 : null,
    redisCpuPerPublishUs: sent.sent && variant.kind !== 'switchboard' ? (redisCpu / sent.sent) * 1e6 : null,
    rate: received > 0 && elapsedSec > 0 ? received / elapsedSec : null,
    cpuPerMsgUs: received ? (cpu / received) * 1e6 : null,
    redisCpuPerMsgUs: received && variant.kind !== 'switchboard' ? (redisCpu / received) * 1e6 : null,
    losses: Math.max(0, expected - received),
    deliveries: received,
    messages: count,
  };
}

/** Runs the scenario; records go through ctx.record like every other group's. */
export async function clusterGroup(ctx) {
  const sizes = clusterSizes(ctx.opts.quick);
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    ctx.log('cluster: redis-server is not installed (apt-get install redis-server); skipped');
    return;
  }
  const redis = await startRedis();
  try {
    for (const kind of [...CLUSTER_VARIANTS, ...ROUTING_VARIANTS]) {
      const routing = ROUTING_VARIANTS.includes(kind);
      const ids = routing ? ['cluster-routing'] : ['cluster-q0', 'cluster-q1'];
      ctx.log(`cluster over ws: ${sizes.subscribers} subscribers, ${kind}`);
      let variant;
      try {
        variant = await startVariant(kind, ctx, redis);
      } catch (err) {
        for (let rep = 0; rep < sizes.reps; rep++) for (const id of ids) ctx.record({ scenario: id, transport: 'ws', target: kind, rep, error: String(err.message) });
        continue;
      }
      const subGen = await startGenerator(ctx.opts.genCore, `cluster-subs-${kind}`);
      const pubGen = await startGenerator(ctx.opts.genCore, `cluster-pub-${kind}`);
      try {
        const pools = [];
        const subTargets = routing ? [variant.endpoints[0]] : variant.endpoints;
        const per = Math.ceil((routing ? sizes.subscribers / 4 : sizes.subscribers) / subTargets.length);
        for (const [i, target] of subTargets.entries()) {
          const pool = `subs-${kind}-${i}`;
          pools.push(pool);
          const opened = await subGen.call('open', {
            pool, target, count: per, concurrency: 200, clientIdPrefix: `${ctx.runId}-cl-${kind}-${i}-`, clean: true,
            subscribe: [{ topic: 'bench/fan/q0', qos: 0 }, { topic: 'bench/fan/q1', qos: 1 }], timeoutMs: 120000,
          }, 130000);
          if (opened.opened < per * 0.99) throw new Error(`only ${opened.opened} of ${per} subscribers connected (${opened.errors?.[0] ?? ''})`);
        }
        await pubGen.call('open', { pool: `pub-${kind}`, target: variant.endpoints[routing ? 1 : 0], count: 1, concurrency: 1, clientIdPrefix: `${ctx.runId}-cl-${kind}-pub-`, timeoutMs: 10000 });
        const subscribers = per * subTargets.length;
        const args = { variant, subGen, pubGen, pools, subscribers, redis };
        for (const qos of [0, 1]) await burst(ctx, { ...args, qos, count: 3 }); // warm-up
        for (let rep = 0; rep < sizes.reps; rep++) {
          for (const qos of routing ? [0] : [0, 1]) {
            const id = routing ? 'cluster-routing' : `cluster-q${qos}`;
            let record;
            try {
              if (!variant.alive()) throw new Error(`broker exited:\n${variant.tail()}`);
              const count = routing ? sizes.counts.routing : qos ? sizes.counts.q1 : sizes.counts.q0;
              record = { scenario: id, transport: 'ws', target: kind, rep, metrics: await burst(ctx, { ...args, qos, count }) };
            } catch (err) {
              record = { scenario: id, transport: 'ws', target: kind, rep, error: String(err.message) };
            }
            ctx.record(record);
            const m = record.metrics;
            const extra = m?.idleNodeCpuPerMsgUs != null ? `, node without subscribers ${m.idleNodeCpuPerMsgUs.toFixed(1)} µs and Redis ${m.redisCpuPerPublishUs.toFixed(1)} µs per publish` : '';
            ctx.log(`  rep ${rep + 1} ${id} ${kind}: ${m ? `${Math.round(m.rate ?? 0).toLocaleString('en')} msg/s, ${m.cpuPerMsgUs?.toFixed(2)} µs CPU/delivery${extra}${m.losses ? `, lost ${m.losses}` : ''}` : `ERROR ${record.error}`}`);
            await sleep(200);
          }
        }
      } catch (err) {
        ctx.log(`  ${kind}: ${err.message}`);
        for (let rep = 0; rep < sizes.reps; rep++) for (const id of ids) ctx.record({ scenario: id, transport: 'ws', target: kind, rep, error: String(err.message) });
      } finally {
        await subGen.stop();
        await pubGen.stop();
        await variant.stop();
      }
    }
  } finally {
    await redis.stop();
  }
}

/** The report's rows for the cluster scenario (Aedes column: two instances with mqemitter-redis). */
export function describeCluster(quick) {
  const n = clusterSizes(quick).subscribers;
  const rate = { key: 'rate', label: 'delivered msg/s', unit: 'msg/s', better: 'higher' };
  const cpu = { key: 'cpuPerMsgUs', label: 'broker CPU µs per delivery (all processes)', unit: 'µs', better: 'lower', genSensitive: false };
  const rows = [
    { label: '2 members (--workers 2) vs 1 node; Aedes: 2 instances + mqemitter-redis', switchboard: 'switchboard-cluster', compareTo: 'switchboard' },
    { label: 'one node', switchboard: 'switchboard' },
  ];
  return [
    { id: 'cluster-q0', label: `Cluster fan-out 1→${n / 1000}k QoS 0, subscribers over 2 nodes`, rows, metrics: [rate, cpu] },
    { id: 'cluster-q1', label: `Cluster fan-out 1→${n / 1000}k QoS 1, subscribers over 2 nodes`, rows, metrics: [rate, cpu] },
    {
      id: 'cluster-routing',
      label: `3 members, ${n / 4000}k subscribers on one, publisher on another: interest vs broadcast routing`,
      rows: [
        { label: 'interest routing', switchboard: 'switchboard-routing-interest' },
        { label: 'broadcast routing', switchboard: 'switchboard-routing-broadcast', compareTo: 'switchboard-routing-interest' },
      ],
      metrics: [
        { key: 'idleNodeCpuPerMsgUs', label: 'CPU µs per publish on the member without subscribers', unit: 'µs', better: 'lower', genSensitive: false },
        { key: 'redisCpuPerPublishUs', label: 'Redis CPU µs per publish', unit: 'µs', better: 'lower', genSensitive: false },
        rate,
      ],
    },
  ];
}
