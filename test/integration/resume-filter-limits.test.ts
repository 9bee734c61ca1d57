// A resume replays history only for the filters its subscribe granted. A filter refused for a
// limit (limits.maxFiltersPerSubscribe, maxSubscriptionsPerConnection) was before still read from
// history and its past sent: a URL with thousands of `topic=` made one history read over all of them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
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
      limits: { maxFiltersPerSubscribe: 1 },
      history: [{ filter: 'chat/#', maxMessages: 100, maxAgeSeconds: 0 }],
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

describe('SSE resume and subscribe limits', () => {
  test('a filter refused for a limit gets no replay', async () => {
    const root = `chat/${uid('lim')}`;
    // History holds something, so the new stream's cursor (the history's head) is not empty.
    await pub.publishAsync(`${root}/z`, '0', { qos: 1 });
    const first = await SseReader.open(`http://${base}/events?topic=${encodeURIComponent(`${root}/a`)}`);
    open.push(() => first.close());
    await first.named('subscribed');
    const deadline = Date.now() + 5000;
    while (first.lastId === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(first.lastId, '', 'the stream was given its cursor');
    first.close();
    await pub.publishAsync(`${root}/a`, '1', { qos: 1 });
    await pub.publishAsync(`${root}/b`, '2', { qos: 1 });
    const url = `http://${base}/events?topic=${encodeURIComponent(`${root}/a`)}&topic=${encodeURIComponent(`${root}/b`)}`;
    const again = await SseReader.open(url, { headers: { 'last-event-id': first.lastId } });
    open.push(() => again.close());
    const results = JSON.parse((await again.named('subscribed')).data).results;
    assert.equal(results[1].code, 'limit');
    assert.equal(JSON.parse((await again.named('message')).data).payload, '1');
    // Replay comes before live: the next message is the live one, not root/b's past.
    await pub.publishAsync(`${root}/a`, '3', { qos: 1 });
    assert.equal(JSON.parse((await again.named('message')).data).payload, '3');
  });
});
