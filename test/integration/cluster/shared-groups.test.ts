// Shared subscriptions follow one rule cluster-wide, the single node's (router.ts pickMember): a
// connected member when there is one anywhere; otherwise, at QoS 1/2, a persistent member's queue;
// dropped (counted in switchboard_shared_dropped_total) only when no member can take it. Two nodes
// on a real redis-server, MQTT.js clients.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, disconnect, sleep, subscriber, uid, waitUntil } from '../../helpers/clients.js';

let redis: RedisServer;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await closeAllClients();
  await stopAllServers();
  await redis?.stop();
});

async function metric(node: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** Until the cluster's connection list (asked of `node`) has `clientId` connected or not. */
async function waitConnected(node: TestServer, clientId: string, connected: boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const list = (await (await fetch(`${node.httpUrl}/api/connections?limit=1000`)).json()) as { connections: { clientId: string }[] };
    if (list.connections.some((c) => c.clientId === clientId) === connected) return;
    if (Date.now() > deadline) throw new Error(`${clientId} still ${connected ? 'absent' : 'connected'} after 5 s`);
    await sleep(50);
  }
}

test('a shared group prefers a connected member on another node to an offline one here; QoS 1 queues only when none is connected; QoS 0 is then dropped and counted', async () => {
  const prefix = `shared-${process.pid}:`;
  const args = ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`];
  const a = await startServer({ args });
  const b = await startServer({ args });
  const topic = uid('jobs');
  const share = `$share/workers/${topic}`;

  // A persistent member on node A, offline.
  const persistentId = uid('offline-member');
  const p1 = await subscriber(a, share, 1, { clientId: persistentId, clean: false, properties: { sessionExpiryInterval: 3600 } });
  await disconnect(p1.client);
  await waitConnected(a, persistentId, false);
  // A connected member on node B (its SUBACK means node A knows).
  const live = await subscriber(b, share, 1);

  // Published on A: every message goes to B's connected member, QoS 0 and QoS 1 alike (a single
  // node picks a connected member over an offline one; before, A took every other turn: its QoS 0
  // were dropped and its QoS 1 queued for the offline member).
  const pubA = await connectClient(a);
  const first: string[] = [];
  for (let i = 0; i < 20; i++) {
    first.push(`q0-${i}`, `q1-${i}`);
    pubA.client.publish(topic, `q0-${i}`, { qos: 0 });
    await pubA.client.publishAsync(topic, `q1-${i}`, { qos: 1 });
  }
  await waitUntil(() => live.inbox.messages.length >= 40, 5_000, `all 40 at the connected member (got ${live.inbox.messages.length})`).catch(() => undefined);
  assert.deepEqual(live.inbox.texts().sort(), [...first].sort(), 'the connected member on the other node got every message');

  // The connected member leaves: QoS 1 now goes to the offline member's queue on A; QoS 0 has no
  // member that can take it: dropped, counted.
  const droppedBefore = (await metric(a, 'switchboard_shared_dropped_total')) + (await metric(b, 'switchboard_shared_dropped_total'));
  const liveId = String(live.client.options.clientId);
  await disconnect(live.client);
  await waitConnected(b, liveId, false);
  const pubB = await connectClient(b);
  const second: string[] = [];
  for (let i = 0; i < 10; i++) {
    second.push(`later-${i}`);
    pubB.client.publish(topic, `dropped-${i}`, { qos: 0 });
    await pubB.client.publishAsync(topic, `later-${i}`, { qos: 1 });
  }
  const p2 = await connectClient(a, { clientId: persistentId, clean: false, properties: { sessionExpiryInterval: 3600 } });
  assert.equal(p2.connack.sessionPresent, true);
  const got = await p2.inbox.waitFor(10, 5_000);
  // The queue is in publish order: had anything of the first round been queued, it would come first.
  assert.deepEqual(got.slice(0, 10).map((m) => m.text), second, 'the offline member queued exactly the QoS 1 messages sent while no member was connected');
  const droppedAfter = (await metric(a, 'switchboard_shared_dropped_total')) + (await metric(b, 'switchboard_shared_dropped_total'));
  assert.equal(droppedAfter - droppedBefore, 10, 'the QoS 0 messages no member could take are counted');
});

test('a shared group reaches the member allowed to receive the topic on another node when the picked node has none (passed on); with no permitted member anywhere it is dropped and counted', async () => {
  const prefix = `shared-recv-${process.pid}:`;
  // Receive only on topics under one's own client ID: the same shared filter, different rights.
  const auth = {
    unauthenticatedPolicy: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe'], Resource: '*' },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/${iot:ClientId}/*' },
        // A plain (not shared) watcher may receive everything.
        { Effect: 'Allow', Action: 'iot:Receive', Resource: '*', Condition: { StringLike: { 'iot:ClientId': 'watch-*' } } },
      ],
    },
  };
  const args = ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`];
  const a = await startServer({ args, auth });
  const b = await startServer({ args, auth });
  const okId = uid('ok');
  const topic = `${okId}/jobs`;
  const share = `$share/workers/${topic}`;
  // The member on A may not receive the topic, the one on B may; the other nodes learn of each
  // group member's node before the SUBACK.
  const denied = await subscriber(a, share, 1, { clientId: uid('no') });
  const permitted = await subscriber(b, share, 1, { clientId: okId });
  // A plain subscription on B, where the passed-on copies arrive: it gets each message once, from
  // the publisher's node, never again with a copy passed on for the group.
  const watcher = await subscriber(b, topic, 1, { clientId: uid('watch') });

  // Published on A and on B, QoS 0 and 1: every other message starts on A (round-robin over the
  // nodes with a connected member), where nobody may receive it; A passes it on to B.
  const pubA = await connectClient(a);
  const pubB = await connectClient(b);
  const sent: string[] = [];
  for (let i = 0; i < 10; i++) {
    for (const [name, pub] of [['a', pubA], ['b', pubB]] as const) {
      sent.push(`${name}-q0-${i}`, `${name}-q1-${i}`);
      pub.client.publish(topic, `${name}-q0-${i}`, { qos: 0 });
      await pub.client.publishAsync(topic, `${name}-q1-${i}`, { qos: 1 });
    }
  }
  await waitUntil(() => permitted.inbox.messages.length >= sent.length, 5_000, `all ${sent.length} at the permitted member`).catch(() => undefined);
  assert.deepEqual(permitted.inbox.texts().sort(), [...sent].sort(), 'the member allowed to receive the topic got every message');
  assert.equal(permitted.inbox.messages.length, sent.length, 'each once');
  assert.ok((await metric(a, 'switchboard_shared_passed_on_total')) > 0, 'node A passed messages on');
  assert.equal(denied.inbox.messages.length, 0, 'nothing reached the member that may not receive the topic');
  await waitUntil(() => watcher.inbox.messages.length >= sent.length, 5_000, `all ${sent.length} at the plain subscriber`).catch(() => undefined);
  // The QoS 2 sentinel proves nothing more is on its way (a passed-on copy would arrive before it).
  await pubA.client.publishAsync(topic, 'sentinel', { qos: 2 });
  await watcher.inbox.waitFor(sent.length + 1, 5_000).catch(() => undefined);
  assert.deepEqual(watcher.inbox.texts().sort(), [...sent, 'sentinel'].sort(), 'the plain subscriber got every message once');
  await permitted.inbox.waitFor(sent.length + 1, 5_000).catch(() => undefined);
  await disconnect(watcher.client);

  // The permitted member leaves (clean session: no queue): no member anywhere may take a message.
  const droppedBefore = (await metric(a, 'switchboard_shared_dropped_total')) + (await metric(b, 'switchboard_shared_dropped_total'));
  await disconnect(permitted.client);
  await waitConnected(a, okId, false);
  for (let i = 0; i < 5; i++) {
    pubB.client.publish(topic, `dropped-q0-${i}`, { qos: 0 });
    await pubB.client.publishAsync(topic, `dropped-q1-${i}`, { qos: 1 });
  }
  const dropped = async () => (await metric(a, 'switchboard_shared_dropped_total')) + (await metric(b, 'switchboard_shared_dropped_total')) - droppedBefore;
  const deadline = Date.now() + 5_000;
  while ((await dropped()) < 10 && Date.now() < deadline) await sleep(50);
  assert.equal(await dropped(), 10, 'the messages no permitted member could take are dropped and counted, once each');
  assert.equal(denied.inbox.messages.length, 0, 'still nothing reached the member that may not receive the topic');

  // Connected members that may not receive it on both nodes, and the permitted member as an
  // offline persistent session on A: QoS 1 goes round the connected ones and comes back to A's
  // queue, wherever it was published and picked first; QoS 0 cannot be queued: dropped, counted.
  const denied2 = await subscriber(b, share, 1, { clientId: uid('no') });
  const persistent = { clientId: okId, clean: false, properties: { sessionExpiryInterval: 3600 } };
  const p1 = await subscriber(a, share, 1, persistent);
  await disconnect(p1.client);
  await waitConnected(b, okId, false);
  const droppedBefore2 = await dropped();
  const queued: string[] = [];
  for (let i = 0; i < 5; i++) {
    for (const [name, pub] of [['a', pubA], ['b', pubB]] as const) {
      queued.push(`${name}-kept-${i}`);
      pub.client.publish(topic, `${name}-lost-q0-${i}`, { qos: 0 });
      await pub.client.publishAsync(topic, `${name}-kept-${i}`, { qos: 1 });
    }
  }
  const back = await connectClient(a, persistent);
  assert.equal(back.connack.sessionPresent, true);
  await back.inbox.waitFor(queued.length, 5_000).catch(() => undefined);
  assert.deepEqual(back.inbox.texts().sort(), [...queued].sort(), 'every QoS 1 message was queued for the permitted persistent member, once');
  while ((await dropped()) - droppedBefore2 < 10 && Date.now() < deadline + 10_000) await sleep(50);
  assert.equal((await dropped()) - droppedBefore2, 10, 'the QoS 0 messages are dropped and counted, once each');
  assert.equal(denied.inbox.messages.length + denied2.inbox.messages.length, 0, 'nothing reached the members that may not receive the topic');
});
