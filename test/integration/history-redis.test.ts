// Per-topic history on Redis over real servers and a private redis-server on a loopback port:
// with store.type redis it survives a restart of the server; in a two-node cluster what is
// published on either node is read back on the other, with ids from each node's origin, and a
// cursor naming both resumes with nothing twice, also after a node restarts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { REDIS_SERVER_BIN, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { withTimeout } from '../helpers/clients.js';

const NO_REDIS = existsSync(REDIS_SERVER_BIN) ? false : `${REDIS_SERVER_BIN} is not installed (run scripts/install-test-deps.sh)`;

interface HistoryAnswer {
  messages: { id: string; payload: string }[];
  reset: boolean;
  cursor: string;
}

let redis: RedisServer;
const dirs: string[] = [];
before(async () => {
  // AOF on: the outage test stops and starts Redis, and what it had must still be there.
  if (NO_REDIS === false) redis = await startRedis({ appendonly: true });
});
after(async () => {
  await redis?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configFile(body: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-history-redis-'));
  dirs.push(dir);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ log: { level: 'info' }, history: [{ filter: 'chat/#', maxMessages: 50, maxAgeSeconds: 0 }], ...body }));
  return file;
}

async function publish(server: TestServer, topic: string, payload: string): Promise<void> {
  const client = await withTimeout(mqtt.connectAsync(server.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 }), 10_000, 'connect');
  try {
    // QoS 1: the PUBACK waits for the store's commit, which holds the history append.
    await withTimeout(client.publishAsync(topic, payload, { qos: 1 }), 10_000, 'publish');
  } finally {
    await client.endAsync();
  }
}

async function read(server: TestServer, topic: string, since?: string): Promise<HistoryAnswer> {
  const res = await fetch(`${server.httpUrl}/history/${encodeURIComponent(topic)}${since !== undefined ? `?since=${since}` : ''}`);
  assert.equal(res.status, 200);
  return (await res.json()) as HistoryAnswer;
}

const texts = (a: HistoryAnswer) => a.messages.map((m) => Buffer.from(m.payload, 'base64').toString());

describe('history on Redis', { skip: NO_REDIS }, () => {
  it('store.type redis: kept across a restart of the server', async () => {
    const file = configFile({ store: { type: 'redis', url: redis.url, keyPrefix: 'hist-single:' } });
    let server = await startServer({ configFile: file, keepStore: true });
    try {
      await publish(server, 'chat/a', 'one');
      await publish(server, 'chat/a', 'two');
      const first = await read(server, 'chat/a');
      assert.deepEqual(texts(first), ['one', 'two']);
      await server.stop();
      server = await startServer({ configFile: file, keepStore: true });
      const again = await read(server, 'chat/a');
      assert.deepEqual(again.messages.map((m) => m.id), first.messages.map((m) => m.id));
      await publish(server, 'chat/a', 'three');
      const resumed = await read(server, 'chat/a', first.cursor);
      assert.deepEqual(texts(resumed), ['three']);
      assert.equal(resumed.reset, false, 'a cursor from the previous run is still understood');
    } finally {
      await server.stop();
    }
  });

  it('Redis unreachable: GET /history answers 503, and reads again once Redis is back', async () => {
    const file = configFile({ store: { type: 'redis', url: redis.url, keyPrefix: 'hist-outage:' } });
    const server = await startServer({ configFile: file, keepStore: true });
    const status = async () => (await fetch(`${server.httpUrl}/history/chat%2Fa`)).status;
    const until = async (want: number) => {
      const deadline = Date.now() + 10_000;
      let got = await status();
      while (got !== want && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        got = await status();
      }
      return got;
    };
    try {
      await publish(server, 'chat/a', 'one');
      await redis.stop();
      assert.equal(await until(503), 503);
      assert.ok(server.isAlive());
      await redis.start();
      assert.equal(await until(200), 200);
      assert.deepEqual(texts(await read(server, 'chat/a')), ['one']);
    } finally {
      await server.stop();
    }
  });

  it('a two-node cluster shares one history; a two-origin cursor resumes on either node', async () => {
    const file = configFile({ cluster: { redis: { url: redis.url, keyPrefix: 'hist-cluster:' }, nodeTimeoutSeconds: 2 } });
    const a = await startServer({ configFile: file, keepStore: true });
    let b = await startServer({ configFile: file, keepStore: true });
    try {
      await publish(a, 'chat/room', 'from a');
      await publish(b, 'chat/room', 'from b');
      const onA = await read(a, 'chat/room');
      const onB = await read(b, 'chat/room');
      assert.deepEqual(texts(onA), ['from a', 'from b']);
      assert.deepEqual(onB.messages.map((m) => m.id), onA.messages.map((m) => m.id));
      const origins = new Set(onA.messages.map((m) => m.id.split('-')[0]));
      assert.equal(origins.size, 2, 'each node stamps with its own origin');
      assert.equal(onA.cursor.split('_').length, 2);

      // A client that had both comes back through the other node after more were published.
      await publish(a, 'chat/room', 'later from a');
      const resumedOnB = await read(b, 'chat/room', onA.cursor);
      assert.deepEqual(texts(resumedOnB), ['later from a']);
      assert.equal(resumedOnB.reset, false);

      // Node b restarts (a new origin); the old cursor still resumes, nothing twice.
      await b.stop();
      b = await startServer({ configFile: file, keepStore: true });
      await publish(b, 'chat/room', 'after restart');
      const afterRestart = await read(b, 'chat/room', resumedOnB.cursor);
      assert.deepEqual(texts(afterRestart), ['after restart']);
      assert.equal(afterRestart.reset, false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
