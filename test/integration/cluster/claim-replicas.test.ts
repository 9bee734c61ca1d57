// A won client-ID claim must reach the Redis replicas before the CONNECT is accepted
// (cluster.redis.waitForReplicas): Redis answers a write before replicating it, so a failover right
// after could forget the claim and let a second node claim the same ID. Real redis-servers on
// loopback (a master and a replica the test stops and starts) and a real cluster node.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers } from '../../helpers/server.js';
import { attemptConnect, connackCode } from '../../helpers/auth.js';
import { uid } from '../../helpers/clients.js';

const redises: RedisServer[] = [];
after(async () => {
  await stopAllServers();
  for (const r of redises) await r.stop();
});

async function replicaOnline(master: RedisServer, online: boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (/slave0:.*state=online/.test(await master.command('INFO', 'replication')) !== online) {
    if (Date.now() > deadline) throw new Error(`the replica did not become ${online ? 'online' : 'absent'} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('with waitForReplicas 1 a CONNECT is accepted only once its claim reached a replica; without one it is refused, retryably', async () => {
  const master = await startRedis();
  redises.push(master);
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  redises.push(replica);
  await replicaOnline(master, true);
  const node = await startServer({
    args: ['--redis', master.url, '--set', `cluster.redis.keyPrefix=cr-${process.pid}:`, '--set', 'cluster.redis.waitForReplicas=1', '--set', 'cluster.redis.waitTimeoutMs=200'],
  });

  const ok = await attemptConnect(node, { clientId: uid('cr'), clean: true });
  assert.equal(connackCode(ok), 0, 'a replica in sync: accepted');
  ok.client.end(true);

  await replica.stop();
  await replicaOnline(master, false);
  const refused = await attemptConnect(node, { clientId: uid('cr'), clean: true });
  assert.equal(connackCode(refused), 0x88, 'no replica: 0x88 Server unavailable (try again), not a claim a failover could forget');
  refused.client.end(true);
  await node.waitForLog((l) => l.msg === 'a client-ID claim did not reach the Redis replicas in time: CONNECT refused', 5_000);

  await replica.start();
  await replicaOnline(master, true);
  const again = await attemptConnect(node, { clientId: uid('cr'), clean: true });
  assert.equal(connackCode(again), 0, 'the replica is back: accepted');
  again.client.end(true);
});
