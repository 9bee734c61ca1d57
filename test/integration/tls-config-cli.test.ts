// TLS listeners (mqtts://, wss://), configuration validation and the command line, on a real process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';

after(stopAllServers);

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['bin/switchboard.js', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, ...env },
  });
}

describe('TLS listeners', () => {
  let server: TestServer;
  let ca: Buffer;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'));
    const tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    const config = join(dir, 'switchboard.json');
    writeFileSync(config, JSON.stringify({ listeners: { http: { tls }, mqtt: { tls } }, store: { type: 'memory' }, log: { level: 'info' } }));
    server = await startServer({ configFile: config });
  });

  for (const [name, url] of [
    ['mqtts://', () => `mqtts://127.0.0.1:${server.mqttPort}`],
    ['wss://', () => `wss://127.0.0.1:${server.httpPort}/mqtt`],
  ] as const) {
    test(`pub/sub over ${name} with the configured certificate`, async () => {
      const opts = { ca, servername: 'localhost', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 as const };
      const sub = await mqtt.connectAsync(url(), { ...opts, clientId: `tls-sub-${name.length}` });
      const pub = await mqtt.connectAsync(url(), { ...opts, clientId: `tls-pub-${name.length}` });
      try {
        await sub.subscribeAsync('secure/t', { qos: 1 });
        const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
        await pub.publishAsync('secure/t', 'over tls', { qos: 1 });
        assert.equal(await Promise.race([got, new Promise((r) => setTimeout(() => r('timeout'), 5000))]), 'over tls');
      } finally {
        await sub.endAsync();
        await pub.endAsync();
      }
    });
  }

  test('the start-up log names https:// and wss://, never http:// or ws://', () => {
    const urls: string[] = server.logs.join('\n').match(/\b(https?|wss?):\/\/[^\s"]+/g) ?? [];
    assert.ok(urls.includes(`https://127.0.0.1:${server.httpPort}`), `the HTTPS listener is named: ${urls.join(', ')}`);
    assert.ok(urls.includes(`wss://127.0.0.1:${server.httpPort}/mqtt`), `the WebSocket endpoint is named: ${urls.join(', ')}`);
    assert.deepEqual(urls.filter((u) => /^(http|ws):/.test(u)), [], 'no plain-text scheme for a TLS listener');
  });

  test('a plain-text client on the TLS port does not get in, and the server keeps serving', async () => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, { reconnectPeriod: 0, connectTimeout: 2000 });
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', () => resolve('error'));
      client.once('close', () => resolve('closed'));
    });
    client.end(true);
    assert.notEqual(outcome, 'connected');
    assert.ok(server.isAlive());
  });
});

describe('configuration and command line', () => {
  test('--help lists the commands and options', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    for (const word of ['start', 'authorizers', 'test-invoke-authorizer', 'policy check', '--config', '--http-port', '--mqtt-port', '--log-level']) {
      assert.ok(r.stdout.includes(word), `help mentions ${word}`);
    }
  });

  test('a wrong field in the config file is named and the process exits non-zero', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'limits:\n  maxPayloadBytes: -5\n  maxPaylodBytes: 10\nlisteners:\n  mqtt: { port: "not a port" }\n');
    const r = cli(['start', '--config', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /limits\.maxPayloadBytes/);
    assert.match(r.stderr, /maxPaylodBytes/);
    assert.match(r.stderr, /listeners\.mqtt\.port/);
  });

  test('a config file that is not valid YAML or JSON is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cfg-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ "limits": ');
    const r = cli(['start', '--config', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not valid JSON/);
  });

  test('environment variables and flags override the file, flags last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cfg-'));
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'limits:\n  maxPayloadBytes: 1000\n  maxQueuedMessagesPerSession: 5\nlog: { level: warn }\n');
    const r = cli(['config', '--config', file, '--set', 'limits.maxQueuedMessagesPerSession=7', '--mqtt-port', '2883'], {
      SWITCHBOARD_LIMITS__MAX_PAYLOAD_BYTES: '2000',
      SWITCHBOARD_LIMITS__MAX_QUEUED_MESSAGES_PER_SESSION: '6',
      SWITCHBOARD_LOG_LEVEL: 'debug',
    });
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(r.stdout);
    assert.equal(config.limits.maxPayloadBytes, 2000);
    assert.equal(config.limits.maxQueuedMessagesPerSession, 7);
    assert.equal(config.listeners.mqtt.port, 2883);
    assert.equal(config.log.level, 'debug');
  });

  test('an unknown SWITCHBOARD_ variable is named', () => {
    const r = cli(['config'], { SWITCHBOARD_LIMITS__NOT_A_LIMIT: '3' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /notALimit/);
  });

  test('a port already in use stops start-up with a clear message', async () => {
    const server = await startServer({});
    const r = cli(['start', '--http-port', String(server.httpPort), '--mqtt-port', '0', '--http-host', '127.0.0.1', '--set', 'store.type=memory']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /address in use/);
  });
});
