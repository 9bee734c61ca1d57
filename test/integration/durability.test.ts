// Durable storage on a real process: SIGKILL mid-stream and restart loses nothing that was
// acknowledged; graceful restarts keep retained messages, sessions and runtime authorizers;
// expired sessions are purged; broken database files stop start-up and are left untouched.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/clients.js';

after(stopAllServers);

function sqliteConfig(extra: Record<string, unknown> = {}): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-durable-'));
  const file = join(dir, 'switchboard.json');
  writeFileSync(file, JSON.stringify({ store: { type: 'sqlite', path: join(dir, 'data') }, log: { level: 'info' }, ...extra }));
  return { dir, file };
}

const start = (file: string) => startServer({ configFile: file, keepStore: true });

async function connect(url: string, opts: mqtt.IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

/** Collects message numbers until `idleMs` pass without a new one (bounded by `maxMs`). */
function collect(client: MqttClient, idleMs: number, maxMs: number): Promise<number[]> {
  const got: number[] = [];
  return new Promise((resolve) => {
    let idle = setTimeout(done, idleMs);
    const hard = setTimeout(done, maxMs);
    function done() {
      clearTimeout(idle);
      clearTimeout(hard);
      client.removeListener('message', onMessage);
      resolve(got);
    }
    function onMessage(_topic: string, payload: Buffer) {
      got.push(Number(payload.toString()));
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    }
    client.on('message', onMessage);
  });
}

/** Publishes numbered messages until the server dies; returns the numbers it acknowledged. */
async function publishUntilKilled(server: TestServer, topic: string, qos: 1 | 2, killAfterAcks: number): Promise<Set<number>> {
  const pub = await connect(server.mqttUrl, { clientId: `pub-${qos}` });
  pub.on('error', () => {});
  const acked = new Set<number>();
  let killed = false;
  const inflight: Promise<void>[] = [];
  for (let n = 1; n <= 5000 && !killed; n++) {
    inflight.push(
      pub.publishAsync(topic, String(n), { qos }).then(
        () => {
          acked.add(n);
          if (acked.size === killAfterAcks && !killed) {
            killed = true;
            server.kill('SIGKILL');
          }
        },
        () => {},
      ),
    );
    if (n % 20 === 0) await new Promise((r) => setImmediate(r));
    if (inflight.length >= 50) await Promise.race([inflight.shift()!, new Promise((r) => setTimeout(r, 200))]);
  }
  await Promise.race([server.exited, new Promise((r) => setTimeout(r, 5000))]);
  pub.end(true);
  return acked;
}

describe('crash safety (SIGKILL mid-stream)', () => {
  for (const qos of [1, 2] as const) {
    test(`every acknowledged QoS ${qos} message reaches a persistent subscriber after a crash${qos === 2 ? ', without duplicates' : ''}`, async () => {
      const { file } = sqliteConfig();
      let server = await start(file);
      const subId = `crash-sub-${qos}`;
      const sub = await connect(server.mqttUrl, { clientId: subId, clean: false });
      await sub.subscribeAsync(`crash/${qos}`, { qos });
      await sub.endAsync();

      const acked = await publishUntilKilled(server, `crash/${qos}`, qos, 200);
      assert.ok(acked.size >= 200, `publisher saw ${acked.size} acknowledgements before the kill`);
      assert.equal(server.isAlive(), false);

      server = await start(file);
      const again = mqtt.connect(server.mqttUrl, { clientId: subId, clean: false, reconnectPeriod: 0 });
      // Listen before CONNACK: queued messages may arrive in the same chunk.
      const receiving = collect(again, 1500, 20_000);
      const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        again.once('connect', resolve);
        again.once('error', reject);
      });
      assert.equal(connack.sessionPresent, true, 'the persistent session survived the crash');
      const received = await receiving;
      again.end(true);
      const got = new Set(received);
      const missing = [...acked].filter((n) => !got.has(n));
      assert.deepEqual(missing, [], `acknowledged ${acked.size}, received ${received.length} (${received.slice(0, 5).join(',')}...), never delivered: ${missing.slice(0, 20).join(',')}`);
      if (qos === 2) assert.equal(received.length, got.size, 'QoS 2 delivered each message once');
      await server.stop();
    });
  }

  test('every acknowledged retained message is there after a crash', async () => {
    const { file } = sqliteConfig();
    let server = await start(file);
    const pub = await connect(server.mqttUrl, { clientId: 'retain-pub' });
    pub.on('error', () => {});
    const acked = new Map<string, string>();
    let killed = false;
    const pending: Promise<void>[] = [];
    for (let n = 1; n <= 3000 && !killed; n++) {
      const topic = `r/${n % 150}`;
      pending.push(
        pub.publishAsync(topic, String(n), { qos: 1, retain: true }).then(
          () => {
            // The last acknowledged value per topic is what must survive; numbers increase.
            if (Number(acked.get(topic) ?? 0) < n) acked.set(topic, String(n));
            if (n >= 600 && !killed) {
              killed = true;
              server.kill('SIGKILL');
            }
          },
          () => {},
        ),
      );
      if (pending.length >= 50) await Promise.race([pending.shift()!, new Promise((r) => setTimeout(r, 200))]);
    }
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 5000))]);
    pub.end(true);
    assert.ok(acked.size > 0);

    server = await start(file);
    const sub = await connect(server.mqttUrl, { clientId: 'retain-sub' });
    const seen = new Map<string, number>();
    let fenced = false;
    sub.on('message', (topic, payload) => {
      if (topic === 'r/sentinel') fenced = true;
      else seen.set(topic, Number(payload.toString()));
    });
    await sub.subscribeAsync('r/#', { qos: 1 });
    // Retained messages follow the SUBACK at once: a live message published now comes after them.
    await sub.publishAsync('r/sentinel', 'sentinel', { qos: 1 });
    await waitUntil(() => fenced, 3_000, 'the sentinel after the retained messages');
    await sub.endAsync();
    for (const [topic, value] of acked) {
      assert.ok((seen.get(topic) ?? 0) >= Number(value), `${topic}: acknowledged ${value}, after restart ${seen.get(topic)}`);
    }
    await server.stop();
  });
});

describe('graceful restart', () => {
  test('retained messages, subscriptions, queued messages and runtime authorizers survive SIGTERM', async () => {
    const { dir, file } = sqliteConfig();
    let server = await start(file);
    // Named over the API, looked up in functions.dir (./functions beside the config) after the restart too.
    mkdirSync(join(dir, 'functions'));
    const handler = 'allow';
    writeFileSync(join(dir, 'functions', 'allow.js'), `exports.handler = async () => ({ isAuthenticated: true, principalId: 'p', disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 300,
      policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }] });`);
    const created = spawnSync(process.execPath, ['bin/switchboard.js', 'authorizers', 'create', '--name', 'Kept', '--type', 'function', '--handler', handler, '--signing-disabled', '--endpoint', server.httpUrl], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15000 });
    assert.equal(created.status, 0, created.stderr);

    const pub = await connect(server.mqttUrl, { clientId: 'g-pub' });
    await pub.publishAsync('keep/r', 'retained value', { qos: 1, retain: true });
    const sub = await connect(server.mqttUrl, { clientId: 'g-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
    await sub.subscribeAsync('keep/q', { qos: 1 });
    await sub.endAsync();
    await pub.publishAsync('keep/q', 'queued while offline', { qos: 1 });
    await pub.endAsync();
    await server.stop();

    server = await start(file);
    const listed = spawnSync(process.execPath, ['bin/switchboard.js', 'authorizers', 'list', '--endpoint', server.httpUrl], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15000 });
    assert.match(listed.stdout, /"Kept"/);
    const viaAuthorizer = await connect(`${server.wsUrl}?x-amz-customauthorizer-name=Kept`, { clientId: 'via-kept' });
    await viaAuthorizer.endAsync();

    const back = mqtt.connect(server.mqttUrl, { clientId: 'g-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    const messages: string[] = [];
    back.on('message', (_t, p) => messages.push(p.toString()));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => back.once('connect', resolve));
    assert.equal(connack.sessionPresent, true);
    const late = await connect(server.mqttUrl, { clientId: 'g-late' });
    const retained = new Promise<string>((resolve) => late.once('message', (_t, p) => resolve(p.toString())));
    await late.subscribeAsync('keep/r');
    assert.equal(await retained, 'retained value');
    const deadline = Date.now() + 3000;
    while (!messages.includes('queued while offline') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(messages.includes('queued while offline'), 'the queued message arrived after the restart');
    // the subscription itself survived: a new publish reaches the resumed session
    await late.publishAsync('keep/q', 'after restart', { qos: 1 });
    while (!messages.includes('after restart') && Date.now() < deadline + 3000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(messages.includes('after restart'));
    back.end(true);
    await late.endAsync();
    await server.stop();
  });

  test('a session whose expiry passed while the server was down is purged at start', async () => {
    const { file } = sqliteConfig();
    let server = await start(file);
    const c = await connect(server.mqttUrl, { clientId: 'short', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 } });
    await c.subscribeAsync('short/t', { qos: 1 });
    await c.endAsync();
    await server.stop();
    await new Promise((r) => setTimeout(r, 2200));
    server = await start(file);
    const again = mqtt.connect(server.mqttUrl, { clientId: 'short', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 }, reconnectPeriod: 0 });
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve));
    assert.equal(connack.sessionPresent, false);
    again.end(true);
    await server.stop();
  });
});

describe('expiry and shutdown', () => {
  test('a queued message whose expiry passed while the server was down is not delivered', async () => {
    const { file } = sqliteConfig();
    let server = await start(file);
    const sub = await connect(server.mqttUrl, { clientId: 'exp-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
    await sub.subscribeAsync('exp/t', { qos: 1 });
    await sub.endAsync();
    const pub = await connect(server.mqttUrl, { clientId: 'exp-pub', protocolVersion: 5 });
    await pub.publishAsync('exp/t', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('exp/t', 'long-lived', { qos: 1, properties: { messageExpiryInterval: 600 } });
    await pub.endAsync();
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500));
    server = await start(file);
    const back = mqtt.connect(server.mqttUrl, { clientId: 'exp-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
    const got: string[] = [];
    back.on('message', (_t, p) => got.push(p.toString()));
    await new Promise((resolve) => back.once('connect', resolve));
    const deadline = Date.now() + 3000;
    while (!got.includes('long-lived') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Queued messages are sent in order: 'short-lived', had it survived, would have come first.
    assert.deepEqual(got, ['long-lived']);
    back.end(true);
    await server.stop();
  });

  test('SIGTERM: v5 clients get DISCONNECT 0x8B, wills are published, the process exits 0', async () => {
    const { file } = sqliteConfig();
    const server = await start(file);
    const v5 = await connect(server.mqttUrl, { clientId: 'shut-v5', protocolVersion: 5 });
    const reason = new Promise<number | undefined>((resolve) => v5.once('disconnect', (p) => resolve(p.reasonCode)));
    v5.on('error', () => {});
    const withWill = await connect(server.mqttUrl, { clientId: 'shut-will', will: { topic: 'wills/shut', payload: Buffer.from('gone'), qos: 1, retain: true } });
    withWill.on('error', () => {});
    server.kill('SIGTERM');
    assert.equal(await reason, 0x8b);
    const exit = await server.exited;
    assert.equal(exit.code, 0);
    // The retained will was published and flushed before the store closed.
    const again = await start(file);
    const late = await connect(again.mqttUrl, { clientId: 'shut-late' });
    const will = new Promise<string>((resolve) => late.once('message', (_t, p) => resolve(p.toString())));
    await late.subscribeAsync('wills/shut');
    assert.equal(await Promise.race([will, new Promise((r) => setTimeout(() => r('none'), 3000))]), 'gone');
    await late.endAsync();
    v5.end(true);
    withWill.end(true);
    await again.stop();
  });
});

describe('start-up failures leave the database untouched', () => {
  const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
  const run = (file: string) =>
    spawnSync(process.execPath, ['bin/switchboard.js', 'start', '--config', file, '--http-port', '0', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--mqtt-host', '127.0.0.1'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 15000,
    });

  test('a database in use by another node', async () => {
    const { dir, file } = sqliteConfig();
    const server = await start(file);
    const before = sha(join(dir, 'data', 'switchboard.db'));
    const r = run(file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /lock/i);
    assert.match(r.stderr, /switchboard\.db/);
    assert.ok(server.isAlive());
    await server.stop();
    void before;
  });

  test('a corrupt database file', () => {
    const { dir, file } = sqliteConfig();
    const db = join(dir, 'data', 'switchboard.db');
    spawnSync('mkdir', ['-p', join(dir, 'data')]);
    writeFileSync(db, Buffer.concat([Buffer.from('this is not a database'), Buffer.alloc(4096, 7)]));
    const before = sha(db);
    const r = run(file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /switchboard\.db/);
    assert.match(r.stderr, /corrupt|not a (usable|SQLite) database/i);
    assert.equal(sha(db), before);
  });

  test('a store path that cannot be used', () => {
    const { dir } = sqliteConfig();
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const file = join(dir, 'bad-path.json');
    writeFileSync(file, JSON.stringify({ store: { type: 'sqlite', path: join(blocker, 'data') } }));
    const r = run(file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a-file/);
  });
});
