#!/usr/bin/env node
// Switchboard against Mosquitto and Aedes on this machine, in one run, with identical load
// (issue #6). See docs/benchmarks.md for what is measured and how to read the table.
//
//   node bench/index.js [--quick] [--reps N] [--only fanout-small,fanout-large,throughput,idle,connect,persistent,web,cluster]
//                       [--transports ws,tcp] [--switchboard-dir DIR] [--switchboard-node-args "--cpu-prof ..."]
//                       [--switchboard-access policy|anonymous] [--broker-core 0] [--generator-core 1]
//                       [--retries N] [--out FILE] [--baseline-dir DIR]
//
// --baseline-dir DIR adds a second Switchboard build ("switchboard-base", run from DIR) to every
// scenario except persistent sessions, so that a change is measured against the build before it in
// the same run, beside the same peers.
//
// Switchboard runs from DIR/bin/switchboard.js (default: this repository; run `npm run build`
// first). Results: a table on stdout, JSON in bench/results/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GROUPS, describe, planSizes } from './scenarios.js';
import { summarize } from './lib/report.js';
import { cpuCount, cpuModel, fileLimits, loadAverage, memTotalKb, pin, raiseFileLimit } from './lib/proc.js';
import { MOSQUITTO, NATS_SERVER } from './brokers/launch.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

function parseArgs(argv) {
  const opts = {
    quick: false, reps: null, only: null, transports: ['ws', 'tcp'], switchboardDir: repo, switchboardNodeArgs: [],
    brokerCore: 0, genCore: 1, out: null, retries: null, switchboardAccess: 'policy', baselineDir: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--reps') opts.reps = Number(value());
    else if (a === '--retries') opts.retries = Number(value());
    else if (a === '--switchboard-access') opts.switchboardAccess = value();
    else if (a === '--only') opts.only = value().split(',');
    else if (a === '--transports') opts.transports = value().split(',');
    else if (a === '--switchboard-dir') opts.switchboardDir = path.resolve(value());
    else if (a === '--baseline-dir') opts.baselineDir = path.resolve(value());
    else if (a === '--switchboard-node-args') opts.switchboardNodeArgs = value().split(' ').filter(Boolean);
    else if (a === '--broker-core') opts.brokerCore = value();
    else if (a === '--generator-core') opts.genCore = value();
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!['policy', 'anonymous'].includes(opts.switchboardAccess)) throw new Error('--switchboard-access is policy or anonymous');
  if (opts.only) for (const g of opts.only) if (!GROUPS[g]) throw new Error(`unknown scenario group ${g} (${Object.keys(GROUPS).join(', ')})`);
  for (const t of opts.transports) if (t !== 'ws' && t !== 'tcp') throw new Error(`unknown transport ${t}`);
  if (opts.reps !== null && !(opts.reps >= 1 && opts.reps <= 10)) throw new Error('--reps must be 1..10');
  return opts;
}

function tryRun(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }).toString().trim();
  } catch (err) {
    // `mosquitto -h` prints its version and exits non-zero.
    return cmd === MOSQUITTO ? (err.stdout?.toString() || '').trim() || null : null;
  }
}

function versions(opts) {
  const pkg = (p) => {
    try {
      return JSON.parse(readFileSync(p, 'utf8')).version;
    } catch {
      return null;
    }
  };
  const nats = (tryRun(NATS_SERVER, ['--version']) ?? '').replace(/^nats-server: v?/, '') || null;
  const mosquitto = (tryRun(MOSQUITTO, ['-h']) ?? '').split('\n')[0].replace(/^mosquitto version /, '') || null;
  // A snapshot outside git (e.g. `git archive HEAD | tar -x -C DIR`) names its commit in
  // BENCH_SWITCHBOARD_COMMIT.
  const commit = process.env.BENCH_SWITCHBOARD_COMMIT ?? tryRun('git', ['-C', opts.switchboardDir, 'rev-parse', 'HEAD']);
  const dirty = commit && !process.env.BENCH_SWITCHBOARD_COMMIT ? tryRun('git', ['-C', opts.switchboardDir, 'status', '--porcelain', '--untracked-files=no', 'src']) : null;
  return {
    node: process.version,
    mosquitto,
    nats,
    aedes: pkg(path.join(repo, 'node_modules/aedes/package.json')),
    aedesServerFactory: pkg(path.join(repo, 'node_modules/aedes-server-factory/package.json')),
    ws: pkg(path.join(repo, 'node_modules/ws/package.json')),
    switchboard: pkg(path.join(opts.switchboardDir, 'package.json')),
    switchboardCommit: commit ? `${commit}${dirty ? ' (src modified)' : ''}` : null,
  };
}

function machine() {
  return {
    cpus: cpuCount(),
    cpuModel: cpuModel(),
    memTotalGb: Math.round((memTotalKb() / 1048576) * 10) / 10,
    kernel: os.release(),
    loadAverage: loadAverage(),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const sizes = planSizes(opts.quick);
  if (opts.retries === null) opts.retries = opts.quick ? 0 : 2;
  if (opts.reps) sizes.reps = opts.reps;
  const startedAt = new Date();
  const t0 = performance.now();
  const log = (msg) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

  if (!existsSync(path.join(opts.switchboardDir, 'dist', 'cli', 'main.js'))) {
    throw new Error(`${opts.switchboardDir}/dist is missing: run \`npm run build\` first`);
  }
  if (opts.baselineDir && !existsSync(path.join(opts.baselineDir, 'dist', 'cli', 'main.js'))) {
    throw new Error(`${opts.baselineDir}/dist is missing: build the baseline first`);
  }
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: apt-get install -y mosquitto (or set MOSQUITTO_BIN)`);
  // NATS is the third peer of the TCP scenarios; without its binary they run without it.
  opts.nats = existsSync(NATS_SERVER);
  if (!opts.nats) log(`${NATS_SERVER} is missing: TCP scenarios run without NATS (apt-get install -y nats-server, or set NATS_SERVER_BIN)`);
  if (cpuCount() < 2) log('warning: one CPU: broker and generator share it, the numbers mean little');

  // 10,000 connections need that many descriptors in the broker and in the subscriber process;
  // each process has its own limit, which children inherit from here.
  const needed = Math.max(sizes.fanoutLarge.subscribers, sizes.idle.connections, sizes.web.large, sizes.web.idle) + 1000;
  const limits = raiseFileLimit(needed);
  if (limits.after.soft < needed) {
    log(`warning: open-file limit ${limits.after.soft} < ${needed}: the largest scenarios will lose connections (raise the hard limit: ulimit -Hn)`);
  }
  // The orchestrator only waits and reads /proc, but keep it off the broker's core too.
  pin(process.pid, opts.genCore);

  const records = [];
  const ctx = {
    opts, sizes, log, runId: `b${Date.now().toString(36)}`,
    brokerOptions: { cores: opts.brokerCore, switchboardDir: opts.switchboardDir, baselineDir: opts.baselineDir, switchboardNodeArgs: opts.switchboardNodeArgs, switchboardAccess: opts.switchboardAccess },
    record: (r) => records.push(r),
  };
  const info = { startedAt: startedAt.toISOString(), mode: opts.quick ? 'quick' : 'full', sizes, machine: machine(), versions: versions(opts), fileLimits: limits.after, options: { ...opts, switchboardDir: path.relative(repo, opts.switchboardDir) || '.' } };
  if (opts.baselineDir) info.versions.baselineCommit = process.env.BENCH_BASELINE_COMMIT ?? null;
  log(`${info.mode} run: ${info.machine.cpus} CPUs (${info.machine.cpuModel}), broker on CPU ${opts.brokerCore}, generators on CPU ${opts.genCore}; open files ${limits.after.soft}`);
  log(`node ${info.versions.node}, mosquitto ${info.versions.mosquitto}, nats-server ${info.versions.nats}, aedes ${info.versions.aedes}, switchboard ${info.versions.switchboardCommit ?? info.versions.switchboard}`);

  // The cluster scenario starts Redis and five broker set-ups: it would take --quick past its two
  // minutes, so quick runs include it only when asked for (--only cluster).
  const groups = opts.only ?? Object.keys(GROUPS).filter((g) => !(opts.quick && g === 'cluster'));
  for (const name of groups) {
    const g0 = performance.now();
    try {
      await GROUPS[name](ctx);
    } catch (err) {
      log(`${name} failed: ${err.stack ?? err}`);
      records.push({ scenario: name, error: String(err.message ?? err) });
    }
    log(`${name} done in ${((performance.now() - g0) / 1000).toFixed(0)} s`);
  }

  const scenarios = describe(sizes, opts.switchboardAccess, opts.baselineDir !== null).filter((s) => records.some((r) => r.scenario === s.id));
  const summary = summarize(scenarios, records);
  info.durationSec = Math.round((performance.now() - t0) / 1000);
  info.loadAverageAfter = loadAverage();

  const resultsDir = path.join(here, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = opts.out ?? path.join(resultsDir, `${stamp}-${info.mode}.json`);
  const json = JSON.stringify({ ...info, summary: summary.rows, records, table: summary.markdown }, null, 2);
  writeFileSync(file, json);
  if (!opts.out && !opts.only && !opts.baselineDir) writeFileSync(path.join(resultsDir, info.mode === 'full' ? 'latest.json' : 'latest-quick.json'), json);

  console.log(`\nSwitchboard (${opts.switchboardAccess === 'policy' ? 'clients under a compiled policy' : 'anonymous clients with every right'}) vs peers, ${info.mode} run, median of ${sizes.reps} repetition(s); factors >1 mean Switchboard did better.\n`);
  console.log(summary.markdown);
  console.log(`\n${records.filter((r) => r.error).length} measurement(s) failed. JSON: ${path.relative(process.cwd(), file)}. ${info.durationSec} s.`);
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
