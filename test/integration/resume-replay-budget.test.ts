// A replay is written to the socket at once, so it is held to the budget a connection may have
// queued before it counts as a slow consumer (limits.slowConsumerBytes): a client that resumes from
// an old cursor and then never reads holds no more memory than a live one. Before, every resume
// could queue 8 MiB of payload whatever the limits said. Past the budget the client hears `reset`
// and gets the newest messages that fit. A server in this process, memory store, MQTT.js publishes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openJson, type Frame } from '../helpers/json-ws.js';
import { uid } from '../helpers/clients.js';

const PAYLOAD = 2000;
const BUDGET = 8192; // four payloads fit, the fifth does not

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
      limits: { outboundPauseReadBytes: 4096, slowConsumerBytes: BUDGET },
      history: [{ filter: 'big/#', maxMessages: 100, maxAgeSeconds: 0 }],
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

describe('resume and the outbound budget', () => {
  test('missed payloads beyond limits.slowConsumerBytes: reset, then the newest that fit, in order', async () => {
    const root = `big/${uid('r')}`;
    const first = await openJson(`ws://${base}/ws`);
    open.push(() => first.client.close());
    await first.client.call({ type: 'subscribe', filters: [root] });
    await pub.publishAsync(root, 'seen', { qos: 1 });
    const seen = await first.client.type('message');
    first.client.close();
    for (let i = 0; i < 10; i++) await pub.publishAsync(root, `${i}`.padEnd(PAYLOAD, '.'), { qos: 1 });
    const again = await openJson(`ws://${base}/ws`);
    open.push(() => again.client.close());
    await again.client.call({ type: 'subscribe', filters: [root], since: seen.id });
    const reset = await again.client.type('reset');
    assert.deepEqual(reset.filters, [root]);
    const got: Frame[] = [];
    for (let i = 0; i < 4; i++) got.push(await again.client.type('message'));
    assert.deepEqual(got.map((f) => String(f.payload)[0]), ['6', '7', '8', '9']);
    await again.client.call({ type: 'ping' });
    assert.equal(again.client.frames.filter((f) => f.type === 'message').length, 0, 'nothing more was replayed');
  });
});
