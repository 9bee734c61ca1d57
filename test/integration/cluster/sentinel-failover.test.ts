// No single point of failure in Redis: two Switchboard nodes configured with three Sentinels (a
// master and two replicas behind them, Debian's redis-server and redis-sentinel on loopback ports).
// Publishers on both nodes stream QoS 1 while the master fails over twice: once by SENTINEL
// FAILOVER, once by SIGKILL (the Sentinels agree it is down and promote the replica). A checker
// records every acknowledged message; a live subscriber and a persistent subscriber (offline
// during the failovers, its queue in Redis) must get every one of them. The nodes must say what
// the failover cost (logs and metrics).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startSentinelSetup, REDIS_SENTINEL_BIN, type SentinelSetup } from '../../helpers/redis-sentinel.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, disconnect, sleep, subscriber, uid, waitUntil, withTimeout, type Connected } from '../../helpers/clients.js';

const skip = existsSync(REDIS_SENTINEL_BIN) ? false : `${REDIS_SENTINEL_BIN} is not installed (scripts/install-test-deps.sh)`;
let setup: SentinelSetup | undefined;

let setupMs = 0;
before(async () => {
  const t = Date.now();
  if (skip === false) setup = await startSentinelSetup();
  setupMs = Date.now() - t;
});

after(async () => {
  const t = Date.now();
  await closeAllClients();
  const t1 = Date.now();
  await stopAllServers();
  const t2 = Date.now();
  await setup?.stop();
  console.log(`# cleanup: clients ${t1 - t} ms, servers ${t2 - t1} ms, Redis and Sentinels ${Date.now() - t2} ms`);
});

async function metric(node: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return Number(line?.split(' ')[1] ?? NaN);
}

/**
 * Publishes `${name}-${i}` at QoS 1 with up to `window` unacknowledged, each lane pausing `pauseMs`
 * between messages (about window * 1000 / pauseMs messages a second at most); records what was
 * acknowledged.
 */
function stream(pub: Connected, topic: string, name: string, window = 5, pauseMs = 20) {
  const acked: string[] = [];
  let stopped = false;
  let sent = 0;
  let failed = 0;
  const lanes = Array.from({ length: window }, async () => {
    while (!stopped) {
      const text = `${name}-${sent++}`;
      try {
        await pub.client.publishAsync(topic, text, { qos: 1 });
        acked.push(text);
        await sleep(pauseMs);
      } catch {
        failed++; // not acknowledged: nothing was promised
        await sleep(50);
      }
    }
  });
  return {
    acked,
    get failed() {
      return failed;
    },
    async stop() {
      stopped = true;
      await withTimeout(Promise.all(lanes), 30_000, `${name}: the publishes still unanswered`);
    },
  };
}

test('a Redis master failover (SENTINEL FAILOVER, then SIGKILL) loses no acknowledged QoS 1 message', { skip, timeout: 90_000 }, async () => {
  const s = setup!;
  const prefix = `sent-${process.pid}:`;
  const args = [
    '--set', `cluster.redis.sentinel=${JSON.stringify({ sentinels: s.sentinels, masterName: s.masterName })}`,
    '--set', `cluster.redis.keyPrefix=${prefix}`,
    '--set', 'cluster.nodeTimeoutSeconds=10',
    '--set', 'limits.maxQueuedMessagesPerSession=100000',
    '--set', 'limits.maxInflightMessages=1000',
  ];
  const started = Date.now();
  const a = await startServer({ args });
  const b = await startServer({ args });
  const topic = uid('failover');

  // The persistent subscriber subscribes on A and goes offline: its queue lives in Redis.
  const persistentId = uid('persistent');
  const p1 = await subscriber(a, topic, 1, { clientId: persistentId, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await disconnect(p1.client);
  const live = await subscriber(a, topic, 1, { properties: { receiveMaximum: 1000 } });

  const pubA = stream(await connectClient(a), topic, 'a');
  const pubB = stream(await connectClient(b), topic, 'b');
  await sleep(1000);

  // 1. A failover asked of the Sentinels: the old master is demoted to a replica.
  const t0 = Date.now();
  const first = await s.failover();
  await waitUntil(() => a.logLines().some((l) => /on a new master/.test(String(l.msg))) && b.logLines().some((l) => /on a new master/.test(String(l.msg))), 20_000, 'both nodes to report the failover');
  const firstMs = Date.now() - t0;
  await s.waitForReplicas(1);
  await sleep(1000);

  // 2. The master is killed: the Sentinels agree it is down (1 s) and promote the replica.
  const t1 = Date.now();
  await first.kill();
  await s.waitForNewMaster(first, 20_000);
  await waitUntil(() => a.logLines().filter((l) => /on a new master/.test(String(l.msg))).length >= 2 && b.logLines().filter((l) => /on a new master/.test(String(l.msg))).length >= 2, 20_000, 'both nodes to report the second failover');
  const secondMs = Date.now() - t1;
  // The other replica follows the new master: commits (waitForReplicas defaults to 1 behind
  // Sentinels) go on without waiting for the killed server.
  await s.waitForReplicas(1, 20_000);
  await sleep(1000);
  const dump = (node: TestServer, name: string) =>
    node
      .logLines()
      .filter((l) => (l.level ?? 0) >= 40 || /Redis|master|cluster/.test(String(l.msg)))
      .slice(-40)
      .map((l) => `${name} ${JSON.stringify(l)}`)
      .join('\n');
  await Promise.all([pubA.stop(), pubB.stop()]).catch((err: Error) => {
    throw new Error(`${err.message}\n${dump(a, 'A')}\n${dump(b, 'B')}`);
  });
  const acked = [...pubA.acked, ...pubB.acked];
  const streamedAt = Date.now();
  assert.ok(pubA.acked.length > 100 && pubB.acked.length > 100, `both publishers made progress (${pubA.acked.length}, ${pubB.acked.length})`);

  // The live subscriber: every acknowledged message (duplicates are allowed at QoS 1).
  const missingFrom = (texts: string[]) => {
    const got = new Set(texts);
    return acked.filter((t) => !got.has(t));
  };
  await waitUntil(() => missingFrom(live.inbox.texts()).length === 0, 20_000, 'the live subscriber to receive every acknowledged message').catch(() => undefined);
  const liveMissing = missingFrom(live.inbox.texts());
  assert.deepEqual(liveMissing.slice(0, 20), [], `live subscriber: ${liveMissing.length} of ${acked.length} acknowledged messages missing`);

  // The persistent subscriber comes back (to A, which holds its session): everything queued.
  const p2 = await connectClient(a, { clientId: persistentId, clean: false, properties: { sessionExpiryInterval: 3600, receiveMaximum: 1000 } });
  assert.equal(p2.connack.sessionPresent, true);
  await waitUntil(() => missingFrom(p2.inbox.texts()).length === 0, 20_000, 'the persistent subscriber to receive every acknowledged message').catch(() => undefined);
  const persistentMissing = missingFrom(p2.inbox.texts());
  const drainedAt = Date.now();
  assert.deepEqual(persistentMissing.slice(0, 20), [], `persistent subscriber: ${persistentMissing.length} of ${acked.length} acknowledged messages missing`);

  // What the failovers cost, as the nodes report it.
  for (const node of [a, b]) {
    assert.ok((await metric(node, 'switchboard_cluster_redis_failovers_total')) >= 2, 'failovers counted');
    assert.ok((await metric(node, 'switchboard_cluster_redis_outages_total')) >= 2, 'outages counted');
    const back = node.logLines().filter((l) => /on a new master/.test(String(l.msg)));
    assert.ok(back.every((l) => typeof l.downMs === 'number' && typeof l.fromMaster === 'string' && typeof l.toMaster === 'string'), 'the log says how long and from where to where');
  }
  // The store's side: how long writes (and the acknowledgements behind them) waited, and why.
  const storeWaits = (node: TestServer) =>
    node
      .logLines()
      .filter((l) => /^store: Redis is (unavailable|back)/.test(String(l.msg)))
      .map((l) => (typeof l.waitedMs === 'number' ? `back after ${l.waitedMs} ms` : String(l.reason).slice(0, 60)));
  console.log(`# node A store waits: ${JSON.stringify(storeWaits(a))}`);
  const down = (node: TestServer) => node.logLines().filter((l) => /on a new master/.test(String(l.msg))).map((l) => l.downMs);
  console.log(
    `# acknowledged ${acked.length} (a ${pubA.acked.length}, b ${pubB.acked.length}; unacknowledged attempts ${pubA.failed + pubB.failed}); ` +
      `live got ${live.inbox.messages.length}, persistent got ${p2.inbox.messages.length}; ` +
      `SENTINEL FAILOVER observed in ${firstMs} ms, kill -9 in ${secondMs} ms; node A without Redis ${JSON.stringify(down(a))} ms, node B ${JSON.stringify(down(b))} ms; ` +
      `Redis + Sentinels up in ${setupMs} ms, streaming ${streamedAt - started} ms, checking ${drainedAt - streamedAt} ms`,
  );
});
