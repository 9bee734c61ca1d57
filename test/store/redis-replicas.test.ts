// The Redis store with waitForReplicas: a commit counts (its afterCommit callbacks run, hence the
// acknowledgements behind it) only once a replica has it, so a failover of the master cannot lose
// it. Real redis-servers on loopback: a master, and a replica started (and stopped) by the test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { REDIS_SENTINEL_BIN, startSentinelSetup, type SentinelSetup } from '../helpers/redis-sentinel.js';
import type { Message } from '../../src/shared/message.js';
import { openRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const servers: RedisServer[] = [];
const stores: RedisStore[] = [];
const setups: SentinelSetup[] = [];
after(async () => {
  for (const s of stores) await s.closeAsync();
  for (const r of servers) await r.stop();
  for (const s of setups) await s.stop();
});

function msg(topic: string): Message {
  return { topic, payload: Buffer.from(topic), qos: 1, retain: true, properties: undefined, expiresAt: 0, publisherId: undefined };
}

async function replicaInSync(master: RedisServer): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!/slave0:.*state=online/.test(await master.command('INFO', 'replication'))) {
    if (Date.now() > deadline) throw new Error('the replica did not come online within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('with waitForReplicas 1, acknowledgements wait while no replica has the write, and go once one does', async () => {
  const master = await startRedis();
  servers.push(master);
  const store = await openRedisStore({ url: master.url, keyPrefix: 'wr:', waitForReplicas: 1, waitTimeoutMs: 50 });
  stores.push(store);

  // No replica: the write reaches the master, but is not committed in the store's sense.
  store.retained.set(msg('a/1'));
  let committed = false;
  store.afterCommit(() => (committed = true));
  // Signal, not sleep: the batch was refused for want of a replica (counted), twice at least.
  const deadline = Date.now() + 5_000;
  while (store.stats.replicaTimeouts < 2) {
    if (Date.now() > deadline) throw new Error('no replica timeout counted within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(committed, false, 'no acknowledgement while only the master has the write');
  assert.match(await master.command('HEXISTS', 'wr:retained', 'a/1'), /^:1/, 'the master has it (it is sent again, idempotently)');

  // A replica attaches: the retried batch is acknowledged by it, the callback runs.
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  servers.push(replica);
  await replicaInSync(master);
  const until = Date.now() + 10_000;
  while (!committed) {
    if (Date.now() > until) throw new Error('the commit did not complete within 10 s of a replica coming online');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(await replica.command('HEXISTS', 'wr:retained', 'a/1'), /^:1/, 'the replica has the write');
});

test('without waitForReplicas (a plain URL), a commit needs only the master', async () => {
  const master = await startRedis();
  servers.push(master);
  const store = await openRedisStore({ url: master.url, keyPrefix: 'wr0:' });
  stores.push(store);
  store.retained.set(msg('b/1'));
  await new Promise<void>((resolve) => store.afterCommit(resolve));
  assert.equal(store.stats.replicaTimeouts, 0);
});

test('store.sentinel: the store follows a Sentinel failover; what was committed before is on the new master', { skip: existsSync(REDIS_SENTINEL_BIN) ? false : 'redis-sentinel is not installed' }, async () => {
  const setup = await startSentinelSetup();
  setups.push(setup);
  const store = await openRedisStore({ sentinel: { sentinels: setup.sentinels, masterName: setup.masterName }, keyPrefix: 'sf:' });
  stores.push(store);
  assert.match(store.url, /^sentinel:\/\/127\.0\.0\.1:\d+,/, 'shown without secrets, naming the Sentinels');
  store.retained.set(msg('before'));
  await new Promise<void>((resolve) => store.afterCommit(resolve));
  const old = await setup.master();
  const next = await setup.failover();
  assert.notEqual(next.port, old.port);
  // Written after the failover: reaches the new master (after a READONLY or a dropped connection, the
  // store asks the Sentinels again), and the commit completes.
  store.retained.set(msg('after'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no commit within 15 s of the failover')), 15_000);
    store.afterCommit(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  assert.match(await next.command('HEXISTS', 'sf:retained', 'before'), /^:1/, 'acknowledged before the failover: on the new master');
  assert.match(await next.command('HEXISTS', 'sf:retained', 'after'), /^:1/);
});
