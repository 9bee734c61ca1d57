// The optional browser helper (src/client/switchboard.ts, docs/websocket-json.md "The browser
// helper") against a real server in this process, in Node with `ws` as its WebSocket class:
// receive what MQTT.js publishes, publish with an acknowledgement (and a refusal that rejects the
// same promise), and — across a server restart on a SQLite store with a `history` rule — reconnect
// by itself and resume with every message exactly once, in order. Also: the server serves it at
// /client/switchboard.js, small, and the package exports it as `switchboard/client`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { backoff, connect, matches, type Client, type Message } from '../../src/client/switchboard.js';
import { uid, waitUntil, withTimeout } from '../helpers/clients.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-client-'));
let server: RunningServer;
let httpPort = 0;
let mqttPort = 0;
const clients: Client[] = [];

function start(): Promise<RunningServer> {
  return startServer(
    validateConfig({
      listeners: { http: { host: '127.0.0.1', port: httpPort }, mqtt: { host: '127.0.0.1', port: mqttPort } },
      store: { type: 'sqlite', path: join(dir, 'data') },
      log: { level: 'silent' },
      history: [
        { filter: 'feed/#', maxMessages: 100, maxAgeSeconds: 0 },
        { filter: 'tiny/#', maxMessages: 2, maxAgeSeconds: 0 },
      ],
    }),
  );
}

async function publish(topic: string, payloads: string[]): Promise<void> {
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 });
  for (const p of payloads) await pub.publishAsync(topic, p, { qos: 1 });
  await pub.endAsync();
}

before(async () => {
  server = await start();
  httpPort = server.httpPort!;
  mqttPort = server.mqttPort!;
});
after(async () => {
  for (const c of clients) c.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('browser helper', () => {
  test('receives MQTT publishes; publish resolves on puback and rejects on error', async () => {
    const client = connect({ url: `ws://127.0.0.1:${httpPort}/ws`, WebSocket });
    clients.push(client);
    const topic = `live/${uid('t')}`;
    const got: Message[] = [];
    const sub = client.subscribe(topic, (m) => got.push(m));
    await withTimeout(sub.ready, 5000, 'subscribed');
    await publish(topic, ['{"n":1}', 'plain']);
    await waitUntil(() => got.length === 2, 5000, 'two messages');
    assert.deepEqual(got.map((m) => [m.payload, m.encoding]), [[{ n: 1 }, 'json'], ['plain', 'text']]);
    // Its own publish comes back through the subscription after the puback.
    await withTimeout(client.publish(topic, { from: 'helper' }), 5000, 'puback');
    await waitUntil(() => got.length === 3, 5000, 'own message');
    assert.deepEqual(got[2].payload, { from: 'helper' });
    await assert.rejects(client.publish('bad/+/topic', 'x'), (e: Error & { code?: string }) => e.code === 'invalid-topic');
  });

  test('a server restart: reconnects with backoff and resumes, every message exactly once, in order', async () => {
    const topic = `feed/${uid('r')}`;
    // Until `gate` opens, connection attempts go to a closed port: the restarted server is up and
    // takes publishes before the helper gets back, so what it missed must come from history.
    let gate = false;
    let attempts = 0;
    class GatedWebSocket extends WebSocket {
      constructor(url: string) {
        attempts += 1;
        super(gate ? url : 'ws://127.0.0.1:1/ws');
      }
    }
    let connects = 0;
    const resets: string[][] = [];
    const client = connect({
      url: `ws://127.0.0.1:${httpPort}/ws`,
      WebSocket: GatedWebSocket,
      initialDelayMs: 20,
      maxDelayMs: 100,
      onconnect: () => (connects += 1),
      onreset: (filters) => resets.push(filters),
    });
    clients.push(client);
    gate = true;
    const got: unknown[] = [];
    const sub = client.subscribe(`${topic}/#`, (m) => got.push(m.payload));
    await withTimeout(sub.ready, 5000, 'subscribed');
    await publish(`${topic}/a`, ['1', '2']);
    await publish(`${topic}/b`, ['3']);
    await waitUntil(() => got.length === 3, 5000, 'first three');
    assert.equal(typeof sub.lastId, 'string', 'messages on a history topic carry an id');

    gate = false;
    await server.stop();
    server = await start();
    await publish(`${topic}/a`, ['4']);
    await publish(`${topic}/b`, ['5', '6']);
    const before = attempts;
    await waitUntil(() => attempts >= before + 2, 5000, 'the helper keeps retrying');
    gate = true;
    await waitUntil(() => connects === 2, 5000, 'reconnected');
    await waitUntil(() => got.length >= 6, 5000, 'what was missed');
    await publish(`${topic}/a`, ['7']);
    await waitUntil(() => got.length >= 7, 5000, 'live after the replay');
    assert.deepEqual(got, ['1', '2', '3', '4', '5', '6', '7']);
    assert.deepEqual(resets, []);
    // Nothing late either: another publish is the next thing to arrive.
    await publish(`${topic}/b`, ['8']);
    await waitUntil(() => got.length >= 8, 5000, 'one more');
    assert.deepEqual(got.slice(7), ['8']);
  });

  test('history that no longer reaches back: onreset names the filter, then what is kept follows', async () => {
    const topic = `tiny/${uid('z')}`;
    let gate = true;
    class GatedWebSocket extends WebSocket {
      constructor(url: string) {
        super(gate ? url : 'ws://127.0.0.1:1/ws');
      }
    }
    let connects = 0;
    const resets: string[][] = [];
    const client = connect({ url: `ws://127.0.0.1:${httpPort}/ws`, WebSocket: GatedWebSocket, initialDelayMs: 20, maxDelayMs: 100, onconnect: () => (connects += 1), onreset: (f) => resets.push(f) });
    clients.push(client);
    const got: unknown[] = [];
    await withTimeout(client.subscribe(topic, (m) => got.push(m.payload)).ready, 5000, 'subscribed');
    await publish(topic, ['1']);
    await waitUntil(() => got.length === 1, 5000, 'first');
    gate = false;
    await server.stop();
    server = await start();
    await publish(topic, ['2', '3', '4', '5']);
    gate = true;
    await waitUntil(() => connects === 2 && got.length >= 3, 5000, 'reconnected and replayed');
    assert.deepEqual(resets, [[topic]]);
    assert.deepEqual(got, ['1', '4', '5']);
  });

  test('served at /client/switchboard.js (a few KB gzipped) and exported as switchboard/client', async () => {
    const plain = await fetch(`http://127.0.0.1:${httpPort}/client/switchboard.js`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('content-type') ?? '', /^text\/javascript/);
    const text = await plain.text();
    assert.match(text, /export function connect/);
    assert.doesNotMatch(text, /sourceMappingURL/);
    const zipped = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`http://127.0.0.1:${httpPort}/client/switchboard.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          assert.equal(res.headers['content-encoding'], 'gzip');
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
        }).on('error', reject),
      );
    });
    assert.ok(zipped.length < 5 * 1024, `gzipped ${zipped.length} bytes`);
    assert.equal(gunzipSync(zipped).toString(), text);
    const types = await fetch(`http://127.0.0.1:${httpPort}/client/switchboard.d.ts`);
    assert.equal(types.status, 200);
    assert.match(await types.text(), /export declare function connect/);
    const exported = await import('switchboard/client');
    assert.equal(typeof exported.connect, 'function');
  });

  test('topic matching and backoff bounds', () => {
    assert.ok(matches('a/#', 'a'));
    assert.ok(matches('a/+/c', 'a/b/c'));
    assert.ok(!matches('a/+', 'a/b/c'));
    assert.ok(!matches('#', '$aws/events/x'));
    assert.ok(matches('$share/g/a/#', 'a/b'));
    for (let attempt = 1; attempt < 40; attempt++) {
      const d = backoff(attempt, 500, 30_000);
      const cap = Math.min(30_000, 500 * 2 ** (attempt - 1));
      assert.ok(d >= cap / 2 && d <= cap, `attempt ${attempt}: ${d}`);
    }
  });
});
