// A freshly started node loads only what its configuration uses (issue #18, footprint): with the
// default configuration (no config file: SQLite store, HTTP + console, MQTT/TCP, no cluster) it
// does not load ioredis (the Redis store and the cluster backplane) nor the YAML parser, which
// together cost about 15 MB of RSS at start (scripts/start-footprint.mjs, docs/benchmarks.md). A
// YAML config file still works: the parser is loaded when one is read.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Starts `switchboard start ARGS` in a fresh directory with a preload that, on SIGUSR2, writes the
 * npm packages in require.cache (CommonJS packages imported from ESM land there too); returns them.
 */
async function packagesLoadedAtStart(args: string[], files: Record<string, string> = {}): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-footprint-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const preload = join(dir, 'list-packages.cjs');
  const list = join(dir, 'packages.json');
  writeFileSync(preload, `process.on('SIGUSR2', () => {
  const names = new Set();
  for (const f of Object.keys(require.cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f);
    if (m) names.add(m[1]);
  }
  require('fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify([...names]));
});\n`);
  const child = spawn(process.execPath, ['-r', preload, join(REPO_ROOT, 'bin', 'switchboard.js'), 'start',
    '--http-host', '127.0.0.1', '--http-port', '0', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', ...args],
  { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (output += c));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${output}`)), 30_000);
      child.stdout.on('data', (c: string) => {
        output += c;
        if (output.includes('switchboard ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited before ready:\n${output}`));
      });
    });
    child.kill('SIGUSR2');
    for (let i = 0; i < 100; i++) {
      try {
        return new Set(JSON.parse(readFileSync(list, 'utf8')) as string[]);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('the preload wrote no package list within 5 s');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('start footprint', () => {
  it('a default node loads neither ioredis nor the YAML parser', async () => {
    const loaded = await packagesLoadedAtStart([]);
    assert.ok(loaded.has('fastify') && loaded.has('better-sqlite3'), `the probe sees the packages in use: ${[...loaded].join(', ')}`);
    assert.equal(loaded.has('ioredis'), false, 'ioredis loaded without a cluster or a Redis store');
    assert.equal(loaded.has('yaml'), false, 'yaml loaded without a YAML config file');
  });

  it('a YAML config file is still read (the parser loads on demand)', async () => {
    const loaded = await packagesLoadedAtStart(['--config', 'config.yaml'], { 'config.yaml': 'store:\n  type: memory\n' });
    assert.ok(loaded.has('yaml'));
    assert.equal(loaded.has('better-sqlite3'), false, 'store.type from the YAML file was applied');
  });
});
