// Resume without loss on the browser front-ends (docs/websocket-json.md "Resume", docs/history.md):
// a JSON WebSocket client that comes back with `since`, and an event stream that comes back with
// Last-Event-ID, first get what they missed, in order, then live messages, nothing twice; when
// history no longer reaches back that far they are told (`reset`). A server in this process with
// `history` rules on the memory store; MQTT.js publishes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openJson, type Frame } from '../helpers/json-ws.js';
import { SseReader } from '../helpers/sse.js';
import { uid } from '../helpers/clients.js';

let server: RunningServer;
let base: string;
let pub: mqtt.MqttClient;
const open: (() => unknown)[] = [];

before(async () => {
  server = await startServer(
    validateConfig({
      listeners: { http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 } },
      store: { type: 'memory' },
      log: { level: 'silent' },
      history: [
        { filter: 'chat/#', maxMessages: 100, maxAgeSeconds: 0 },
        { filter: 'small/#', maxMessages: 3, maxAgeSeconds: 0 },
      ],
    }),
  );
  base = `127.0.0.1:${server.httpPort}`;
  pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 });
});
after(async () => {
  for (const f of open) f();
  pub.end(true);
  await server.stop();
});

async function publish(topic: string, payloads: string[]): Promise<void> {
  for (const p of payloads) await pub.publishAsync(topic, p, { qos: 1 });
}

async function json(q: string) {
  const r = await openJson(`ws://${base}/ws?${q}`);
  open.push(() => r.client.close());
  assert.equal(r.connected.type, 'connected', JSON.stringify(r.connected));
  return r.client;
}

const messages = (frames: Frame[]) => frames.filter((f) => f.type === 'message').map((f) => f.payload);

describe('JSON over WebSocket: since', () => {
  test('what was missed, in order, then live, nothing twice', async () => {
    const root = `chat/${uid('r')}`;
    const first = await json('');
    await first.call({ type: 'subscribe', filters: [`${root}/#`] });
    await publish(`${root}/a`, ['1', '2']);
    const got1 = await first.next((f) => f.type === 'message' && f.payload === '1');
    const got2 = await first.next((f) => f.type === 'message' && f.payload === '2');
    assert.equal(typeof got1.id, 'string');
    assert.notEqual(got1.id, got2.id);
    first.close();
    await first.waitClosed();
    // Missed while away, on two topics under the filter.
    await publish(`${root}/a`, ['3']);
    await publish(`${root}/b`, ['4', '5']);
    const again = await json('');
    const answer = await again.call({ type: 'subscribe', filters: [`${root}/#`], since: got2.id });
    assert.deepEqual(answer.results, [{ filter: `${root}/#`, ok: true }]);
    for (const p of ['3', '4', '5']) assert.equal((await again.type('message')).payload, p);
    await publish(`${root}/a`, ['6']);
    assert.equal((await again.type('message')).payload, '6');
    await again.call({ type: 'ping' });
    assert.deepEqual(messages(again.frames), [], 'nothing twice');
  });

  test('history that no longer reaches back is a reset, then what is kept', async () => {
    const root = `small/${uid('r')}`;
    const c = await json('');
    await c.call({ type: 'subscribe', filters: [root] });
    await publish(root, ['a']);
    const seen = await c.type('message');
    c.close();
    await publish(root, ['b', 'c', 'd', 'e']);
    const again = await json('');
    await again.call({ type: 'subscribe', filters: [root], since: seen.id });
    const reset = await again.type('reset');
    assert.deepEqual(reset.filters, [root]);
    for (const p of ['c', 'd', 'e']) assert.equal((await again.type('message')).payload, p);
  });

  test('a since that is not an id is refused with the reason; the socket stays open', async () => {
    const c = await json('');
    const e = await c.call({ type: 'subscribe', filters: ['chat/x'], since: 'NOT-AN-ID' });
    assert.equal(e.type, 'error');
    assert.equal(e.code, 'bad-field');
    assert.equal((await c.call({ type: 'ping' })).type, 'pong');
  });
});

describe('Server-Sent Events: Last-Event-ID', () => {
  test('events carry ids; a reconnect with Last-Event-ID gets what it missed, then live', async () => {
    const root = `chat/${uid('e')}`;
    const url = `http://${base}/events?topic=${encodeURIComponent(`${root}/#`)}`;
    const first = await SseReader.open(url);
    open.push(() => first.close());
    await first.named('subscribed');
    await publish(`${root}/x`, ['1', '2']);
    await first.named('message');
    const last = await first.named('message');
    assert.ok(last.id, 'the event has an id');
    first.close();
    await publish(`${root}/x`, ['3', '4']);
    const again = await SseReader.open(url, { headers: { 'last-event-id': last.id! } });
    open.push(() => again.close());
    await again.named('subscribed');
    const a = await again.named('message');
    const b = await again.named('message');
    assert.deepEqual([JSON.parse(a.data).payload, JSON.parse(b.data).payload], ['3', '4']);
    assert.ok(b.id && b.id !== last.id);
    await publish(`${root}/x`, ['5']);
    assert.equal(JSON.parse((await again.named('message')).data).payload, '5');
    assert.equal(again.events.filter((e) => e.event === 'message').length, 0);
  });

  test('a stream that received nothing yet is given its cursor: a reconnect gets what came after it connected', async () => {
    const root = `chat/${uid('quiet')}`;
    const url = `http://${base}/events?topic=${encodeURIComponent(`${root}/#`)}`;
    const first = await SseReader.open(url);
    open.push(() => first.close());
    await first.named('subscribed');
    const deadline = Date.now() + 5000;
    while (first.lastId === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(first.lastId, '', 'an id-only event set the last event ID');
    first.close();
    await publish(`${root}/x`, ['a', 'b']);
    const again = await SseReader.open(url, { headers: { 'last-event-id': first.lastId } });
    open.push(() => again.close());
    assert.equal(JSON.parse((await again.named('message')).data).payload, 'a');
    assert.equal(JSON.parse((await again.named('message')).data).payload, 'b');
  });

  test('a new stream on a kept topic gets its retained message marked retain (held while history is read, then sent)', async () => {
    const topic = `chat/${uid('ret')}`;
    await pub.publishAsync(topic, 'state', { qos: 1, retain: true });
    const stream = await SseReader.open(`http://${base}/events?topic=${encodeURIComponent(topic)}`);
    open.push(() => stream.close());
    const retained = JSON.parse((await stream.named('message')).data);
    assert.equal(retained.payload, 'state');
    assert.equal(retained.retain, true, JSON.stringify(retained));
    // A live publish after it is not a retained delivery.
    await publish(topic, ['live']);
    const live = JSON.parse((await stream.named('message')).data);
    assert.equal(live.payload, 'live');
    assert.equal(live.retain, undefined);
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
  });
});
