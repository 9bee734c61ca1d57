// Fault tests for the cluster's two promises (issue 19): a PUBACK means the message will be
// delivered, whatever single node (or Redis) dies afterwards; and one client ID has one connection
// cluster-wide. Real processes on loopback: a redis-server, three Switchboard members, MQTT.js
// publishers streaming QoS 1 and persistent subscribers. A checker records every acknowledged
// message and every delivery; after each fault every acknowledged message must have reached every
// matching persistent subscription (duplicates are allowed: QoS 1 is at least once).
//
// Seeded: SB_FAULT_SEED (default 1) picks when the fault strikes, how long it lasts and how the
// racing CONNECTs are skewed, so a failure reproduces from the seed printed in the test names;
// SB_FAULT_ROUNDS (default 8) sets how many times two CONNECTs race.
// Bounded: every wait has a deadline; the whole file runs in under three minutes on a loaded 2-core machine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, sleep, type Inbox, trackClient, uid, urlFor, waitUntil } from '../../helpers/clients.js';
import { prng } from '../../helpers/prng.js';
import { Checker, Stream } from '../../helpers/cluster-checker.js';

const SEED = Number(process.env.SB_FAULT_SEED ?? 1);
const NODE_TIMEOUT_S = 2;
const SUBSCRIBERS = 2;
// Each publisher keeps 40 QoS 1 publishes unacknowledged at a time, topped up every 5 ms
// (test/helpers/cluster-checker.ts).

let redis: RedisServer;
let prefixSeq = 0;
/** The key prefix of the cluster startCluster made last. */
let clusterPrefix = '';
const random = prng(SEED);
/** A whole number of ms in [min, max), from the seeded sequence. */
const between = (min: number, max: number): number => Math.floor(min + random() * (max - min));

async function startCluster(n: number): Promise<TestServer[]> {
  const prefix = `f${++prefixSeq}-${process.pid}:`;
  clusterPrefix = prefix;
  const nodes: TestServer[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await startServer({
        args: ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`, '--set', `cluster.nodeTimeoutSeconds=${NODE_TIMEOUT_S}`],
        logLevel: 'info',
        // Never the reason a message is missing: a full offline queue drops by design (counted).
        limits: { maxQueuedMessagesPerSession: 1_000_000 },
      }),
    );
  }
  return nodes;
}

async function stopCluster(nodes: TestServer[]): Promise<void> {
  await closeAllClients();
  for (const n of nodes) {
    try {
      process.kill(n.pid, 'SIGCONT'); // a paused member must be able to stop
    } catch {
      // already gone
    }
  }
  await Promise.all(nodes.map((n) => n.stop()));
}

/** A persistent session subscribed to `filter` at QoS 1; offline unless `stayOnline`. */
async function persistentSubscriber(node: TestServer, clientId: string, filter: string, checker: Checker, stayOnline: boolean): Promise<MqttClient | null> {
  const c = await connectClient(node, { clientId, clean: false, properties: { sessionExpiryInterval: 600 } });
  c.client.on('message', (_t, payload, packet) => checker.received(clientId, payload.toString(), packet.dup));
  await c.client.subscribeAsync(filter, { qos: 1 });
  if (stayOnline) return c.client;
  await new Promise<void>((res) => c.client.end(false, {}, () => res()));
  return null;
}

/** Reconnects each subscriber's session on `node` and waits until it has every acknowledged message. */
async function collect(node: TestServer, ids: string[], checker: Checker, timeoutMs: number): Promise<void> {
  await gather(await reconnect(node, ids), checker, timeoutMs);
}

/** Reconnects each subscriber's session on `node`; their inboxes listen from before CONNACK. */
async function reconnect(node: TestServer, ids: string[]): Promise<Map<string, Inbox>> {
  const inboxes = new Map<string, Inbox>();
  for (const clientId of ids) {
    // The inbox listens from before CONNACK: queued messages may come in the same read.
    const c = await connectClient(node, { clientId, clean: false, properties: { sessionExpiryInterval: 600 } });
    inboxes.set(clientId, c.inbox);
    assert.equal(c.connack.sessionPresent, true, `${clientId}'s session survived`);
  }
  return inboxes;
}

/** Waits until every reconnected subscriber has every acknowledged message (or the time is up). */
async function gather(inboxes: Map<string, Inbox>, checker: Checker, timeoutMs: number): Promise<void> {
  const ids = [...inboxes.keys()];
  const seen = new Map<string, number>();
  const sync = (): void => {
    for (const [id, inbox] of inboxes) {
      const from = seen.get(id) ?? 0;
      for (let i = from; i < inbox.messages.length; i++) checker.received(id, inbox.messages[i]!.text, inbox.messages[i]!.packet.dup);
      seen.set(id, inbox.messages.length);
    }
  };
  await waitUntil(
    () => {
      sync();
      return ids.every((id) => checker.missing(id).length === 0);
    },
    timeoutMs,
    'every acknowledged message at every subscriber',
  ).catch(() => {});
  sync();
}

function report(what: string, checker: Checker, ids: string[], streams: Stream[]): void {
  const sent = streams.reduce((n, s) => n + s.sent, 0);
  const missing = ids.map((id) => checker.missing(id).length);
  // One line per run, for the notes (issue 19 asks for the runs and their counts).
  console.log(`# fault ${what} seed=${SEED}: sent=${sent} acked=${checker.acked.size} missing=${missing.join('/')} duplicates=${checker.duplicates} (without DUP flag: ${checker.freshDuplicates})`);
  for (const id of ids) {
    const m = checker.missing(id);
    assert.equal(m.length, 0, `${id} never got ${m.length} acknowledged message(s), e.g. ${m.slice(0, 5).join(', ')}`);
  }
  assert.ok(checker.acked.size > 0, 'something was acknowledged');
}

before(async () => {
  redis = await startRedis({ appendonly: true });
});

after(async () => {
  await closeAllClients();
  await stopAllServers();
  await redis?.stop();
});

describe(`cluster faults (SB_FAULT_SEED=${SEED})`, () => {
  test('kill -9 of the node holding persistent sessions while publishers on the other nodes stream: no acknowledged message lost', async () => {
    const nodes = await startCluster(3);
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    try {
      const checker = new Checker();
      const topic = uid('kill');
      const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => uid(`keeper${i}`));
      // One offline, one online (its connection dies with the node; it comes back elsewhere).
      for (const [i, id] of ids.entries()) await persistentSubscriber(a, id, `${topic}/#`, checker, i === 0);
      await sleep(300); // interest announced (the first publishes must already route to a)
      const streams = [
        new Stream((await connectClient(b)).client, `${topic}/b`, 'b', checker),
        new Stream((await connectClient(c)).client, `${topic}/c`, 'c', checker),
      ];
      for (const s of streams) s.start();
      await sleep(between(300, 1200));
      a.kill('SIGKILL');
      await b.waitForLog((l) => l.msg === 'cleaned up after a dead node' || l.msg === 'sending what the dead node had not acknowledged to the node that adopted its sessions', 15_000);
      await sleep(between(200, 1000));
      for (const s of streams) await s.drain(20_000);
      await collect(b, ids, checker, 20_000);
      report('kill', checker, ids, streams);
    } finally {
      await stopCluster(nodes);
    }
  });

  test('SIGSTOP past the node timeout, then SIGCONT: the woken node fences itself and nothing acknowledged is lost', async () => {
    const nodes = await startCluster(3);
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    try {
      const checker = new Checker();
      const topic = uid('pause');
      const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => uid(`keeper${i}`));
      for (const id of ids) await persistentSubscriber(a, id, `${topic}/#`, checker, false);
      await sleep(300);
      // A publisher on the paused node too: whatever it got a PUBACK for must be delivered.
      const streams = [
        new Stream((await connectClient(a)).client, `${topic}/a`, 'a', checker),
        new Stream((await connectClient(b)).client, `${topic}/b`, 'b', checker),
        new Stream((await connectClient(c)).client, `${topic}/c`, 'c', checker),
      ];
      for (const s of streams) s.start();
      await sleep(between(300, 1000));
      a.kill('SIGSTOP');
      await sleep(NODE_TIMEOUT_S * 1000 + between(1200, 2500));
      a.kill('SIGCONT');
      await a.waitForLog((l) => l.msg === 'this node was declared dead by the cluster while cut off; closing its connections and rejoining', 15_000);
      await sleep(between(200, 800));
      for (const s of streams) await s.drain(20_000);
      // The woken node closed the connections it no longer owned.
      assert.equal(streams[0]!.client.connected, false, "the paused node's publisher was disconnected by the fencing");
      await collect(b, ids, checker, 20_000);
      report('pause', checker, ids, streams);
    } finally {
      await stopCluster(nodes);
    }
  });

  test('a node declared dead wakes up before the cleanup after it is finished: it keeps its routes until its sessions are adopted, and a third node loses nothing acknowledged', async () => {
    // The flaky loss of the SIGSTOP test above, made deterministic: the woken node used to
    // withdraw its filters at once, and a third node's publishes routed in the moment before the
    // adopting node announced the sessions' filters went to nobody and were acknowledged.
    // Here the test plays a cleaning node that stalls between declaring the node dead and
    // adopting its sessions (it holds the cleanup lock, and sets the node's reaped key as
    // sbMarkDead does); the publisher on the third node streams meanwhile.
    const nodes = await startCluster(3);
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const prefix = clusterPrefix;
    const admin = new Redis(redis.url);
    try {
      const aId = String((await a.waitForLog((l) => l.msg === 'joined the cluster', 5_000)).node);
      const checker = new Checker();
      const topic = uid('stall');
      const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => uid(`keeper${i}`));
      for (const id of ids) await persistentSubscriber(a, id, `${topic}/#`, checker, false);
      await sleep(300);
      const lock = `${prefix}reap-lock:${aId}`;
      assert.equal(await admin.set(lock, 'test', 'PX', 60_000, 'NX'), 'OK');
      a.kill('SIGSTOP');
      await sleep(NODE_TIMEOUT_S * 1000 + 500); // silent past the timeout: dead to the others
      await admin.set(`${prefix}reaped:${aId}`, 'test', 'EX', 3600);
      a.kill('SIGCONT');
      await a.waitForLog((l) => l.msg === 'this node was declared dead by the cluster while cut off; closing its connections and rejoining', 10_000);
      const stream = new Stream((await connectClient(c)).client, `${topic}/c`, 'c', checker);
      stream.start();
      // The cleaning node stalls for a while (what it does meanwhile is not this test's business).
      await sleep(1000);
      await admin.del(lock);
      await Promise.any([b, c].map((n) => n.waitForLog((l) => l.msg === 'cleaned up after a dead node', 5_000))).catch(() => {});
      await sleep(300);
      await stream.drain(20_000);
      await collect(b, ids, checker, 20_000);
      report('stalled-cleanup', checker, ids, [stream]);
    } finally {
      admin.disconnect();
      await stopCluster(nodes);
    }
  });

  test('kill -9 of the node holding a session whose client reconnects to another node before the cleanup, publishers on a third node: no acknowledged message lost', async () => {
    // The third-node window of docs/cluster.md: the client took its session to b before anyone
    // cleaned up after a, so a's cleanup does not adopt it; what c still held for a (a never
    // acknowledged it) must reach b's session too, not only the node adopting a's other sessions.
    // The test holds the cleanup lock until the client is back on b: the cleanup comes after,
    // whatever the machine's load (with the default 10 s node timeout this is the common case).
    const nodes = await startCluster(3);
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const prefix = clusterPrefix;
    const admin = new Redis(redis.url);
    try {
      const aId = String((await a.waitForLog((l) => l.msg === 'joined the cluster', 5_000)).node);
      const checker = new Checker();
      const topic = uid('taken');
      const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => uid(`keeper${i}`));
      // The first is connected to a (its connection dies with it and it comes back on b at once);
      // the second offline (adopted by the cleanup).
      for (const [i, id] of ids.entries()) await persistentSubscriber(a, id, `${topic}/#`, checker, i === 0);
      await sleep(300);
      const lock = `${prefix}reap-lock:${aId}`;
      assert.equal(await admin.set(lock, 'test', 'PX', 60_000, 'NX'), 'OK');
      const stream = new Stream((await connectClient(c)).client, `${topic}/c`, 'c', checker);
      stream.start();
      await sleep(between(300, 1000));
      a.kill('SIGKILL');
      // Its CONNACK waits for a (up to 3 s), then b takes the session from the silent node.
      const early = await reconnect(b, [ids[0]!]);
      await sleep(between(200, 800));
      await admin.del(lock);
      await Promise.any([b, c].map((n) => n.waitForLog((l) => l.msg === 'cleaned up after a dead node', 5_000))).catch(() => {});
      await sleep(between(200, 800));
      await stream.drain(20_000);
      await gather(early, checker, 20_000);
      await collect(b, [ids[1]!], checker, 20_000);
      report('taken-before-cleanup', checker, ids, [stream]);
    } finally {
      admin.disconnect();
      await stopCluster(nodes);
    }
  });

  test('Redis killed and restarted mid-stream: no acknowledged message lost', async () => {
    const nodes = await startCluster(2);
    const [a, b] = nodes as [TestServer, TestServer];
    try {
      const checker = new Checker();
      const topic = uid('redis');
      const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => uid(`keeper${i}`));
      for (const [i, id] of ids.entries()) await persistentSubscriber(a, id, `${topic}/#`, checker, i === 0);
      await sleep(300);
      const streams = [new Stream((await connectClient(b)).client, `${topic}/b`, 'b', checker)];
      for (const s of streams) s.start();
      await sleep(between(300, 1000));
      await redis.kill();
      await sleep(between(300, 1500));
      await redis.start();
      for (const node of nodes) await node.waitForLog((l) => l.msg === 'the Redis backplane is back; cluster routing resumed', 15_000);
      await sleep(between(200, 800));
      for (const s of streams) await s.drain(20_000);
      await collect(a, ids, checker, 20_000);
      report('redis', checker, ids, streams);
    } finally {
      await stopCluster(nodes);
    }
  });

  test('a QoS 2 subscriber moving between nodes while publishers on both stream QoS 2: nothing lost; duplicates measured', async () => {
    const nodes = await startCluster(2);
    const [a, b] = nodes as [TestServer, TestServer];
    try {
      const checker = new Checker();
      const topic = uid('move');
      const id = uid('mover');
      const options = { clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } };
      let current = await connectClient(a, options);
      await current.client.subscribeAsync(`${topic}/#`, { qos: 2 });
      const inboxes: Inbox[] = [current.inbox];
      await sleep(300);
      const streams = [new Stream((await connectClient(a)).client, `${topic}/a`, 'a', checker, 2), new Stream((await connectClient(b)).client, `${topic}/b`, 'b', checker, 2)];
      for (const s of streams) s.start();
      const moves = 6;
      for (let i = 0; i < moves; i++) {
        await sleep(between(100, 500));
        // The client goes to the other node (a takeover across nodes: the session follows it).
        const next = await connectClient(i % 2 === 0 ? b : a, options);
        inboxes.push(next.inbox);
        current = next;
      }
      for (const s of streams) await s.drain(20_000);
      const seen = new Map<Inbox, number>();
      await waitUntil(
        () => {
          for (const inbox of inboxes) {
            for (let i = seen.get(inbox) ?? 0; i < inbox.messages.length; i++) checker.received(id, inbox.messages[i]!.text, inbox.messages[i]!.packet.dup);
            seen.set(inbox, inbox.messages.length);
          }
          return checker.missing(id).length === 0;
        },
        20_000,
        'every acknowledged message at the moving subscriber',
      ).catch(() => {});
      report('move-qos2', checker, [id], streams);
    } finally {
      await stopCluster(nodes);
    }
  });

  test('two nodes receive CONNECTs with one client ID at once: one connection survives, the other is taken over', async () => {
    const nodes = await startCluster(2);
    const [a, b] = nodes as [TestServer, TestServer];
    try {
      const rounds = Number(process.env.SB_FAULT_ROUNDS ?? 8);
      let twoLive = 0;
      let noneLive = 0;
      for (let round = 0; round < rounds; round++) {
        const clientId = uid('twin');
        const clean = random() < 0.5;
        const skew = between(0, 4);
        const attempt = (node: TestServer): MqttClient => {
          const client = mqtt.connect(urlFor(node, 'tcp'), { clientId, clean, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, properties: clean ? {} : { sessionExpiryInterval: 60 } });
          trackClient(client);
          client.on('error', () => {});
          return client;
        };
        const first = attempt(random() < 0.5 ? a : b);
        await sleep(skew);
        const second = attempt(first.options.port === a.mqttPort ? b : a);
        const both = [first, second];
        // Both CONNECTs answered (CONNACK or refusal), then the loser's takeover settles.
        const answered = (cl: MqttClient) => new Promise<void>((res) => {
          if (cl.connected) res();
          cl.once('connect', () => res());
          cl.once('close', () => res());
        });
        await Promise.race([Promise.all(both.map(answered)), sleep(8_000)]);
        await waitUntil(() => both.filter((cl) => cl.connected).length <= 1, 5_000, 'at most one live connection').catch(() => {});
        const live = both.filter((cl) => cl.connected).length;
        if (live === 2) console.log(`# twin round ${round}: clientId=${clientId} clean=${clean} skew=${skew} both still connected`);
        if (live === 2) twoLive++;
        if (live === 0) noneLive++;
        for (const cl of both) cl.end(true);
      }
      console.log(`# fault twin-connect seed=${SEED}: rounds=${rounds} twoLive=${twoLive} noneLive=${noneLive}`);
      assert.equal(twoLive, 0, 'never two live connections with one client ID');
      assert.equal(noneLive, 0, 'one of the two always wins');
    } finally {
      await stopCluster(nodes);
    }
  });
});
