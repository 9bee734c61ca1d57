#!/usr/bin/env node
// A freshly started node's footprint (issue #18): starts `switchboard start` with the default
// configuration (no config file, so the SQLite store under ./data, HTTP + console on one port,
// MQTT/TCP on another; here both on 127.0.0.1 at free ports) in a fresh directory, waits until
// its RSS has been steady for a second, and reads VmRSS from /proc. Repeats, prints each run and
// the median, and which npm packages the process loaded (from a preload that lists require.cache,
// where CommonJS packages imported from ESM land too).
//
//   node scripts/start-footprint.mjs [--runs N] [--switchboard-dir DIR] [--node-args "..."] [--packages]
//                                    [-- extra start arguments, e.g. --set store.type=memory]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const opts = { runs: 5, dir: path.resolve(here, '..'), nodeArgs: [], packages: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? (() => { throw new Error(`${a} needs a value`); })();
    if (a === '--runs') opts.runs = Number(value());
    else if (a === '--switchboard-dir') opts.dir = path.resolve(value());
    else if (a === '--node-args') opts.nodeArgs = value().split(' ').filter(Boolean);
    else if (a === '--packages') opts.packages = true;
    else if (a === '--') { opts.extra = argv.slice(i + 1); break; }
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), threads: kb('Threads') };
}

async function once(opts, preload) {
  const work = mkdtempSync(path.join(tmpdir(), 'start-footprint-'));
  const listFile = path.join(work, 'packages.json');
  const child = spawn(process.execPath, [...opts.nodeArgs, ...(opts.packages ? ['-r', preload] : []),
    path.join(opts.dir, 'bin', 'switchboard.js'), 'start', '--http-host', '127.0.0.1', '--http-port', '0',
    '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--log-level', 'warn', ...opts.extra],
  { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FOOTPRINT_LIST: listFile } });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    // Steady: the same RSS (within 64 KB) over two reads a second apart, after at least 3 s.
    let last = 0;
    let s = { rssKb: 0, threads: 0 };
    for (let i = 0; i < 30; i++) {
      await sleep(1000);
      if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
      s = status(child.pid);
      if (i >= 2 && Math.abs(s.rssKb - last) < 64) break;
      last = s.rssKb;
    }
    if (opts.packages) {
      child.kill('SIGUSR2');
      for (let i = 0; i < 50; i++) {
        await sleep(100);
        try {
          s.packages = JSON.parse(readFileSync(listFile, 'utf8'));
          break;
        } catch {
          // not written yet
        }
      }
    }
    return s;
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(path.join(tmpdir(), 'start-footprint-preload-'));
  const preload = path.join(work, 'list-packages.cjs');
  // npm packages in require.cache: name -> number of files.
  writeFileSync(preload, `process.on('SIGUSR2', () => {
  const counts = {};
  for (const f of Object.keys(require.cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f);
    if (m) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  }
  require('fs').writeFileSync(process.env.FOOTPRINT_LIST, JSON.stringify(counts));
});\n`);
  const runs = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const r = await once(opts, preload);
      runs.push(r);
      console.log(`run ${i + 1}: RSS ${(r.rssKb / 1024).toFixed(1)} MB, ${r.threads} threads`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const sorted = runs.map((r) => r.rssKb).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`median RSS ${(median / 1024).toFixed(1)} MB (min ${(sorted[0] / 1024).toFixed(1)}, max ${(sorted.at(-1) / 1024).toFixed(1)}) over ${runs.length} runs`);
  const packages = runs.at(-1)?.packages;
  if (packages) {
    const rows = Object.entries(packages).sort((a, b) => b[1] - a[1]);
    console.log(`CommonJS packages loaded (${rows.length}): ${rows.map(([n, c]) => `${n} ${c}`).join(', ')}`);
  }
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
