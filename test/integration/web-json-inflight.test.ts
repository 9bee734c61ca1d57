// JSON over WebSocket: publishes with an `id` awaiting their puback are bounded per connection by
// limits.maxInflightMessages, as MQTT's Receive Maximum bounds a client's unacknowledged QoS 2;
// past it a publish is refused with a `limit` error, never queued. A SQLite store whose group
// commit waits 300 ms keeps the acknowledgements pending long enough to see the bound.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openJson, type Frame } from '../helpers/json-ws.js';
import { uid } from '../helpers/clients.js';

let server: RunningServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-json-inflight-'));
  server = await startServer(
    validateConfig({
      listeners: { http: { host: '127.0.0.1', port: 0 }, mqtt: false },
      store: { type: 'sqlite', path: dir, commitDelayMs: 300 },
      log: { level: 'silent' },
      limits: { maxInflightMessages: 5 },
    }),
  );
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('more than maxInflightMessages publishes awaiting their puback: the excess is refused with `limit`, the rest acknowledged', async () => {
  const { client, connected } = await openJson(`ws://127.0.0.1:${server.httpPort}/ws`);
  assert.equal(connected.type, 'connected');
  try {
    const topic = uid('inflight');
    // Retained, so each publish is a store write whose commit (300 ms away) its puback waits for.
    for (let i = 1; i <= 8; i++) client.send({ type: 'publish', topic: `${topic}/${i}`, payload: i, retain: true, id: `p${i}` });
    const answers: Frame[] = [];
    while (answers.length < 8) answers.push(await client.next((f) => f.type === 'puback' || f.type === 'error', 5000, 'a puback or an error'));
    const refused = answers.filter((f) => f.type === 'error').map((f) => [f.id, f.code]);
    const acked = answers.filter((f) => f.type === 'puback').map((f) => f.id);
    assert.deepEqual(refused, [['p6', 'limit'], ['p7', 'limit'], ['p8', 'limit']]);
    assert.deepEqual(acked, ['p1', 'p2', 'p3', 'p4', 'p5']);
    // Once acknowledged, the window is free again.
    client.send({ type: 'publish', topic: `${topic}/9`, payload: 9, id: 'p9' });
    const next = await client.next((f) => f.id === 'p9', 5000, 'the answer to p9');
    assert.equal(next.type, 'puback');
  } finally {
    client.close();
  }
});
