// JSON over WebSocket and SSE in a two-node cluster: a real redis-server on loopback and two
// Switchboard processes (the compiled server: npm run build). A JSON client on one node, an SSE
// client on the other, MQTT.js beside them; client IDs are claimed across nodes and protocols.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, uid } from '../../helpers/clients.js';
import { openJson } from '../../helpers/json-ws.js';
import { SseReader } from '../../helpers/sse.js';

let redis: RedisServer;
let n1: TestServer;
let n2: TestServer;
const open: (() => unknown)[] = [];

before(async () => {
  redis = await startRedis({});
  const prefix = `web-${process.pid}:`;
  const node = () => startServer({ args: ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`, '--set', 'cluster.nodeTimeoutSeconds=2'] });
  n1 = await node();
  n2 = await node();
});
after(async () => {
  for (const f of open) f();
  await closeAllClients();
  await stopAllServers();
  await redis?.stop();
});

const wsUrl = (n: TestServer, q = '') => `${n.httpUrl.replace('http:', 'ws:')}/ws${q ? '?' + q : ''}`;

test('a JSON client on node 1 and an SSE client on node 2 see each other and MQTT', async () => {
  const root = uid('cl');
  const { client } = await openJson(wsUrl(n1, `subscribe=${root}/%23`));
  open.push(() => client.close());
  await client.type('subscribed');
  const sse = await SseReader.open(`${n2.httpUrl}/events?topic=${encodeURIComponent(`${root}/#`)}`);
  open.push(() => sse.close());
  await sse.named('subscribed');

  assert.equal((await client.call({ type: 'publish', topic: `${root}/from-json`, payload: { n: 1 } })).type, 'puback');
  assert.deepEqual(JSON.parse((await sse.named('message')).data).payload, { n: 1 });

  const pub = await connectClient(n2, { protocolVersion: 5 });
  await pub.client.publishAsync(`${root}/from-mqtt`, '{"n":2}', { qos: 1 });
  const fromMqtt = await client.next((f) => f.type === 'message' && f.topic === `${root}/from-mqtt`);
  assert.deepEqual(fromMqtt.payload, { n: 2 });
  assert.deepEqual(JSON.parse((await sse.next((e) => e.data.includes('from-mqtt'))).data).payload, { n: 2 });
});

test('a client ID is taken over across nodes and protocols', async () => {
  const id = uid('twice');
  const { client } = await openJson(wsUrl(n1, `clientId=${id}`));
  open.push(() => client.close());
  const sse = await SseReader.open(`${n2.httpUrl}/events?clientId=${id}`);
  open.push(() => sse.close());
  await sse.named('connected');
  const bye = await client.type('disconnect', 10_000);
  assert.equal(bye.code, 'session-taken-over');
});
