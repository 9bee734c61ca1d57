#!/usr/bin/env node
// One Switchboard scenario in isolation, for measuring a change: no peers, the broker pinned and
// configured as in the benchmark (bench/brokers/launch.js), the load from the benchmark's generator.
//
//   node bench/profile.js MODE [--switchboard-dir DIR] [--out DIR] [--no-prof] [--top N]
//   node bench/profile.js idle-heap [--switchboard-dir DIR] [--connections N] [--out DIR]
//
// MODE: q0-1k, q1-1k, q0-10k, q1-10k (fan-out over WebSocket: five bursts after three unrecorded
// ones), idle-10k (10,000 idle WebSocket connections), connect-3k (3,000, each with its own
// token), latency (100 msg/s to 1,000 subscribers, three 3 s runs), pairs-q0 and pairs-q1 (100
// publisher/subscriber pairs as in the benchmark's throughput scenario, 1 s warm-up then 3 s;
// --window N messages in flight per pair, 64 as in the benchmark, 1 for one message per round
// trip; --pairs N). Add TRANSPORT=tcp for TCP.
// Prints broker CPU per delivery (or per connect, or the latency percentiles) and, unless
// --no-prof, the functions with the most self time in the measured window of a `--cpu-prof`
// profile (the profiler's overhead inflates CPU; compare shares, or use --no-prof for figures).
// STORE=sqlite runs the broker on the SQLite store (a fresh directory) instead of memory, and
// PERSISTENT=1 makes the fan-out subscribers persistent sessions (CleanSession=0), as in the
// benchmark's durable QoS 1 scenario.
// idle-heap writes a heap snapshot before and after N idle connections (SIGUSR2 through
// --heapsnapshot-signal) and prints JS heap bytes and objects per connection by kind.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGenerator } from './lib/generator.js';
import { canConnect, freePort } from './brokers/launch.js';
import { cpuSeconds, memory } from './lib/proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MODES = ['q0-1k', 'q1-1k', 'q0-10k', 'q1-10k', 'idle-10k', 'connect-3k', 'latency', 'idle-heap', 'pairs-q0', 'pairs-q1'];

function parseArgs(argv) {
  const opts = { mode: argv[0], dir: path.resolve(here, '..'), out: null, prof: true, top: 25, connections: 5000, window: 64, pairs: 100 };
  if (!MODES.includes(opts.mode)) throw new Error(`mode is one of ${MODES.join(', ')}`);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? (() => { throw new Error(`${a} needs a value`); })();
    if (a === '--switchboard-dir') opts.dir = path.resolve(value());
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--no-prof') opts.prof = false;
    else if (a === '--top') opts.top = Number(value());
    else if (a === '--connections') opts.connections = Number(value());
    else if (a === '--window') opts.window = Number(value());
    else if (a === '--pairs') opts.pairs = Number(value());
    else throw new Error(`unknown option ${a}`);
  }
  if (opts.mode === 'idle-heap') opts.prof = false;
  return opts;
}

function storeArgs(workDir) {
  if (process.env.STORE !== 'sqlite') return ['--set', 'store.type=memory'];
  const extra = process.env.COMMIT_DELAY_MS === undefined ? [] : ['--set', `store.commitDelayMs=${process.env.COMMIT_DELAY_MS}`];
  return ['--set', 'store.type=sqlite', '--set', `store.path=${path.join(workDir, 'store')}`, ...extra];
}

async function startSwitchboard(opts, workDir, nodeArgs) {
  const policy = JSON.parse(readFileSync(path.join(here, 'brokers', 'policy.json'), 'utf8'));
  // connect-3k goes through the function authorizer, as the benchmark's switchboard-auth does.
  const auth = opts.mode === 'connect-3k'
    ? { resultCacheSize: 0, defaultAuthorizer: 'Bench', authorizers: [{ name: 'Bench', type: 'function', handler: path.join(here, 'brokers', 'authorizer.js'), signingDisabled: true, tokenKeyName: 'token', status: 'ACTIVE' }] }
    : { unauthenticatedPolicy: policy };
  writeFileSync(path.join(workDir, 'config.json'), JSON.stringify({ auth }));
  const tcpPort = await freePort();
  const wsPort = await freePort();
  const child = spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs, path.join(opts.dir, 'bin', 'switchboard.js'), 'start',
    '--http-port', String(wsPort), '--mqtt-port', String(tcpPort), '--http-host', '127.0.0.1', '--mqtt-host', '127.0.0.1',
    '--log-level', 'warn', '--set', 'limits.maxConnections=200000', '--set', 'limits.maxSubscriptionsPerConnection=50',
    '--config', path.join(workDir, 'config.json'), ...storeArgs(workDir)], { cwd: workDir, stdio: ['ignore', process.env.BROKER_LOG === '1' ? 'inherit' : 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  // Ready when both ports accept (a fixed pause was too short on a loaded machine).
  for (let i = 0; i < 300 && !((await canConnect(tcpPort)) && (await canConnect(wsPort))); i++) await sleep(100);
  await sleep(300);
  const target = process.env.TRANSPORT === 'tcp'
    ? { host: '127.0.0.1', port: tcpPort, transport: 'tcp' }
    : { host: '127.0.0.1', port: wsPort, transport: 'ws', path: '/mqtt' };
  return { child, exited, target };
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** Runs the load; returns { window: [startUs, endUs], result }. */
async function drive(mode, broker, subs, pub, opts) {
  const { child, target } = broker;
  const cpu = () => cpuSeconds(child.pid);
  if (mode === 'pairs-q0' || mode === 'pairs-q1') {
    const qos = mode === 'pairs-q1' ? 1 : 0;
    const n = opts.pairs;
    // As bench/scenarios.js's throughput group: subscribed at QoS 1, so QoS 0 publishes arrive at
    // QoS 0 and QoS 1 ones at QoS 1. One generator holds both ends of every pair.
    const s = await subs.call('open', { pool: 'subs', target, count: n, concurrency: 50, clientIdPrefix: 'ps-', subscribe: [{ topic: 'bench/tp/{i}', qos: 1 }], timeoutMs: 30000 });
    const p = await subs.call('open', { pool: 'pubs', target, count: n, concurrency: 50, clientIdPrefix: 'pp-', timeoutMs: 30000 });
    if (s.opened !== n || p.opened !== n) throw new Error('pairs could not all connect');
    const run = () => subs.call('pairs', { pubPool: 'pubs', subPool: 'subs', topicPrefix: 'bench/tp/', window: opts.window, warmupMs: 1000, durationMs: 3000, payloadSize: 64, qos }, 30000);
    await run(); // warm-up, not recorded
    await sleep(300);
    const c0 = cpu();
    const t0 = nowUs();
    const res = await run();
    const window = [t0, nowUs()];
    const c1 = cpu();
    const elapsed = Number(res.elapsedNs) / 1e9;
    return { window, result: { window: opts.window, pairs: n, rate: Math.round(res.delivered / elapsed), received: res.received, lost: res.lost, cpuPerDeliveryUs: +(((c1 - c0) / res.received) * 1e6).toFixed(3), brokerCores: +((c1 - c0) / ((window[1] - window[0]) / 1e6)).toFixed(2) } };
  }
  if (mode === 'idle-10k' || mode === 'connect-3k') {
    const n = mode === 'idle-10k' ? 10000 : 3000;
    await subs.call('open', { pool: 'w', target, count: 200, concurrency: 100, clientIdPrefix: 'w-', timeoutMs: 30000 });
    await subs.call('close', { pool: 'w' });
    await sleep(1000);
    const m0 = memory(child.pid);
    const c0 = cpu();
    const t0 = nowUs();
    const o = await subs.call('open', { pool: 'idle', target, count: n, concurrency: 100, clientIdPrefix: 'i-', uniqueToken: mode === 'connect-3k', timeoutMs: 120000 }, 130000);
    const window = [t0, nowUs()];
    const c1 = cpu();
    await sleep(2000);
    const m1 = memory(child.pid);
    return { window, result: { opened: o.opened, failed: o.failed, connectsPerSec: Math.round(o.opened / (o.elapsedMs / 1000)), cpuPerConnectUs: Math.round(((c1 - c0) / o.opened) * 1e6), handshakeP50Ms: o.handshakeP50Ms, handshakeP99Ms: o.handshakeP99Ms, ...(o.failed ? { errors: o.errors } : {}), rssPerConnectionKb: +((m1.rssKb - m0.rssKb) / o.opened).toFixed(2) } };
  }
  if (mode === 'latency') {
    const n = 1000;
    await subs.call('open', { pool: 'subs', target, count: n, concurrency: 200, clientIdPrefix: 's-', subscribe: [{ topic: 'bench/lat', qos: 0 }], timeoutMs: 120000 }, 130000);
    await pub.call('open', { pool: 'p', target, count: 1, concurrency: 1, clientIdPrefix: 'p-', timeoutMs: 10000 });
    await pub.call('burst', { pool: 'p', topic: 'bench/lat', qos: 0, count: 50, window: 100, payloadSize: 64, timeoutMs: 30000 }, 40000);
    await sleep(1000);
    const runs = [];
    const t0 = nowUs();
    for (let i = 0; i < 3; i++) {
      await subs.call('reset', { pool: 'subs' });
      await subs.call('latencyStart', { pool: 'subs', capacity: 400 * n });
      const c0 = cpu();
      await pub.call('paced', { pool: 'p', topic: 'bench/lat', rate: 100, durationMs: 3000, payloadSize: 64 }, 20000);
      await sleep(500);
      const c1 = cpu();
      const l = await subs.call('latencyStop', { pool: 'subs' });
      runs.push({ p50: +l.p50.toFixed(2), p99: +l.p99.toFixed(2), p999: +l['p99.9'].toFixed(2), samples: l.count, brokerCores: +((c1 - c0) / 3.5).toFixed(2) });
      await sleep(500);
    }
    return { window: [t0, nowUs()], result: runs };
  }
  const [q, size] = mode.split('-');
  const qos = q === 'q1' ? 1 : 0;
  const n = size === '10k' ? 10000 : 1000;
  const topic = qos ? 'bench/fan/q1' : 'bench/fan/q0';
  await subs.call('open', { pool: 'subs', target, count: n, concurrency: 200, clientIdPrefix: 's-', subscribe: [{ topic, qos }], clean: process.env.PERSISTENT !== '1', timeoutMs: 120000 }, 130000);
  await pub.call('open', { pool: 'p', target, count: 1, concurrency: 1, clientIdPrefix: 'p-', timeoutMs: 10000 });
  const count = qos ? (n === 1000 ? 500 : 60) : (n === 1000 ? 2000 : 200);
  const burst = async () => {
    await subs.call('reset', { pool: 'subs' });
    await pub.call('burst', { pool: 'p', topic, qos, count, window: 100, payloadSize: 64, timeoutMs: 30000 }, 40000);
    for (let i = 0; i < 300; i++) {
      const st = await subs.call('stats', { pool: 'subs' });
      if (st.received >= count * n) return st;
      await sleep(50);
    }
    return subs.call('stats', { pool: 'subs' });
  };
  for (let i = 0; i < 3; i++) await burst(); // warm-up, not recorded
  await sleep(500);
  const c0 = cpu();
  const t0 = nowUs();
  let received = 0;
  for (let i = 0; i < 5; i++) received += (await burst()).received;
  const window = [t0, nowUs()];
  const c1 = cpu();
  return { window, result: { deliveries: received, expected: 5 * count * n, cpuPerDeliveryUs: +(((c1 - c0) / received) * 1e6).toFixed(3) } };
}

/** Self and inclusive time of each function within `window` (µs, CLOCK_MONOTONIC like the profile). */
function summarizeProfile(file, window, top) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) => {
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/[^/]+|dist)\//, '$1/')}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };
  const self = new Map();
  const inclusive = new Map();
  let t = p.startTime;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < window[0] || t > window[1]) continue;
    const dt = p.timeDeltas[i + 1] ?? p.timeDeltas[i];
    const node = byId.get(p.samples[i]);
    if (node.callFrame.functionName === '(idle)') continue;
    busy += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const k = label(byId.get(id));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const rows = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return `busy ${(busy / 1e6).toFixed(2)} s of the window\n-- self time\n${rows(self).join('\n')}\n-- inclusive\n${rows(inclusive).join('\n')}`;
}

/** Heap objects by kind: count and self size, from a .heapsnapshot. */
function heapCensus(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const m = s.snapshot.meta;
  const width = m.node_fields.length;
  const types = m.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => m.node_fields.indexOf(f));
  const census = new Map();
  let bytes = 0;
  let objects = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]];
    const name = type.includes('string') ? '' : s.strings[s.nodes[i + iName]].slice(0, 50);
    const key = `${type} ${name}`;
    const c = census.get(key) ?? { n: 0, size: 0 };
    c.n++;
    c.size += s.nodes[i + iSize];
    census.set(key, c);
    bytes += s.nodes[i + iSize];
    objects++;
  }
  return { census, bytes, objects };
}

async function idleHeap(opts, workDir, broker, gen) {
  const snapshots = () => readdirSync(workDir).filter((f) => f.endsWith('.heapsnapshot')).sort();
  const take = async (count) => {
    broker.child.kill('SIGUSR2');
    for (let i = 0; i < 300 && snapshots().length < count; i++) await sleep(200);
    // The file is complete some time after it appears: wait until its size stops changing.
    const file = path.join(workDir, snapshots()[count - 1] ?? '');
    let last = -1;
    for (let i = 0; i < 300; i++) {
      await sleep(1000);
      const size = statSync(file, { throwIfNoEntry: false })?.size ?? -1;
      if (size > 0 && size === last) break;
      last = size;
    }
  };
  await gen.call('open', { pool: 'w', target: broker.target, count: 200, concurrency: 100, clientIdPrefix: 'w-', timeoutMs: 30000 });
  await gen.call('close', { pool: 'w' });
  await sleep(1500);
  await take(1);
  const o = await gen.call('open', { pool: 'idle', target: broker.target, count: opts.connections, concurrency: 100, clientIdPrefix: 'i-', timeoutMs: 120000 }, 130000);
  await sleep(2000);
  await take(2);
  const [a, b] = snapshots().map((f) => heapCensus(path.join(workDir, f)));
  // --out keeps the two snapshots for a closer look (retainers) in DevTools or a script.
  if (opts.out !== null) for (const f of snapshots()) copyFileSync(path.join(workDir, f), path.join(opts.out, f));
  const n = o.opened;
  console.log(`${n} idle connections: JS heap ${((b.bytes - a.bytes) / n).toFixed(0)} B and ${((b.objects - a.objects) / n).toFixed(1)} objects per connection`);
  const rows = [];
  for (const [k, v] of b.census) {
    const u = a.census.get(k) ?? { n: 0, size: 0 };
    const dn = (v.n - u.n) / n;
    const ds = (v.size - u.size) / n;
    if (Math.abs(dn) >= 0.5 || Math.abs(ds) >= 16) rows.push([k, dn, ds]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  for (const [k, dn, ds] of rows.slice(0, 40)) console.log(`${dn.toFixed(2).padStart(8)} ${ds.toFixed(0).padStart(6)} B  ${k}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const workDir = mkdtempSync(path.join(tmpdir(), 'bench-profile-'));
  const out = opts.out ?? workDir;
  mkdirSync(out, { recursive: true });
  const nodeArgs = opts.mode === 'idle-heap'
    ? ['--heapsnapshot-signal=SIGUSR2']
    : opts.prof ? ['--cpu-prof', `--cpu-prof-dir=${out}`, '--cpu-prof-interval=200'] : [];
  const broker = await startSwitchboard(opts, workDir, nodeArgs);
  const subs = await startGenerator(1, 'subs');
  const pub = await startGenerator(1, 'pub');
  try {
    if (opts.mode === 'idle-heap') {
      await idleHeap(opts, workDir, broker, subs);
      return;
    }
    const { window, result } = await drive(opts.mode, broker, subs, pub, opts);
    console.log(JSON.stringify({ mode: opts.mode, transport: broker.target.transport, result }));
    await subs.stop();
    await pub.stop();
    broker.child.kill('SIGTERM');
    await broker.exited; // the profile is written at exit
    if (opts.prof) {
      // One profile per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>): the main thread (0) and
      // any worker threads (the function authorizer pool), each summarised.
      for (const file of readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => path.join(out, f))) {
        const thread = path.basename(file).split('.')[4];
        console.log(`profile (${thread === '0' ? 'main thread' : `worker thread ${thread}`}): ${file}`);
        console.log(summarizeProfile(file, window, opts.top));
      }
    }
  } finally {
    await subs.stop();
    await pub.stop();
    if (broker.child.exitCode === null) {
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
    if (opts.out === null && !opts.prof) rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
