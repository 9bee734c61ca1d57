// The scenarios of issue #6 and how each is measured. Every broker gets the same load in the same
// run; repetitions rotate the order of the brokers so that a noisy neighbour does not always land on
// the same one. Each wait is bounded in time, each loop in count.
import { startBroker } from './brokers/launch.js';
import { startGenerator } from './lib/generator.js';
import { clusterGroup, describeCluster } from './cluster.js';
import { coreSeconds, cpuSeconds, memory } from './lib/proc.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PAYLOAD = 64;

/** Sizes for the full run and for --quick (a few minutes; pairs and connect over both transports, so that NATS, TCP only, is in them). */
export function planSizes(quick) {
  return quick
    ? {
        reps: 1,
        fanoutSmall: { subscribers: 1000, transports: ['ws'], std: { q0: 10, q1: 5 }, seconds: 0.5, latency: { rate: 100, durationMs: 1000 } },
        fanoutLarge: { subscribers: 2000, transports: ['tcp'], std: { q0: 5, q1: 3 }, seconds: 0.5 },
        throughput: { pairs: 100, window: 64, warmupMs: 500, durationMs: 1000, transports: ['ws', 'tcp'] },
        idle: { connections: 2000, concurrency: 100, settleMs: 1000 },
        connect: { connections: 500, concurrency: 100, transports: ['ws', 'tcp'] },
        persistent: { subscribers: 500, transports: ['tcp'], std: { q1: 5 }, seconds: 0.5 },
        web: { small: 1000, large: 2000, std: 10, seconds: 0.5, idle: 2000, concurrency: 100, settleMs: 1000 },
      }
    : {
        reps: 3,
        fanoutSmall: { subscribers: 1000, transports: ['ws', 'tcp'], std: { q0: 20, q1: 10 }, seconds: 1.0, latency: { rate: 100, durationMs: 3000 } },
        fanoutLarge: { subscribers: 10000, transports: ['ws', 'tcp'], std: { q0: 5, q1: 3 }, seconds: 1.5 },
        throughput: { pairs: 100, window: 64, warmupMs: 1000, durationMs: 3000, transports: ['ws', 'tcp'] },
        idle: { connections: 10000, concurrency: 100, settleMs: 2000 },
        connect: { connections: 3000, concurrency: 100, transports: ['ws', 'tcp'] },
        persistent: { subscribers: 1000, transports: ['ws', 'tcp'], std: { q1: 10 }, seconds: 1.0 },
        web: { small: 1000, large: 10000, std: 10, seconds: 1.0, idle: 10000, concurrency: 100, settleMs: 2000 },
      };
}

const PEER_BROKERS = ['switchboard', 'mosquitto', 'aedes'];

/**
 * The brokers of a scenario: the peers, plus the baseline build when one is compared, plus NATS
 * over TCP (nats-server has no MQTT over WebSocket).
 */
function brokersOf(ctx, transport = 'ws') {
  const kinds = ctx.opts.baselineDir ? ['switchboard', 'switchboard-base', 'mosquitto', 'aedes'] : [...PEER_BROKERS];
  if (transport === 'tcp' && ctx.opts.nats !== false) kinds.push('nats');
  return kinds;
}

function kilo(n) {
  return n >= 1000 ? `${n / 1000}k` : String(n);
}

const rate = (key = 'rate') => ({ key, label: 'delivered msg/s', unit: 'msg/s', better: 'higher' });
const timeToAll = (std) => ({ key: 'timeToAllMs', label: `time for all to receive ${std} msgs (ms)`, unit: 'ms', better: 'lower' });
const cpuPerMsg = { key: 'cpuPerMsgUs', label: 'broker CPU µs per delivery', unit: 'µs', better: 'lower', genSensitive: false };

// Switchboard's browser-protocol set-ups (launch.js starts each as plain `switchboard`) and how the
// generator reaches each: `switchboard` is MQTT over WebSocket, the reference.
const WEB_KINDS = ['switchboard', 'switchboard-json', 'switchboard-sse', 'mosquitto'];
const WEB_TRANSPORT = { 'switchboard-json': 'json', 'switchboard-sse': 'sse' };
const WEB_ROWS = (jsonTarget, sseTarget) => [
  { label: 'MQTT over WebSocket /mqtt', switchboard: 'switchboard' },
  { label: 'JSON over WebSocket /ws', switchboard: 'switchboard-json', compareTo: 'switchboard', target: jsonTarget },
  { label: 'Server-Sent Events /events', switchboard: 'switchboard-sse', compareTo: 'switchboard', target: sseTarget },
];

function webTarget(broker, kind) {
  return { ...endpoint(broker, 'ws'), transport: WEB_TRANSPORT[kind] ?? 'ws' };
}

/** The report's description of every scenario the plan can run. */
export function describe(sizes, access = 'policy', baseline = false) {
  const sbAccess = access === 'policy' ? 'SB with a compiled policy' : 'SB anonymous, every right';
  const small = kilo(sizes.fanoutSmall.subscribers);
  const large = kilo(sizes.fanoutLarge.subscribers);
  const base = { label: 'baseline build', switchboard: 'switchboard-base', compareTo: 'switchboard' };
  const plain = baseline ? [{ label: '', switchboard: 'switchboard' }, base] : [{ label: '', switchboard: 'switchboard' }];
  return [
    { id: 'fanout-small-q0', label: `Fan-out 1→${small} QoS 0`, rows: plain, metrics: [rate(), timeToAll(sizes.fanoutSmall.std.q0), cpuPerMsg] },
    { id: 'fanout-small-q1', label: `Fan-out 1→${small} QoS 1`, rows: plain, metrics: [rate(), timeToAll(sizes.fanoutSmall.std.q1), cpuPerMsg] },
    { id: 'fanout-large-q0', label: `Fan-out 1→${large} QoS 0`, rows: plain, metrics: [rate(), timeToAll(sizes.fanoutLarge.std.q0), cpuPerMsg] },
    { id: 'fanout-large-q1', label: `Fan-out 1→${large} QoS 1`, rows: plain, metrics: [rate(), timeToAll(sizes.fanoutLarge.std.q1), cpuPerMsg] },
    {
      id: 'latency',
      label: `Latency, ${sizes.fanoutSmall.latency.rate} msg/s to ${small}`,
      rows: plain,
      metrics: [
        { key: 'p50', label: 'p50 (ms)', unit: 'ms', better: 'lower' },
        { key: 'p99', label: 'p99 (ms)', unit: 'ms', better: 'lower', genSensitive: false },
        { key: 'p999', label: 'p99.9 (ms)', unit: 'ms', better: 'lower', genSensitive: false },
      ],
    },
    { id: 'throughput', label: `Throughput, ${sizes.throughput.pairs} pub/sub pairs QoS 0`, rows: plain, metrics: [rate(), cpuPerMsg] },
    { id: 'throughput-q1', label: `Throughput, ${sizes.throughput.pairs} pub/sub pairs QoS 1`, rows: plain, metrics: [rate(), cpuPerMsg] },
    // One message in flight per pair: every PUBLISH arrives in a read of its own and leaves in a
    // write of its own, as from a client library that publishes one message per call and waits
    // for it (issue #18's independent harness); the 64-window rows let the broker batch.
    { id: 'throughput-w1', label: `Throughput, ${sizes.throughput.pairs} pub/sub pairs QoS 0, 1 in flight per pair`, rows: plain, metrics: [rate(), cpuPerMsg] },
    { id: 'throughput-q1-w1', label: `Throughput, ${sizes.throughput.pairs} pub/sub pairs QoS 1, 1 in flight per pair`, rows: plain, metrics: [rate(), cpuPerMsg] },
    {
      id: 'idle',
      label: `${kilo(sizes.idle.connections)} idle connections`,
      rows: plain,
      metrics: [
        { key: 'connRate', label: 'connects/s', unit: 'conn/s', better: 'higher' },
        { key: 'rssPerConnKb', label: 'broker RSS KB per connection', unit: 'KB', better: 'lower', genSensitive: false },
        { key: 'cpuPerConnUs', label: 'broker CPU µs per connect', unit: 'µs', better: 'lower', genSensitive: false },
      ],
    },
    {
      id: 'connect',
      label: `Connect ${kilo(sizes.connect.connections)}`,
      rows: [
        { label: 'SB through a function authorizer; peers anonymous', switchboard: 'switchboard-auth', compareTo: 'switchboard' },
        { label: `${sbAccess}; peers anonymous`, switchboard: 'switchboard' },
        ...(baseline ? [{ ...base, label: `baseline build, ${sbAccess}` }] : []),
      ],
      metrics: [
        { key: 'connRate', label: 'connects/s', unit: 'conn/s', better: 'higher' },
        { key: 'handshakeP99Ms', label: 'handshake p99 (ms), TCP connect to CONNACK', unit: 'ms', better: 'lower' },
        { key: 'cpuPerConnUs', label: 'broker CPU µs per connect', unit: 'µs', better: 'lower', genSensitive: false },
      ],
    },
    {
      id: 'persistent-q1',
      label: `Fan-out 1→${kilo(sizes.persistent.subscribers)} QoS 1, persistent sessions`,
      rows: [
        { label: 'memory store', switchboard: 'switchboard' },
        { label: 'SQLite store', switchboard: 'switchboard-sqlite', compareTo: 'switchboard' },
      ],
      metrics: [rate(), timeToAll(sizes.persistent.std.q1), cpuPerMsg],
    },
    // Browser protocols (issue 15): one Switchboard per protocol, the MQTT-over-WebSocket one as
    // the reference the others' ratios (and targets) are against; Mosquitto over WebSocket beside.
    ...['small', 'large'].map((size) => ({
      id: `web-fanout-${size}-q0`,
      label: `Fan-out 1→${kilo(sizes.web[size])} QoS 0, browser protocols`,
      rows: WEB_ROWS(0.8, 0.5),
      metrics: [rate(), timeToAll(sizes.web.std), cpuPerMsg],
    })),
    {
      id: 'web-idle',
      label: `${kilo(sizes.web.idle)} idle connections, browser protocols`,
      rows: WEB_ROWS(1, 1),
      metrics: [
        { key: 'rssPerConnKb', label: 'broker RSS KB per connection', unit: 'KB', better: 'lower', genSensitive: false },
        { key: 'connRate', label: 'connects/s', unit: 'conn/s', better: 'higher' },
        { key: 'cpuPerConnUs', label: 'broker CPU µs per connect', unit: 'µs', better: 'lower', genSensitive: false },
      ],
    },
    // The cluster scenario (bench/cluster.js); quick mode is the one with a single repetition.
    ...describeCluster(sizes.reps === 1),
  ];
}

// ---------------------------------------------------------------------------------------------

function rotate(list, n) {
  const k = n % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function endpoint(broker, transport) {
  return { host: '127.0.0.1', port: transport === 'ws' ? broker.wsPort : broker.tcpPort, transport, path: broker.wsPath };
}

async function withBrokers(ctx, kinds, fn) {
  const brokers = {};
  try {
    const started = await Promise.all(kinds.map((k) => startBroker(k, ctx.brokerOptions)));
    for (const b of started) brokers[b.kind] = b;
    await sleep(300);
    return await fn(brokers);
  } finally {
    await Promise.all(Object.values(brokers).map((b) => b.stop()));
  }
}

async function withGenerators(ctx, names, fn) {
  const gens = {};
  try {
    for (const n of names) gens[n] = await startGenerator(ctx.opts.genCore, n);
    return await fn(gens);
  } finally {
    await Promise.all(Object.values(gens).map((g) => g.stop()));
  }
}

/**
 * CPU seconds of the broker, of the generator processes and of the broker's core, read together.
 * `core - broker` is what something else ran on the broker's core: `brokerWaited` below (the name
 * says what it cost the broker; the broker's helper threads are its own and do not count).
 */
function snapshot(broker, gens) {
  return {
    at: process.hrtime.bigint(),
    broker: cpuSeconds(broker.pid) ?? NaN,
    gen: gens.reduce((n, g) => n + (cpuSeconds(g.pid) ?? NaN), 0),
    core: coreSeconds(broker.cores),
  };
}

function foreign(before, after) {
  return Math.max(0, after.core.busy - before.core.busy - (after.broker - before.broker));
}

/**
 * Waits until the subscribers have `expected` messages, or made no progress for `stallMs`, or
 * `maxMs` passed. Polls the generator every 100 ms.
 */
async function waitForDeliveries(subGen, expected, { stallMs, maxMs }) {
  const start = performance.now();
  let last = -1;
  let lastChange = start;
  let stats;
  for (let i = 0; i < Math.ceil(maxMs / 100) + 1; i++) {
    stats = await subGen.call('stats', { pool: 'subs' });
    const now = performance.now();
    if (stats.received >= expected) break;
    if (stats.received !== last) {
      last = stats.received;
      lastChange = now;
    } else if (now - lastChange > stallMs) break;
    if (now - start > maxMs) break;
    await sleep(100);
  }
  return stats;
}

async function burstAndWait(ctx, { broker, target, subGen, pubGen, topic, qos, count, subscribers }) {
  await subGen.call('reset', { pool: 'subs' });
  const gens = [subGen, pubGen];
  const before = snapshot(broker, gens);
  const maxMs = ctx.opts.quick ? 15000 : 30000;
  const expected = count * subscribers;
  const sending = pubGen.call('burst', { pool: target, topic, qos, count, window: 100, payloadSize: PAYLOAD, timeoutMs: maxMs }, maxMs + 10000);
  const stats = await waitForDeliveries(subGen, expected, { stallMs: 2000, maxMs });
  const sent = await sending;
  const after = snapshot(broker, gens);
  const elapsedSec = Number(BigInt(stats.lastRecvNs) - BigInt(sent.t0Ns)) / 1e9;
  return {
    sent: sent.sent,
    expected,
    received: stats.received,
    lost: Math.max(0, expected - stats.received),
    complete: stats.received >= expected,
    elapsedSec: stats.received > 0 ? elapsedSec : null,
    brokerCpu: after.broker - before.broker,
    genCpu: after.gen - before.gen,
    wallSec: Number(after.at - before.at) / 1e9,
    brokerWaited: foreign(before, after),
    coreSoftirq: after.core.softirq - before.core.softirq,
    unexpectedCloses: stats.unexpectedCloses,
  };
}

/**
 * Fan-out. First a standard burst of `std` messages, the same for every broker: "time for all to
 * receive". Then bursts grown until one lasts about `seconds` on this broker (at most three more,
 * within the per-client queue limits every broker has); the last one gives deliveries per second
 * and broker CPU per delivery. Losses are counted over all bursts.
 */
async function fanout(ctx, args) {
  const { std, seconds, qos } = args;
  const maxCount = qos === 0 ? 2000 : 500;
  const first = await burstAndWait(ctx, { ...args, count: std });
  await sleep(200);
  let last = first;
  let count = std;
  let losses = first.lost;
  for (let i = 0; i < 3; i++) {
    if (!last.complete || !last.elapsedSec || count >= maxCount || last.elapsedSec >= 0.6 * seconds) break;
    count = Math.min(maxCount, Math.max(count * 2, Math.ceil((count * seconds) / last.elapsedSec)));
    last = await burstAndWait(ctx, { ...args, count });
    losses += last.lost;
    await sleep(200);
  }
  const mem = memory(args.broker.pid);
  return {
    rate: last.elapsedSec ? last.received / last.elapsedSec : null,
    timeToAllMs: first.complete ? first.elapsedSec * 1000 : null,
    cpuPerMsgUs: last.received ? (last.brokerCpu / last.received) * 1e6 : null,
    brokerCpu: last.brokerCpu / last.wallSec,
    genCpu: last.genCpu / last.wallSec,
    brokerWaited: last.brokerWaited / last.wallSec,
    // Kernel work on the broker's core not charged to it (mostly loopback delivery of its sends).
    coreSoftirqPerMsgUs: last.received ? (last.coreSoftirq / last.received) * 1e6 : null,
    losses,
    messages: count,
    deliveries: last.received,
    brokerRssKb: mem?.rssKb ?? null,
    unexpectedCloses: last.unexpectedCloses,
  };
}

/**
 * Latency: timestamped probes at a fixed rate to every subscriber. A broker that cannot deliver
 * that rate builds a backlog that grows with the run's length, so once more than a second of
 * deliveries is outstanding the probes stop, and the record says `overloaded` (so it does too when
 * deliveries go on for more than half a second after the last probe): its percentiles then
 * describe a queue, not the broker's latency.
 */
async function latency(ctx, { broker, target, subGen, pubGen, subscribers, rate: perSecond, durationMs }) {
  const total = Math.floor((perSecond * durationMs) / 1000);
  await subGen.call('reset', { pool: 'subs' });
  await subGen.call('latencyStart', { pool: 'subs', capacity: total * subscribers + 1000 });
  const before = snapshot(broker, [subGen, pubGen]);
  let done = false;
  const sending = pubGen.call('paced', { pool: target, topic: 'bench/lat', rate: perSecond, durationMs, payloadSize: PAYLOAD }, durationMs + 10000)
    .finally(() => { done = true; });
  const t0 = performance.now();
  let overloaded = false;
  for (let i = 0; i < durationMs / 200 + 50 && !done; i++) {
    await sleep(200);
    const stats = await subGen.call('stats', { pool: 'subs' });
    const offered = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * perSecond)) * subscribers;
    if (!done && offered - stats.received > perSecond * subscribers) {
      overloaded = true;
      await pubGen.call('abortPaced', { pool: target });
      break;
    }
  }
  const sent = await sending;
  // The backlog after the last probe drains within bounds.
  const stats = await waitForDeliveries(subGen, sent.sent * subscribers, { stallMs: 2000, maxMs: 10000 });
  const after = snapshot(broker, [subGen, pubGen]);
  const l = await subGen.call('latencyStop', { pool: 'subs' });
  const wall = Number(after.at - before.at) / 1e9;
  // Still delivering half a second after the last probe: the rate was more than it could do.
  const drainMs = Number(BigInt(stats.lastRecvNs) - BigInt(sent.lastSentNs)) / 1e6;
  if (drainMs > 500) overloaded = true;
  return {
    drainMs,
    p50: l.p50,
    p99: l.p99,
    p999: l['p99.9'],
    max: l.max,
    samples: l.count,
    probes: sent.sent,
    overloaded,
    losses: Math.max(0, sent.sent * subscribers - stats.received),
    brokerCpu: (after.broker - before.broker) / wall,
    genCpu: (after.gen - before.gen) / wall,
    brokerWaited: foreign(before, after) / wall,
  };
}

/** Waits (bounded) until the broker has stopped working off what the last measurement left. */
async function quiet(broker) {
  let calm = 0;
  for (let i = 0; i < 120 && calm < 2; i++) {
    const c0 = cpuSeconds(broker.pid);
    await sleep(250);
    const c1 = cpuSeconds(broker.pid);
    if (c0 === null || c1 === null) return;
    calm = c1 - c0 <= 0.02 ? calm + 1 : 0;
  }
}

/**
 * Measures one thing for one broker, recording an error instead of stopping the run. The machine
 * is shared: when other processes used more than a sixth of the broker's core during the
 * measurement, it is taken again, up to `retries` times, and the least disturbed attempt is kept.
 */
async function measure(ctx, base, fn, broker = null) {
  const t0 = performance.now();
  let record;
  let attempts = 0;
  for (let i = 0; i <= ctx.opts.retries; i++) {
    attempts++;
    let r;
    try {
      r = { ...base, metrics: await fn() };
    } catch (err) {
      r = { ...base, error: String(err.message ?? err) };
    }
    const waited = (x) => x?.metrics?.brokerWaited ?? 0;
    if (broker !== null) await quiet(broker);
    if (!record || (record.error && !r.error) || (!r.error && waited(r) < waited(record))) record = r;
    if (record.error || waited(record) <= 1 / 6 || i === ctx.opts.retries) break;
    ctx.log(`  ${base.scenario} ${base.target}: other processes took ${(waited(r) * 100).toFixed(0)}% of the broker's core, measuring again`);
  }
  record.attempts = attempts;
  record.wallMs = Math.round(performance.now() - t0);
  ctx.record(record);
  return record;
}

// ---------------------------------------------------------------------------------------------

/**
 * Subscribers held open across repetitions (one generator process per broker, so each has its own
 * file-descriptor budget), one publisher process with a connection to each broker.
 */
async function fanoutGroup(ctx, { key, spec, kinds: kindsOf, clean, measures, subTarget = null, subscribe = null, warmQos = [0, 1] }) {
  for (const transport of spec.transports) {
    if (!ctx.opts.transports.includes(transport)) continue;
    const kinds = typeof kindsOf === 'function' ? kindsOf(transport) : kindsOf;
    ctx.log(`${key} over ${transport}: ${spec.subscribers} subscribers per broker`);
    await withBrokers(ctx, kinds, (brokers) =>
      withGenerators(ctx, ['pub', ...kinds.map((k) => `subs-${k}`)], async (gens) => {
        const ready = {};
        for (const kind of kinds) {
          const target = endpoint(brokers[kind], transport);
          const prefix = `${ctx.runId}-${key}-${transport}-${kind}-`;
          const opened = await gens[`subs-${kind}`].call('open', {
            pool: 'subs', target: subTarget ? subTarget(brokers[kind], kind) : target, count: spec.subscribers, concurrency: 200, clientIdPrefix: prefix, clean,
            subscribe: subscribe ?? [{ topic: 'bench/fan/q0', qos: 0 }, { topic: 'bench/fan/q1', qos: 1 }, { topic: 'bench/lat', qos: 0 }],
            timeoutMs: 120000,
          }, 130000);
          const pub = await gens.pub.call('open', { pool: kind, target, count: 1, concurrency: 1, clientIdPrefix: `${prefix}pub-`, timeoutMs: 10000 });
          const mem = memory(brokers[kind].pid);
          ctx.log(`  ${kind}: ${opened.opened} subscribed in ${(opened.elapsedMs / 1000).toFixed(1)} s${opened.failed ? `, ${opened.failed} failed (${opened.errors[0]})` : ''}; RSS ${Math.round((mem?.rssKb ?? 0) / 1024)} MB`);
          ctx.record({ scenario: `${key}-setup`, transport, target: kind, rep: 0, metrics: { subscribed: opened.opened, failed: opened.failed, elapsedMs: opened.elapsedMs, brokerRssKb: mem?.rssKb ?? null } });
          ready[kind] = opened.opened >= spec.subscribers * 0.99 && pub.opened === 1 ? opened.opened : 0;
          // Warm-up, not recorded: the first messages through a Node broker also pay for JIT.
          if (ready[kind]) {
            for (const qos of warmQos) {
              await burstAndWait(ctx, { broker: brokers[kind], target: kind, subGen: gens[`subs-${kind}`], pubGen: gens.pub, topic: qos ? 'bench/fan/q1' : 'bench/fan/q0', qos, count: 3, subscribers: ready[kind] });
            }
          }
        }
        for (let rep = 0; rep < ctx.sizes.reps; rep++) {
          for (const kind of rotate(kinds, rep)) {
            for (const m of measures) {
              const base = { scenario: m.id, transport, target: kind, rep };
              const args = { broker: brokers[kind], target: kind, subGen: gens[`subs-${kind}`], pubGen: gens.pub, subscribers: ready[kind] };
              const r = await measure(ctx, base, () => {
                if (!ready[kind]) throw new Error('subscribers could not all connect');
                if (!brokers[kind].alive()) throw new Error(`broker exited (${brokers[kind].exitText()}):\n${brokers[kind].logTail()}`);
                return m.kind === 'latency'
                  ? latency(ctx, { ...args, ...m.params })
                  : fanout(ctx, { ...args, topic: m.qos ? 'bench/fan/q1' : 'bench/fan/q0', qos: m.qos, std: m.std, seconds: spec.seconds });
              }, brokers[kind]);
              ctx.log(`  rep ${rep + 1} ${m.id} ${kind}: ${summaryOf(r)}`);
            }
          }
        }
      }),
    );
  }
}

function summaryOf(r) {
  if (r.error) return `ERROR ${r.error.split('\n')[0]}`;
  const m = r.metrics;
  const parts = [];
  if (m.rate != null) parts.push(`${Math.round(m.rate).toLocaleString('en')} msg/s`);
  if (m.timeToAllMs != null) parts.push(`all in ${m.timeToAllMs.toFixed(0)} ms`);
  if (m.p50 != null) parts.push(`p50 ${m.p50.toFixed(2)} p99 ${m.p99.toFixed(2)} p99.9 ${m.p999.toFixed(2)} ms`);
  if (m.connRate != null) parts.push(`${Math.round(m.connRate)} conn/s`);
  if (m.handshakeP99Ms != null) parts.push(`handshake p50 ${m.handshakeP50Ms.toFixed(1)} p99 ${m.handshakeP99Ms.toFixed(1)} ms`);
  if (m.rssPerConnKb != null) parts.push(`${m.rssPerConnKb.toFixed(1)} KB/conn`);
  if (m.cpuPerMsgUs != null) parts.push(`${m.cpuPerMsgUs.toFixed(2)} µs/msg`);
  if (m.cpuPerConnUs != null) parts.push(`${m.cpuPerConnUs.toFixed(0)} µs/conn`);
  if (m.overloaded) parts.push(`OVERLOADED (${m.probes} probes, drained ${(m.drainMs / 1000).toFixed(1)} s after the last)`);
  if (m.losses) parts.push(`lost ${m.losses}`);
  if (m.brokerCpu != null) parts.push(`broker ${(m.brokerCpu * 100).toFixed(0)}%`);
  if (m.genCpu != null) parts.push(`gen ${(m.genCpu * 100).toFixed(0)}%`);
  if (m.brokerWaited >= 0.02) parts.push(`other load on broker core ${(m.brokerWaited * 100).toFixed(0)}%`);
  return parts.join(', ');
}

async function throughputGroup(ctx) {
  const spec = ctx.sizes.throughput;
  for (const transport of spec.transports.filter((t) => ctx.opts.transports.includes(t))) {
    const BROKERS = brokersOf(ctx, transport);
    ctx.log(`throughput over ${transport}: ${spec.pairs} pairs`);
    await withBrokers(ctx, BROKERS, (brokers) =>
      withGenerators(ctx, BROKERS.map((k) => `pairs-${k}`), async (gens) => {
        const ready = {};
        for (const kind of BROKERS) {
          const target = endpoint(brokers[kind], transport);
          const prefix = `${ctx.runId}-tp-${transport}-${kind}-`;
          const g = gens[`pairs-${kind}`];
          // Subscribed at QoS 1: the QoS 0 run's messages arrive at QoS 0 (min of the two), the
          // QoS 1 run's at QoS 1.
          const subs = await g.call('open', { pool: 'subs', target, count: spec.pairs, concurrency: 50, clientIdPrefix: `${prefix}s`, subscribe: [{ topic: 'bench/tp/{i}', qos: 1 }], timeoutMs: 30000 });
          const pubs = await g.call('open', { pool: 'pubs', target, count: spec.pairs, concurrency: 50, clientIdPrefix: `${prefix}p`, timeoutMs: 30000 });
          ready[kind] = subs.opened === spec.pairs && pubs.opened === spec.pairs;
        }
        for (let rep = 0; rep < ctx.sizes.reps; rep++) {
          for (const kind of rotate(BROKERS, rep)) {
           for (const [qos, window] of [[0, spec.window], [1, spec.window], [0, 1], [1, 1]]) {
            const g = gens[`pairs-${kind}`];
            const scenario = (qos ? 'throughput-q1' : 'throughput') + (window === 1 ? '-w1' : '');
            const r = await measure(ctx, { scenario, transport, target: kind, rep }, async () => {
              if (!ready[kind]) throw new Error('pairs could not all connect');
              const before = snapshot(brokers[kind], [g]);
              const res = await g.call('pairs', { pubPool: 'pubs', subPool: 'subs', topicPrefix: 'bench/tp/', window, warmupMs: spec.warmupMs, durationMs: spec.durationMs, payloadSize: PAYLOAD, qos });
              const after = snapshot(brokers[kind], [g]);
              await sleep(300);
              const wall = Number(after.at - before.at) / 1e9;
              const elapsed = Number(res.elapsedNs) / 1e9;
              return {
                rate: res.delivered / elapsed,
                // CPU over the whole run (warm-up included) against everything delivered in it.
                cpuPerMsgUs: ((after.broker - before.broker) / res.received) * 1e6,
                brokerCpu: (after.broker - before.broker) / wall,
                genCpu: (after.gen - before.gen) / wall,
                brokerWaited: foreign(before, after) / wall,
                coreSoftirqPerMsgUs: ((after.core.softirq - before.core.softirq) / res.received) * 1e6,
                losses: res.lost,
              };
            }, brokers[kind]);
            ctx.log(`  rep ${rep + 1} ${scenario} ${kind}: ${summaryOf(r)}`);
           }
          }
        }
      }),
    );
  }
}

/** Idle WebSocket connections: a fresh broker per repetition, so RSS growth is theirs alone. */
async function idleGroup(ctx, { scenario = 'idle', spec = ctx.sizes.idle, kinds = brokersOf(ctx), target = (broker) => endpoint(broker, 'ws'), subscribe = () => null } = {}) {
  const transport = 'ws';
  const BROKERS = kinds;
  ctx.log(`idle: ${spec.connections} WebSocket connections per broker, fresh broker each time`);
  await withGenerators(ctx, ['idle'], async (gens) => {
    for (let rep = 0; rep < ctx.sizes.reps; rep++) {
      for (const kind of rotate(BROKERS, rep)) {
        const r = await measure(ctx, { scenario, transport, target: kind, rep }, () =>
          withBrokers(ctx, [kind], async (brokers) => {
            const broker = brokers[kind];
            await sleep(700);
            const mem0 = memory(broker.pid);
            const before = snapshot(broker, [gens.idle]);
            const opened = await gens.idle.call('open', {
              pool: 'idle', target: target(broker, kind), count: spec.connections, concurrency: spec.concurrency, subscribe: subscribe(kind),
              clientIdPrefix: `${ctx.runId}-idle-${rep}-${kind}-`, timeoutMs: 120000,
            }, 130000);
            const after = snapshot(broker, [gens.idle]);
            await sleep(spec.settleMs);
            const mem1 = memory(broker.pid);
            await gens.idle.call('close', { pool: 'idle' });
            if (opened.opened === 0) throw new Error(`no connection succeeded: ${opened.errors[0]}`);
            const elapsed = opened.elapsedMs / 1000;
            return {
              connRate: opened.opened / elapsed,
              rssPerConnKb: opened.opened ? (mem1.rssKb - mem0.rssKb) / opened.opened : null,
              brokerRssKb: mem1.rssKb,
              cpuPerConnUs: ((after.broker - before.broker) / opened.opened) * 1e6,
              brokerCpu: (after.broker - before.broker) / elapsed,
              genCpu: (after.gen - before.gen) / elapsed,
              brokerWaited: foreign(before, after) / elapsed,
              losses: opened.failed,
            };
          }),
        );
        ctx.log(`  rep ${rep + 1} ${scenario} ${kind}: ${summaryOf(r)}`);
      }
    }
  });
}

/**
 * Connect rate. Every client sends a distinct token in its username's query string, so the
 * authorizer runs for each CONNECT (its result cache never hits); the peers receive the same bytes
 * and admit anonymously.
 */
async function connectGroup(ctx) {
  const spec = ctx.sizes.connect;
  for (const transport of spec.transports.filter((t) => ctx.opts.transports.includes(t))) {
    const kinds = ['switchboard-auth', ...brokersOf(ctx, transport)];
    ctx.log(`connect over ${transport}: ${spec.connections} connections, ${spec.concurrency} at a time`);
    await withBrokers(ctx, kinds, (brokers) =>
      withGenerators(ctx, ['connect'], async (gens) => {
        // Warm-up, not recorded: a fresh Node broker compiles its connect path on first use.
        for (const kind of kinds) {
          await gens.connect.call('open', { pool: 'c', target: endpoint(brokers[kind], transport), count: 200, concurrency: spec.concurrency, clientIdPrefix: `${ctx.runId}-cw-${transport}-${kind}-`, uniqueToken: true, timeoutMs: 30000 });
          await gens.connect.call('close', { pool: 'c' });
        }
        await sleep(300);
        for (let rep = 0; rep < ctx.sizes.reps; rep++) {
          for (const kind of rotate(kinds, rep)) {
            const r = await measure(ctx, { scenario: 'connect', transport, target: kind, rep }, async () => {
              const broker = brokers[kind];
              const before = snapshot(broker, [gens.connect]);
              const opened = await gens.connect.call('open', {
                pool: 'c', target: endpoint(broker, transport), count: spec.connections, concurrency: spec.concurrency,
                clientIdPrefix: `${ctx.runId}-c-${transport}-${rep}-${kind}-`, uniqueToken: true, timeoutMs: 60000,
              }, 70000);
              const after = snapshot(broker, [gens.connect]);
              await gens.connect.call('close', { pool: 'c' });
              await sleep(300);
              const elapsed = opened.elapsedMs / 1000;
              if (opened.opened === 0) throw new Error(`no connection succeeded: ${opened.errors[0]}`);
              return {
                connRate: opened.opened / elapsed,
                handshakeP50Ms: opened.handshakeP50Ms,
                handshakeP99Ms: opened.handshakeP99Ms,
                cpuPerConnUs: ((after.broker - before.broker) / opened.opened) * 1e6,
                brokerCpu: (after.broker - before.broker) / elapsed,
                genCpu: (after.gen - before.gen) / elapsed,
                brokerWaited: foreign(before, after) / elapsed,
                losses: opened.failed,
              };
            }, brokers[kind]);
            ctx.log(`  rep ${rep + 1} connect ${kind}: ${summaryOf(r)}`);
          }
        }
      }),
    );
  }
}

/** Scenario groups in run order; `--only` names them. */
export const GROUPS = {
  'fanout-small': (ctx) => {
    const spec = ctx.sizes.fanoutSmall;
    return fanoutGroup(ctx, {
      key: 'fanout-small', spec, kinds: (t) => brokersOf(ctx, t), clean: true,
      measures: [
        { id: 'fanout-small-q0', qos: 0, std: spec.std.q0 },
        { id: 'fanout-small-q1', qos: 1, std: spec.std.q1 },
        { id: 'latency', kind: 'latency', params: spec.latency },
      ],
    });
  },
  'fanout-large': (ctx) => {
    const spec = ctx.sizes.fanoutLarge;
    return fanoutGroup(ctx, {
      key: 'fanout-large', spec, kinds: (t) => brokersOf(ctx, t), clean: true,
      measures: [
        { id: 'fanout-large-q0', qos: 0, std: spec.std.q0 },
        { id: 'fanout-large-q1', qos: 1, std: spec.std.q1 },
      ],
    });
  },
  throughput: throughputGroup,
  idle: (ctx) => idleGroup(ctx),
  connect: connectGroup,
  persistent: (ctx) => {
    const spec = ctx.sizes.persistent;
    return fanoutGroup(ctx, {
      key: 'persistent', spec, kinds: ['switchboard', 'switchboard-sqlite', 'mosquitto', 'aedes'], clean: false,
      measures: [{ id: 'persistent-q1', qos: 1, std: spec.std.q1 }],
    });
  },
  // JSON over WebSocket and SSE beside MQTT over WebSocket (Switchboard and Mosquitto), issue 15.
  web: async (ctx) => {
    const w = ctx.sizes.web;
    for (const size of ['small', 'large']) {
      const spec = { subscribers: w[size], transports: ['ws'], seconds: w.seconds };
      await fanoutGroup(ctx, {
        key: `web-${size}`, spec, kinds: WEB_KINDS, clean: true, subTarget: webTarget,
        subscribe: [{ topic: 'bench/fan/q0', qos: 0 }], warmQos: [0],
        measures: [{ id: `web-fanout-${size}-q0`, qos: 0, std: w.std }],
      });
    }
    // An SSE stream needs a topic: it listens to one nobody publishes on. The others only connect.
    await idleGroup(ctx, {
      scenario: 'web-idle', spec: { connections: w.idle, concurrency: w.concurrency, settleMs: w.settleMs },
      kinds: WEB_KINDS, target: webTarget, subscribe: (kind) => (kind === 'switchboard-sse' ? [{ topic: 'bench/idle', qos: 0 }] : null),
    });
  },
  cluster: clusterGroup,
};
