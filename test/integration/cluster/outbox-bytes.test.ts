// The outbox a node keeps for another node while Redis is away is bounded by bytes too
// (cluster.outboxBytes): large QoS 1 messages past the bound give up the oldest (counted in
// switchboard_cluster_outbox_bytes_dropped_total and frames_lost_total, logged), and once Redis is
// back the kept ones and everything later are delivered. A publisher is never acknowledged for a
// message given up: v5 gets PUBACK 0x80 instead. Two nodes on a real redis-server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, sleep, subscriber, uid } from '../../helpers/clients.js';

let redis: RedisServer;

before(async () => {
  redis = await startRedis({ appendonly: true });
});

after(async () => {
  await closeAllClients();
  await stopAllServers();
  await redis?.stop();
});

async function metric(node: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

test('past cluster.outboxBytes the oldest held messages are given up (counted, logged) and the link carries on', async () => {
  const prefix = `ob-${process.pid}:`;
  // 64 KiB (the least allowed) and no count bound in reach: only bytes can overflow.
  const args = ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`, '--set', 'cluster.outboxBytes=65536', '--set', 'limits.maxQueuedMessagesPerSession=1000'];
  const n1 = await startServer({ args });
  const n2 = await startServer({ args });
  const topic = uid('big');
  const sub = await subscriber(n1, topic, 1);
  const pub = await connectClient(n2, { protocolVersion: 5 });
  await pub.client.publishAsync(topic, 'before', { qos: 1 });
  await sub.inbox.waitFor(1, 5_000);

  await redis.stop();
  await n2.waitForLog((l) => l.msg?.startsWith('lost the Redis backplane') === true, 10_000);
  // 20 messages of 8 KiB (160 KiB) while Redis is down; a QoS 0 fence after them (dropped and
  // counted, Redis being down) says when all were routed.
  const payload = (i: number) => `held${String(i).padStart(2, '0')}:`.padEnd(8192, 'x');
  const acks = Array.from({ length: 20 }, (_, i) =>
    pub.client.publishAsync(topic, payload(i), { qos: 1 }).then(
      () => 'acked',
      (err: Error & { code?: number }) => `refused ${err.code ?? err.message}`,
    ),
  );
  pub.client.publish(topic, 'fence', { qos: 0 });
  const deadline = Date.now() + 10_000;
  while ((await metric(n2, 'switchboard_cluster_frames_dropped_total')) < 1) {
    if (Date.now() > deadline) throw new Error('the QoS 0 fence was not counted within 10 s');
    await sleep(50);
  }
  const byBytes = await metric(n2, 'switchboard_cluster_outbox_bytes_dropped_total');
  // 64 KiB holds 7 frames of a little over 8 KiB: 13 given up ('before' may count too if its
  // acknowledgement had not reached n2 when Redis stopped).
  assert.ok(byBytes >= 13 && byBytes <= 14, `given up for bytes: ${byBytes}`);
  assert.ok((await metric(n2, 'switchboard_cluster_frames_lost_total')) >= byBytes);
  const warned = await n2.waitForLog((l) => l.msg?.startsWith('outbox to another node is full') === true, 5_000);
  assert.equal(warned.outboxBytes, 65536);

  await redis.start();
  for (const node of [n1, n2]) await node.waitForLog((l) => l.msg === 'the Redis backplane is back; cluster routing resumed', 15_000);
  await pub.client.publishAsync(topic, 'after', { qos: 1 });
  await sub.inbox.waitFor(9, 15_000, (m) => m.text === 'after' || m.text.startsWith('held') || m.text === 'before');
  const texts = sub.inbox.texts().map((t) => (t.startsWith('held') ? t.slice(0, 6) : t));
  assert.deepEqual(texts, ['before', ...Array.from({ length: 7 }, (_, i) => `held${13 + i}`), 'after'], 'the newest 7 kept, in order, then the link goes on');
  // Exactly the delivered ones were acknowledged; the given-up ones were refused (0x80), never acked.
  const answers = await Promise.all(acks);
  assert.deepEqual(answers, [...Array.from({ length: 13 }, () => 'refused 128'), ...Array.from({ length: 7 }, () => 'acked')]);
  assert.equal(await metric(n2, 'switchboard_publishes_refused_undelivered_total'), 13);
});
