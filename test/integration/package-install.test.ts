// The published package layout runs: `npm pack` holds the CLI, the compiled server and the console
// (and no tests or sources), and the packed tarball, laid out as `npm install -g` lays it out
// (<prefix>/lib/node_modules/switchboard, <prefix>/bin/switchboard -> its bin), answers --version,
// starts from another directory and serves /healthz and the console.
//
// What this does not do: fetch the dependencies. An install would ask the npm registry for them
// and compile better-sqlite3 (its prebuilt binaries come from GitHub), so the test gives the
// unpacked package this checkout's node_modules instead. The dependency list itself is checked
// against what the server imports at start, which is what an install would have to provide.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/server.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackEntry {
  filename: string;
  files: { path: string }[];
}

describe('the npm package', { timeout: 120_000 }, () => {
  let dir: string;
  let files: string[];
  let tarball: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-pack-'));
    // --ignore-scripts: the suite has built dist/ already (npm pack would run prepare: a full build).
    const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO_ROOT, timeout: 60_000 });
    const [entry] = JSON.parse(stdout) as PackEntry[];
    files = entry!.files.map((f) => f.path);
    tarball = join(dir, entry!.filename);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the CLI, the compiled server, the console and the docs; no tests, sources or scripts', () => {
    for (const needed of ['package.json', 'README.md', 'bin/switchboard.js', 'dist/cli/main.js', 'dist/server.js', 'dist/functions/function-worker.js', 'dist/console/index.html', 'dist/client/switchboard.js', 'dist/client/switchboard.d.ts', 'docs/configuration.md', 'examples/switchboard.yaml']) {
      assert.ok(files.includes(needed), `${needed} is missing from the package`);
    }
    assert.ok(files.some((f) => /^dist\/console\/assets\/.+\.js$/.test(f)), 'the console scripts are missing');
    const unwanted = files.filter((f) => /^(test|src|bench|scripts|\.ci|node_modules)\//.test(f) || /\.test\.[jt]s$/.test(f) || f === 'tsconfig.json');
    assert.deepEqual(unwanted, []);
  });

  it('declares every package the server imports as a dependency', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !f.startsWith('dist/console/'))) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\(\s*|\brequire\(\s*)['"]((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(?:\/[\w./-]*)?)['"]/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    assert.ok(imported.has('fastify') && imported.has('better-sqlite3'), [...imported].join(', '));
    for (const name of imported) assert.ok(pkg.dependencies[name] !== undefined, `the server imports ${name}, which is not in dependencies`);
  });

  it('installed as npm install -g lays it out: --version, start, /healthz and the console', async () => {
    const prefix = join(dir, 'prefix');
    const packageDir = join(prefix, 'lib', 'node_modules', 'switchboard');
    mkdirSync(packageDir, { recursive: true });
    mkdirSync(join(prefix, 'bin'));
    await run('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1']);
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(packageDir, 'node_modules'));
    const bin = join(prefix, 'bin', 'switchboard');
    symlinkSync('../lib/node_modules/switchboard/bin/switchboard.js', bin);
    const work = join(dir, 'work');
    mkdirSync(work);
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
    // Through the bin link (executable bit and shebang from the tarball), from another directory.
    const { stdout } = await run(bin, ['--version'], { cwd: work, timeout: 30_000 });
    assert.equal(stdout.trim(), version);

    const child = spawn(bin, ['start', '--http-host', '127.0.0.1', '--http-port', '0', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--log-format', 'json'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const ready = await new Promise<{ httpPort: number; store: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 20 s:\n${out}\n${err}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n').find((l) => l.includes('"switchboard ready"'));
          if (line) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { httpPort: number; store: string });
          }
        });
        void exited.then(() => reject(new Error(`exited at start:\n${out}\n${err}`)));
      });
      // The default SQLite store opened ./data in the working directory, not in the package.
      assert.match(ready.store, /^sqlite/);
      const health = await fetch(`http://127.0.0.1:${ready.httpPort}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const consolePage = await fetch(`http://127.0.0.1:${ready.httpPort}/`);
      assert.equal(consolePage.status, 200);
      assert.match(await consolePage.text(), /<script[^>]+src="[^"]*assets\//);
      // The browser helper, from the installed server and as the package's `switchboard/client` export.
      const helper = await fetch(`http://127.0.0.1:${ready.httpPort}/client/switchboard.js`);
      assert.equal(helper.status, 200);
      const exported = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('switchboard/client'); console.log(typeof m.connect)"], { cwd: packageDir, timeout: 30_000 });
      assert.equal(exported.stdout.trim(), 'function');
      assert.doesNotMatch(err, /Warning/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
