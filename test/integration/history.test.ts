// Per-topic history over the real server: messages published by MQTT.js (TCP and WebSocket) and
// the HTTP API on a kept topic are read back with GET /history/{topic}, with ids a later `since`
// resumes from; the server restarted on the same SQLite database still has them (ids, order, and
// a sequence that goes on above them); bounds apply; uncovered topics and bad cursors are refused;
// and the route is authorized like receiving (iot:Receive).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startServer, type TestServer } from '../helpers/server.js';
import { withTimeout } from '../helpers/clients.js';

interface HistoryAnswer {
  topic: string;
  messages: { id: string; payload: string; qos: number; receivedAt: number; contentType?: string; userProperties?: Record<string, string | string[]> }[];
  reset: boolean;
  truncated: boolean;
  cursor: string;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-history-it-'));
  dirs.push(dir);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: { type: 'sqlite', path: join(dir, 'data') },
      log: { level: 'info' },
      history: [
        { filter: 'sensors/#', maxMessages: 5, maxAgeSeconds: 3600 },
        { filter: 'chat/+', maxMessages: 100, maxAgeSeconds: 0 },
      ],
      ...extra,
    }),
  );
  return file;
}

async function publishMqtt(url: string, messages: { topic: string; payload: string; qos?: 0 | 1; properties?: mqtt.IClientPublishOptions['properties'] }[], version: 4 | 5 = 5): Promise<void> {
  const client = await withTimeout(mqtt.connectAsync(url, { protocolVersion: version, reconnectPeriod: 0, connectTimeout: 5000 }), 10_000, 'connect');
  try {
    // QoS 1: the PUBACK says the server has the message; history is written before delivery.
    for (const m of messages) await withTimeout(client.publishAsync(m.topic, m.payload, { qos: m.qos ?? 1, ...(m.properties ? { properties: m.properties } : {}) }), 10_000, 'publish');
  } finally {
    await client.endAsync();
  }
}

async function history(server: TestServer, topic: string, query = ''): Promise<{ status: number; body: HistoryAnswer & { message?: string } }> {
  const res = await fetch(`${server.httpUrl}/history/${encodeURIComponent(topic)}${query}`);
  return { status: res.status, body: (await res.json()) as HistoryAnswer & { message?: string } };
}

const payloads = (a: HistoryAnswer) => a.messages.map((m) => Buffer.from(m.payload, 'base64').toString());

describe('history over the real server (SQLite)', () => {
  it('MQTT (TCP, WebSocket) and HTTP publishes are kept with ids; since resumes; a restart keeps them', async () => {
    const file = config();
    let server = await startServer({ configFile: file, keepStore: true });
    try {
      await publishMqtt(server.mqttUrl, [
        { topic: 'chat/room1', payload: 'hello', properties: { contentType: 'text/plain', userProperties: { lang: 'en' } } },
        { topic: 'chat/room2', payload: 'elsewhere' },
      ]);
      await publishMqtt(server.wsUrl, [{ topic: 'chat/room1', payload: 'over websocket', qos: 0 }], 4);
      const posted = await fetch(`${server.httpUrl}/topics/chat%2Froom1?qos=1`, { method: 'POST', body: 'over http' });
      assert.equal(posted.status, 200);

      // QoS 0 over WebSocket has no acknowledgement: the read is bounded by its own wait.
      let first = await history(server, 'chat/room1');
      for (let i = 0; i < 50 && first.body.messages.length < 3; i++) first = await history(server, 'chat/room1');
      assert.equal(first.status, 200);
      assert.deepEqual(payloads(first.body), ['hello', 'over websocket', 'over http']);
      assert.equal(first.body.reset, false);
      assert.equal(first.body.messages[0]!.contentType, 'text/plain');
      assert.deepEqual(first.body.messages[0]!.userProperties, { lang: 'en' });
      const ids = first.body.messages.map((m) => m.id);
      assert.equal(new Set(ids).size, 3);
      const seqs = ids.map((id) => Number(id.split('-')[1]));
      assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `ids in order: ${ids}`);
      assert.equal(first.body.cursor, ids[2]);

      const since = await history(server, 'chat/room1', `?since=${ids[0]}`);
      assert.deepEqual(payloads(since.body), ['over websocket', 'over http']);
      const limited = await history(server, 'chat/room1', '?limit=1');
      assert.deepEqual(payloads(limited.body), ['over http']);
      assert.equal(limited.body.truncated, true);

      await server.stop();
      server = await startServer({ configFile: file, keepStore: true });
      const again = await history(server, 'chat/room1');
      assert.deepEqual(again.body.messages.map((m) => m.id), ids, 'the same messages with the same ids after a restart');
      await publishMqtt(server.mqttUrl, [{ topic: 'chat/room1', payload: 'after restart' }]);
      const resumed = await history(server, 'chat/room1', `?since=${ids[2]}`);
      assert.deepEqual(payloads(resumed.body), ['after restart']);
      assert.equal(resumed.body.reset, false);
      assert.ok(Number(resumed.body.messages[0]!.id.split('-')[1]) > seqs[2]!, 'the sequence continues above what was handed out');
    } finally {
      await server.stop();
    }
  });

  it('maxMessages per topic; a since older than what is kept is a reset', async () => {
    const server = await startServer({ configFile: config(), keepStore: true });
    try {
      await publishMqtt(server.mqttUrl, Array.from({ length: 8 }, (_, i) => ({ topic: 'sensors/t1', payload: String(i) })));
      const page = await history(server, 'sensors/t1');
      assert.deepEqual(payloads(page.body), ['3', '4', '5', '6', '7']);
      const origin = page.body.messages[0]!.id.split('-')[0]!;
      const stale = await history(server, 'sensors/t1', `?since=${origin}-1`);
      assert.equal(stale.body.reset, true);
      assert.deepEqual(payloads(stale.body), ['3', '4', '5', '6', '7']);
    } finally {
      await server.stop();
    }
  });

  it('a topic no rule covers is 404; a bad cursor or topic is 400', async () => {
    const server = await startServer({ configFile: config(), keepStore: true });
    try {
      assert.equal((await history(server, 'not/kept')).status, 404);
      assert.equal((await history(server, 'chat/room1', '?since=NOT-A-CURSOR')).status, 400);
      assert.equal((await history(server, 'chat/room1', '?limit=0')).status, 400);
      assert.equal((await history(server, 'chat/+')).status, 400);
    } finally {
      await server.stop();
    }
  });

  it('GET /history is authorized like receiving: iot:Receive on the topic', async () => {
    // Anonymous callers get the unauthenticated policy: receive chat/open only.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish'], Resource: '*' },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:us-east-1:123456789012:topic/chat/open' },
      ],
    };
    const server = await startServer({ configFile: config({ auth: { unauthenticatedPolicy: policy } }), keepStore: true });
    try {
      await publishMqtt(server.mqttUrl, [
        { topic: 'chat/open', payload: 'ok' },
        { topic: 'chat/closed', payload: 'secret' },
      ]);
      const open = await history(server, 'chat/open');
      assert.equal(open.status, 200);
      assert.deepEqual(payloads(open.body), ['ok']);
      assert.equal((await history(server, 'chat/closed')).status, 403);
    } finally {
      await server.stop();
    }
  });
});

describe('history with store.type memory', () => {
  it('is kept in memory, and the server says history is lost at restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-history-mem-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ store: { type: 'memory' }, history: [{ filter: 'a/#', maxMessages: 10, maxAgeSeconds: 0 }] }));
    const server = await startServer({ configFile: file, keepStore: true });
    try {
      await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('history is kept in memory'), 5000);
      await publishMqtt(server.mqttUrl, [{ topic: 'a/b', payload: 'x' }]);
      assert.deepEqual(payloads((await history(server, 'a/b')).body), ['x']);
    } finally {
      await server.stop();
    }
  });
});
