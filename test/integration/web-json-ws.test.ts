// JSON over a plain WebSocket (/ws) end to end on real sockets: a server in this process, the `ws`
// package as the browser's WebSocket, MQTT.js and mosquitto_pub/sub on the other side.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { JsonWs, openJson } from '../helpers/json-ws.js';
import { uid, withTimeout } from '../helpers/clients.js';

const run = promisify(execFile);
let server: RunningServer;
let wsBase: string;
let mqttUrl: string;
let httpUrl: string;
const open: { end(): unknown }[] = [];

before(async () => {
  server = await startInProcessServer({ mqtt: true });
  const e = endpointsOf(server);
  wsBase = e.httpUrl.replace('http:', 'ws:') + '/ws';
  mqttUrl = e.mqttUrl;
  httpUrl = e.httpUrl;
});
after(async () => {
  for (const c of open) c.end();
  await server.stop();
});

async function json(query = ''): Promise<{ client: JsonWs; clientId: string }> {
  const { client, connected } = await openJson(query ? `${wsBase}?${query}` : wsBase);
  assert.equal(connected.type, 'connected', JSON.stringify(connected));
  open.push({ end: () => client.close() });
  return { client, clientId: String(connected.clientId) };
}

async function mqttClient(opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
  open.push({ end: () => c.end(true) });
  return c;
}

describe('connect', () => {
  test('an unnamed client is assigned an ID and told it, with the limits', async () => {
    const { client, clientId } = await json();
    assert.match(clientId, /^sb-[0-9a-f]{24}$/);
    const c = client.frames;
    assert.equal(c.length, 0);
    const pong = await client.call({ type: 'ping' });
    assert.equal(pong.type, 'pong');
  });

  test('clientId and initial subscribe= filters come from the URL; + stays a wildcard', async () => {
    const root = uid('u');
    const { client, clientId } = await json(`clientId=${root}-c&subscribe=${encodeURIComponent(`${root}/+/x`)}&subscribe=${root}/%23`);
    assert.equal(clientId, `${root}-c`);
    const answer = await client.type('subscribed');
    assert.deepEqual(answer.results, [
      { filter: `${root}/+/x`, ok: true },
      { filter: `${root}/#`, ok: true },
    ]);
    const pub = await mqttClient();
    await pub.publishAsync(`${root}/a/x`, '{"n":1}');
    const m = await client.type('message');
    assert.deepEqual(m, { type: 'message', topic: `${root}/a/x`, payload: { n: 1 }, encoding: 'json' });
    // One delivery for overlapping filters, as MQTT.
    await pub.publishAsync(`${root}/end`, 'end');
    assert.equal((await client.type('message')).topic, `${root}/end`);
  });

  test('the admin listing and /metrics name the protocol', async () => {
    const { clientId } = await json(`clientId=${uid('listed')}`);
    const list = (await (await fetch(`${httpUrl}/api/connections?q=${clientId}`)).json()) as { connections: { clientId: string; protocol: string; transport: string }[] };
    assert.equal(list.connections.length, 1);
    assert.equal(list.connections[0]!.protocol, 'json');
    assert.equal(list.connections[0]!.transport, 'ws');
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    assert.match(metrics, /switchboard_connected_clients_by_protocol\{protocol="json"\} [1-9]/);
  });
});

describe('messages both ways with MQTT clients', () => {
  test('payloads arrive as JSON, text or base64, with the MQTT 5 properties a web app uses', async () => {
    const root = uid('p');
    const { client } = await json(`subscribe=${root}/%23`);
    await client.type('subscribed');
    const pub = await mqttClient();
    await pub.publishAsync(`${root}/json`, JSON.stringify({ a: [1, 2], s: 'x' }), {
      properties: { contentType: 'application/json', userProperties: { k: 'v', many: ['1', '2'] }, responseTopic: `${root}/reply`, correlationData: Buffer.from([1, 2, 3]) },
    });
    await pub.publishAsync(`${root}/text`, 'hello world');
    await pub.publishAsync(`${root}/bin`, Buffer.from([0xff, 0x00, 0xfe]));
    const j = await client.next((f) => f.topic === `${root}/json`);
    assert.deepEqual(j, {
      type: 'message',
      topic: `${root}/json`,
      payload: { a: [1, 2], s: 'x' },
      encoding: 'json',
      contentType: 'application/json',
      responseTopic: `${root}/reply`,
      correlationData: Buffer.from([1, 2, 3]).toString('base64'),
      userProperties: { k: 'v', many: ['1', '2'] },
    });
    const t = await client.next((f) => f.topic === `${root}/text`);
    assert.equal(t.payload, 'hello world');
    assert.equal(t.encoding, 'text');
    const b = await client.next((f) => f.topic === `${root}/bin`);
    assert.equal(b.encoding, 'base64');
    assert.deepEqual(Buffer.from(String(b.payload), 'base64'), Buffer.from([0xff, 0x00, 0xfe]));
  });

  test('a JSON publish reaches MQTT.js with its properties; with an id it is acknowledged', async () => {
    const root = uid('q');
    const sub = await mqttClient();
    await sub.subscribeAsync(`${root}/#`);
    const got: mqtt.IPublishPacket[] = [];
    sub.on('message', (_t, _p, packet) => got.push(packet));
    const { client } = await json();
    client.send({ type: 'publish', topic: `${root}/a`, payload: { hello: 'mqtt' }, userProperties: { from: 'browser' }, responseTopic: `${root}/r`, correlationData: 'AQI=' });
    const ack = await client.call({ type: 'publish', topic: `${root}/b`, payload: 'plain text' });
    assert.equal(ack.type, 'puback');
    client.send({ type: 'publish', topic: `${root}/c`, payload: '/wA=', encoding: 'base64' });
    const deadline = Date.now() + 5000;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 3);
    assert.equal(got[0]!.payload.toString(), '{"hello":"mqtt"}');
    assert.equal(got[0]!.properties?.contentType, 'application/json');
    assert.deepEqual({ ...got[0]!.properties?.userProperties }, { from: 'browser' });
    assert.equal(got[0]!.properties?.responseTopic, `${root}/r`);
    assert.deepEqual(got[0]!.properties?.correlationData, Buffer.from([1, 2]));
    assert.equal(got[1]!.payload.toString(), 'plain text');
    assert.deepEqual(got[2]!.payload, Buffer.from([0xff, 0x00]));
  });

  test('retained messages follow the subscribed answer, marked retain', async () => {
    const root = uid('ret');
    const pub = await mqttClient();
    await pub.publishAsync(`${root}/state`, '{"on":true}', { retain: true, qos: 1 });
    const { client } = await json();
    const answer = await client.call({ type: 'subscribe', filters: [`${root}/#`] });
    assert.deepEqual(answer.results, [{ filter: `${root}/#`, ok: true }]);
    const m = await client.type('message');
    assert.deepEqual(m, { type: 'message', topic: `${root}/state`, payload: { on: true }, encoding: 'json', retain: true });
    // Subscribing again sends no second copy (Retain Handling 1): a repeated subscribe costs its answer only.
    await client.call({ type: 'subscribe', filters: [`${root}/#`] });
    await client.call({ type: 'ping' });
    assert.equal(client.frames.filter((f) => f.type === 'message').length, 0);
  });

  test('since on a server without history: live messages only, and the answer says so', async () => {
    const { client } = await json();
    const answer = await client.call({ type: 'subscribe', filters: ['nohist/#'], since: 'abc-1' });
    assert.equal(answer.type, 'subscribed');
    assert.match(String(answer.note), /no history/);
  });

  test('mosquitto_pub reaches a JSON client; a JSON publish reaches mosquitto_sub', async () => {
    const root = uid('mosq');
    const port = new URL(mqttUrl).port;
    const { client } = await json(`subscribe=${root}/in`);
    await client.type('subscribed');
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', `${root}/in`, '-m', '[1,2,3]', '-V', 'mqttv5']);
    assert.deepEqual((await client.type('message')).payload, [1, 2, 3]);
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', `${root}/out`, '-C', '1', '-W', '5', '-i', `${root}-sub`]);
    // mosquitto_sub is subscribed once its session shows up in the broker.
    const deadline = Date.now() + 5000;
    while (!server.broker.sessions.get(`${root}-sub`)?.subscriptions.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    client.send({ type: 'publish', topic: `${root}/out`, payload: 'from the browser' });
    const { stdout } = await sub;
    assert.equal(stdout.trim(), 'from the browser');
  });
});

describe('mistakes are answered, the socket stays open', () => {
  test('not JSON, not an object, unknown type, wrong field types, unknown fields', async () => {
    const { client } = await json();
    const cases: [unknown, string][] = [
      ['{not json', 'bad-json'],
      ['[1,2]', 'bad-frame'],
      [{ type: 'shout' }, 'unknown-type'],
      [{ type: 7 }, 'bad-field'],
      [{ type: 'subscribe', filters: 'a/b' }, 'bad-field'],
      [{ type: 'subscribe', filters: [] }, 'bad-field'],
      [{ type: 'subscribe', filters: [3] }, 'bad-field'],
      [{ type: 'publish', topic: 5 }, 'bad-field'],
      [{ type: 'publish', topic: 'a', retain: 'yes' }, 'bad-field'],
      [{ type: 'publish', topic: 'a', payload: '%%%', encoding: 'base64' }, 'bad-field'],
      [{ type: 'publish', topic: 'a', retian: true }, 'unknown-field'],
      [{ type: 'publish', topic: 'a/+' }, 'invalid-topic'],
      [{ type: 'publish', topic: '$SYS/x' }, 'not-authorized'],
    ];
    for (const [frame, code] of cases) {
      client.send(frame);
      const e = await client.type('error');
      assert.equal(e.code, code, `${JSON.stringify(frame)} -> ${JSON.stringify(e)}`);
      assert.equal(typeof e.message, 'string');
    }
    // The error echoes the request's id when it could be read.
    const e = await client.call({ type: 'publish', topic: '' });
    assert.equal(e.type, 'error');
    assert.equal(e.code, 'bad-field');
    assert.equal((await client.call({ type: 'ping' })).type, 'pong');
    assert.equal(client.closed, null);
  });

  test('an oversize message is refused and skipped; one past the hard bound closes (1009)', async () => {
    const { client, connected } = await (async () => {
      const r = await openJson(wsBase);
      open.push({ end: () => r.client.close() });
      return r;
    })();
    const limit = (connected.limits as { maxMessageBytes: number }).maxMessageBytes;
    client.send({ type: 'publish', topic: 'big', payload: 'x'.repeat(limit + 10) });
    const e = await client.type('error');
    assert.equal(e.code, 'too-large');
    assert.equal((await client.call({ type: 'ping' })).type, 'pong');
    // The hard bound: 4x the limit, and at least the /mqtt frame bound (1 MiB by default).
    client.send('x'.repeat(Math.max(limit * 4, 1 << 20) + 10));
    const closed = await client.waitClosed();
    assert.equal(closed.code, 1009);
  });

  test('a subscribe flood: filters per message and subscriptions per connection are bounded', async () => {
    const { client } = await json();
    const limits = server.broker.limits;
    const many = Array.from({ length: limits.maxFiltersPerSubscribe + 2 }, (_, i) => `flood/${i}`);
    const answer = (await client.call({ type: 'subscribe', filters: many })) as unknown as { results: { ok: boolean; code?: string }[] };
    const refused = answer.results.filter((r) => !r.ok);
    assert.ok(refused.length >= 2);
    assert.ok(refused.every((r) => r.code === 'limit'));
    assert.ok(server.broker.sessions.size > 0);
    // 2,000 subscribe messages as fast as they can be sent: every one answered, the socket still open.
    for (let i = 0; i < 2000; i++) client.send({ type: 'subscribe', filters: [`flood/x${i % 10}`], id: i });
    for (let i = 0; i < 2000; i++) await client.next((f) => f.id === i, 10_000, `answer ${i}`);
    assert.equal(client.closed, null);
  });
});

describe('fuzz over the socket', () => {
  test('seeded mutations of valid frames from several connections: refusals only, every socket still answers', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    let a = seed >>> 0;
    const rnd = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const valid = [
      '{"type":"subscribe","filters":["fz/+","fz/#"],"id":1}',
      '{"type":"unsubscribe","filters":["fz/#"]}',
      '{"type":"publish","topic":"fz/a","payload":{"t":[1,2]},"id":"p","userProperties":{"k":"v"},"correlationData":"AQI="}',
      '{"type":"publish","topic":"fz/b","payload":"aGk=","encoding":"base64","retain":true}',
      '{"type":"ping","id":3}',
    ];
    const failures = server.counters.deliveryFailures;
    const conns = await Promise.all([1, 2, 3, 4].map(() => json()));
    for (let i = 0; i < 2000; i++) {
      let text = valid[Math.floor(rnd() * valid.length)]!;
      for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
        const at = Math.floor(rnd() * text.length);
        const op = rnd();
        const junk = ['"', '{', '}', '[', ']', ',', ':', '\\', '0', '-1e999', 'null', '+', '#', '$', '\u0000', 'é', ''][Math.floor(rnd() * 17)]!;
        text = op < 0.4 ? text.slice(0, at) + junk + text.slice(at + 1) : op < 0.7 ? text.slice(0, at) + junk + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + Math.floor(rnd() * 8));
      }
      conns[i % conns.length]!.client.send(text);
    }
    for (const { client } of conns) {
      assert.equal((await client.call({ type: 'ping' }, 10_000)).type, 'pong', `seed ${seed}`);
      assert.equal(client.closed, null, `seed ${seed}`);
      const unexpected = client.frames.filter((f) => f.type === 'error' && !['bad-json', 'bad-frame', 'unknown-type', 'bad-field', 'unknown-field', 'invalid-topic', 'not-authorized', 'too-large', 'limit'].includes(String(f.code)));
      assert.deepEqual(unexpected, [], `seed ${seed}`);
    }
    assert.equal(server.counters.deliveryFailures, failures, `seed ${seed}: an internal error`);
  });
});

describe('bounded memory', () => {
  test('a JSON client that stops reading loses messages (counted), never the server memory', async () => {
    const root = uid('slow');
    const { client, clientId } = await json(`subscribe=${root}`);
    await client.type('subscribed');
    // Stop reading: the kernel buffers fill, then the server's outbound buffer.
    const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const pub = await mqttClient();
    const dropped = server.counters.qos0Dropped;
    const payload = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 800; i++) pub.publish(root, payload);
    await pub.publishAsync(root, 'last', { qos: 1 });
    const web = [...server.clients.all()].find((c) => c.details().clientId === clientId)!;
    const limits = server.broker.limits;
    assert.ok(server.counters.qos0Dropped > dropped, 'messages were dropped for the slow reader');
    // Over the bound by at most one message (the check is made before each write).
    const buffered = (web as unknown as { connection: { bufferedBytes(): number } }).connection.bufferedBytes();
    assert.ok(buffered <= limits.maxOutboundBufferBytes + 20 * 1024 + 4096, `buffered ${buffered}`);
    socket.resume();
    assert.equal((await client.call({ type: 'ping' }, 10_000)).type, 'pong');
  });
});

describe('sessions across protocols', () => {
  test('a JSON client takes over an MQTT client ID, and an MQTT client takes it back', async () => {
    const id = uid('take');
    const m = await mqttClient({ clientId: id });
    const gone = new Promise<number | undefined>((resolve) => m.once('disconnect', (p) => resolve(p.reasonCode)));
    const { client } = await json(`clientId=${id}`);
    assert.equal(await withTimeout(gone, 5000, 'MQTT takeover'), 0x8e);
    const m2 = await mqttClient({ clientId: id });
    const bye = await client.type('disconnect');
    assert.equal(bye.code, 'session-taken-over');
    assert.equal((await client.waitClosed()).code, 1000);
    assert.ok(m2.connected);
  });

  test('presence events name the JSON client with AWS fields', async () => {
    const id = uid('presence');
    const watcher = await mqttClient();
    const events: Record<string, unknown>[] = [];
    watcher.on('message', (_t, p) => events.push(JSON.parse(p.toString())));
    await watcher.subscribeAsync(`$aws/events/presence/+/${id}`);
    const { client } = await json(`clientId=${id}`);
    client.close();
    const deadline = Date.now() + 5000;
    while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(events[0]!.eventType, 'connected');
    assert.equal(events[0]!.clientId, id);
    assert.equal(events[1]!.eventType, 'disconnected');
    assert.equal(events[1]!.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
    for (const k of ['principalIdentifier', 'sessionIdentifier', 'versionNumber', 'timestamp', 'ipAddress']) assert.ok(k in events[0]!, k);
    // The protocol is named (an extra field; MQTT clients' events stay AWS's field for field).
    assert.equal(events[0]!.protocol, 'json');
    assert.equal(events[1]!.protocol, 'json');
  });
});
