// Logs a person can read: on a terminal (a pseudo-terminal made by util-linux `script`) the server
// writes coloured single lines; into a pipe it writes JSON lines; `--log-format` overrides both.
// Neither prints a deprecation warning at start (fastify's FSTDEP023 was printed on every start).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServer, stopAllServers } from '../helpers/server.js';

after(stopAllServers);

const ESC = '\u001b[';
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

interface PtyRun {
  /** Everything the terminal showed (stdout and stderr share it), up to the ready line. */
  output: string;
  httpPort: number;
  stop(): Promise<void>;
}

/** Starts `switchboard start` with its standard output and error on a pseudo-terminal. */
async function startOnTerminal(extraArgs: string[]): Promise<PtyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-pty-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ listeners: { http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 } }, store: { type: 'memory' } }));
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = ['exec', process.execPath, 'bin/switchboard.js', 'start', '--config', config, ...extraArgs].map(quote).join(' ');
  // -q quiet, -f flush at once, -e exit with the child's status, -c run this command; no typescript file.
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (output += chunk));
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line on the terminal within 30 s:\n${output}`)), 30_000);
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const plain = stripAnsi(output);
      const line = plain.split(/\r?\n/).find((l) => l.includes('switchboard ready'));
      const port = line && /"httpPort":(\d+)/.exec(line);
      if (port) {
        clearTimeout(timer);
        resolve(Number(port[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited on the terminal:\n${output}`));
    });
  });
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const httpPort = await ready;
    // Let the lines written right after "ready" arrive (the next one is the anonymous-mode note).
    await new Promise<void>((resolve) => {
      const done = () => stripAnsi(output).includes('anonymous clients');
      if (done()) return resolve();
      child.stdout.on('data', () => done() && resolve());
      setTimeout(resolve, 2_000).unref();
    });
    return { output, httpPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

describe('log format', () => {
  it('on a terminal: readable coloured single lines, no JSON, no deprecation warning', async () => {
    const run = await startOnTerminal([]);
    try {
      const health = await fetch(`http://127.0.0.1:${run.httpPort}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(run.output.includes(ESC), `expected colour escapes:\n${run.output}`);
      const lines = stripAnsi(run.output).split(/\r?\n/).filter((l) => l.trim() !== '');
      const ready = lines.find((l) => l.includes('switchboard ready'));
      assert.ok(ready, run.output);
      // "[15:39:47.282] INFO: switchboard ready {...}": time, level name, message, fields.
      assert.match(ready, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: switchboard ready \{/);
      for (const line of lines) assert.ok(!line.startsWith('{'), `a JSON line on a terminal: ${line}`);
      assert.doesNotMatch(run.output, /DeprecationWarning|FSTDEP|Warning:/);
    } finally {
      await run.stop();
    }
  });

  it('on a terminal with --log-format json: JSON lines', async () => {
    const run = await startOnTerminal(['--log-format', 'json']);
    try {
      const ready = run.output.split(/\r?\n/).find((l) => l.includes('switchboard ready'));
      assert.ok(ready, run.output);
      assert.equal((JSON.parse(ready) as { msg: string }).msg, 'switchboard ready');
      assert.ok(!run.output.includes(ESC));
    } finally {
      await run.stop();
    }
  });

  it('into a pipe: every line is JSON, and nothing on standard error', async () => {
    const server = await startServer();
    await fetch(`${server.httpUrl}/healthz`);
    await server.stop();
    assert.ok(server.logs.length >= 3);
    for (const line of server.logs) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.equal(server.stderr(), '');
  });

  it('into a pipe with log.format: pretty in the config file: readable lines without colour escapes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-pretty-'));
    let started: ReturnType<typeof spawn> | undefined;
    try {
      const config = join(dir, 'config.yaml');
      writeFileSync(config, 'store: { type: memory }\nlog: { format: pretty }\n');
      const child = spawn(process.execPath, ['bin/switchboard.js', 'config', '--config', config], { cwd: REPO_ROOT });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await new Promise((resolve) => child.once('exit', resolve));
      assert.equal((JSON.parse(out) as { log: { format: string } }).log.format, 'pretty');
      // Started with the same file (listeners moved to free loopback ports), its lines are text.
      started = spawn(
        process.execPath,
        ['bin/switchboard.js', 'start', '--config', config, '--http-host', '127.0.0.1', '--http-port', '0', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0'],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const child2 = started;
      const exited = new Promise((resolve) => child2.once('exit', resolve));
      let text = '';
      let errText = '';
      child2.stderr!.on('data', (c: Buffer) => (errText += c.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${text}\n${errText}`)), 30_000);
        child2.stdout!.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('switchboard ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child2.kill('SIGTERM');
      await exited;
      const ready = text.split('\n').find((l) => l.includes('switchboard ready'))!;
      assert.match(ready, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: switchboard ready \{/);
      assert.ok(!text.includes(ESC), 'no colour escapes outside a terminal');
      assert.doesNotMatch(errText, /DeprecationWarning|FSTDEP/);
    } finally {
      if (started && started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
