// Retained messages (set, replace, clear, wildcard delivery, v5 Retain Handling and
// Retain As Published) and Will messages (abnormal close, normal DISCONNECT, v5 reason 0x04,
// Will Delay Interval, will properties).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectClient, disconnect, sleep, subscriber, uid, type ProtocolVersion } from '../helpers/clients.js';
import { rawConnect } from '../helpers/raw-client.js';
import { fenceWithSentinel, textsBeforeSentinel } from '../helpers/sentinel.js';
import { useServer } from '../helpers/suite.js';

const server = useServer();

const vname = (v: ProtocolVersion) => (v === 4 ? 'v3.1.1' : 'v5');
/**
 * The lifecycle event published when the server ends `clientId`'s connection: a will without delay
 * is published in the same step, so once this event is in, such a will has been routed too.
 */
const disconnectedEvent = (clientId: string) => `$aws/events/presence/disconnected/${clientId}`;

describe('retained messages', () => {
  for (const v of [4, 5] as const) {
    test(`${vname(v)}: set, replace, clear; delivered on subscribe with RETAIN=1 [MQTT-3.3.1-5..11]`, async () => {
      const topic = uid('ret');
      const pub = await connectClient(server(), { protocolVersion: v });
      await pub.client.publishAsync(topic, 'v1', { qos: 1, retain: true });

      const s1 = await subscriber(server(), topic, 1, { protocolVersion: v, transport: 'ws' });
      const [m1] = await s1.inbox.waitFor(1);
      assert.equal(m1!.text, 'v1');
      assert.equal(m1!.packet.retain, true, 'retained delivery on subscribe has RETAIN=1 [MQTT-3.3.1-8]');
      assert.equal(m1!.packet.qos, 1);

      await pub.client.publishAsync(topic, 'v2', { qos: 1, retain: true });
      // Retained messages follow the SUBACK at once: a sentinel published now comes after them.
      const s2 = await subscriber(server(), topic, 1, { protocolVersion: v });
      assert.deepEqual(await textsBeforeSentinel(pub.client, topic, s2.inbox), ['v2'], 'replaced, only one retained message per topic');

      // A non-retained publish neither replaces nor removes it [MQTT-3.3.1-12].
      await pub.client.publishAsync(topic, 'live', { qos: 1, retain: false });
      const s3 = await subscriber(server(), topic, 1, { protocolVersion: v });
      assert.deepEqual(await textsBeforeSentinel(pub.client, topic, s3.inbox), ['v2']);

      // Empty retained payload clears it [MQTT-3.3.1-10/11].
      await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
      const s4 = await subscriber(server(), topic, 1, { protocolVersion: v });
      assert.deepEqual(await textsBeforeSentinel(pub.client, topic, s4.inbox), [], 'cleared: a later subscriber gets nothing');
    });
  }

  test('live forward of a retained publish to an existing v3.1.1 subscriber has RETAIN=0 [MQTT-3.3.1-9]', async () => {
    const topic = uid('ret-live');
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 4 });
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'now', { qos: 1, retain: true });
    const [m] = await sub.inbox.waitFor(1);
    assert.equal(m!.packet.retain, false);
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
  });

  test('wildcard subscriptions get every matching retained message', async () => {
    const root = uid('retw');
    const pub = await connectClient(server());
    await pub.client.publishAsync(`${root}/1/x`, 'a', { qos: 1, retain: true });
    await pub.client.publishAsync(`${root}/2/x`, 'b', { qos: 1, retain: true });
    await pub.client.publishAsync(`${root}/3/y`, 'c', { qos: 1, retain: true });
    await pub.client.publishAsync(`${root}/3/y/z`, 'd', { qos: 0, retain: true });

    const plus = await subscriber(server(), `${root}/+/x`, 1);
    const hash = await subscriber(server(), `${root}/#`, 1);
    // `${root}/9/x` matches both filters (and holds nothing retained).
    const [plusGot, hashGot] = await fenceWithSentinel(pub.client, `${root}/9/x`, [plus.inbox, hash.inbox]);
    assert.deepEqual(plusGot!.map((m) => m.text).sort(), ['a', 'b']);
    assert.deepEqual(hashGot!.map((m) => m.text).sort(), ['a', 'b', 'c', 'd']);
    for (const m of [...plus.inbox.messages, ...hash.inbox.messages]) assert.equal(m.packet.retain, true);
    // Retained QoS is min(stored QoS, subscription QoS).
    assert.equal(hash.inbox.messages.find((m) => m.text === 'd')!.packet.qos, 0);
  });

  test('retained delivery QoS = min(publish QoS, subscription QoS)', async () => {
    const topic = uid('retq');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'q2', { qos: 2, retain: true });
    const s0 = await subscriber(server(), topic, 0);
    const s1 = await subscriber(server(), topic, 1);
    const [m0] = await s0.inbox.waitFor(1);
    const [m1] = await s1.inbox.waitFor(1);
    assert.equal(m0!.packet.qos, 0);
    assert.equal(m1!.packet.qos, 1);
  });

  test('v5 Retain Handling 0: sent on every SUBSCRIBE, including a repeat', async () => {
    const topic = uid('rh0');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const sub = await connectClient(server(), { protocolVersion: 5 });
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 0 });
    await sub.inbox.waitFor(1);
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 0 });
    await sub.inbox.waitFor(2);
  });

  test('v5 Retain Handling 1: sent only if the subscription is new [MQTT-3.3.1-10]', async () => {
    const topic = uid('rh1');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const sub = await connectClient(server(), { protocolVersion: 5 });
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 1 });
    await sub.inbox.waitFor(1);
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, topic, sub.inbox), ['kept'], 'not re-sent for an existing subscription');
    // After unsubscribing, the subscription is new again.
    await sub.client.unsubscribeAsync(topic);
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 1 });
    await sub.inbox.waitFor(2);
  });

  test('v5 Retain Handling 2: never sent on SUBSCRIBE, live messages still arrive', async () => {
    const topic = uid('rh2');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const sub = await connectClient(server(), { protocolVersion: 5 });
    await sub.client.subscribeAsync(topic, { qos: 1, rh: 2 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, topic, sub.inbox), []);
    await pub.client.publishAsync(topic, 'live', { qos: 1 });
    await sub.inbox.waitFor(1);
    assert.deepEqual(sub.inbox.texts(), ['live']);
  });

  test('v5 Retain As Published: live forwards keep RETAIN=1 only with RAP [MQTT-3.3.1-12/13]', async () => {
    const topic = uid('rap');
    const withRap = await connectClient(server(), { protocolVersion: 5 });
    await withRap.client.subscribeAsync(topic, { qos: 1, rap: true });
    const noRap = await connectClient(server(), { protocolVersion: 5, transport: 'ws' });
    await noRap.client.subscribeAsync(topic, { qos: 1, rap: false });
    const v4 = await subscriber(server(), topic, 1, { protocolVersion: 4 });

    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'retained-live', { qos: 1, retain: true });
    await pub.client.publishAsync(topic, 'plain-live', { qos: 1, retain: false });
    const a = await withRap.inbox.waitFor(2);
    const b = await noRap.inbox.waitFor(2);
    const c = await v4.inbox.waitFor(2);
    assert.deepEqual(a.map((m) => [m.text, m.packet.retain]), [['retained-live', true], ['plain-live', false]]);
    assert.deepEqual(b.map((m) => [m.text, m.packet.retain]), [['retained-live', false], ['plain-live', false]]);
    assert.deepEqual(c.map((m) => [m.text, m.packet.retain]), [['retained-live', false], ['plain-live', false]]);
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
  });
});

describe('will messages', () => {
  for (const v of [4, 5] as const) {
    for (const transport of ['tcp', 'ws'] as const) {
      test(`${vname(v)} over ${transport}: sent when the socket is destroyed without DISCONNECT`, async () => {
        const willTopic = uid('will');
        const watcher = await subscriber(server(), willTopic, 1);
        const raw = await rawConnect(transport, server(), { protocolVersion: v });
        const ack = await raw.connect({
          will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false },
        });
        assert.equal(v === 5 ? ack.reasonCode : ack.returnCode, 0);
        raw.destroy();
        const [m] = await watcher.inbox.waitFor(1, 3_000);
        assert.equal(m!.text, 'gone');
        assert.equal(m!.packet.qos, 1);
      });
    }

    test(`${vname(v)}: not sent after a normal DISCONNECT [MQTT-3.1.2-10]`, async () => {
      const willTopic = uid('nowill');
      const clientId = uid('c');
      const watcher = await subscriber(server(), [willTopic, disconnectedEvent(clientId)], 1);
      const c = await connectClient(server(), {
        protocolVersion: v,
        clientId,
        will: { topic: willTopic, payload: Buffer.from('should-not'), qos: 1, retain: false },
      });
      await disconnect(c.client);
      // The server has ended the connection (and would have published the will by now) ...
      await watcher.inbox.waitFor(1, 3_000, (m) => m.topic === disconnectedEvent(clientId));
      // ... so a sentinel on the will topic comes after it.
      const fence = await connectClient(server());
      const [before] = await fenceWithSentinel(fence.client, willTopic, [watcher.inbox]);
      assert.deepEqual(before!.filter((m) => m.topic === willTopic).map((m) => m.text), []);
    });
  }

  test('v5: sent after DISCONNECT with reason 0x04 (Disconnect with Will Message)', async () => {
    const willTopic = uid('will04');
    const watcher = await subscriber(server(), willTopic, 1);
    const c = await connectClient(server(), {
      protocolVersion: 5,
      will: { topic: willTopic, payload: Buffer.from('asked-for'), qos: 1, retain: false },
    });
    await disconnect(c.client, { reasonCode: 0x04 });
    const [m] = await watcher.inbox.waitFor(1, 3_000);
    assert.equal(m!.text, 'asked-for');
  });

  test('retained will is stored as a retained message', async () => {
    const willTopic = uid('willret');
    const clientId = uid('c');
    const watcher = await subscriber(server(), disconnectedEvent(clientId), 1);
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    await raw.connect({ clientId, will: { topic: willTopic, payload: Buffer.from('last-words'), qos: 1, retain: true } });
    raw.destroy();
    // Stored with the will, in the step that published this event.
    await watcher.inbox.waitFor(1, 3_000);
    const later = await subscriber(server(), willTopic, 1);
    const [m] = await later.inbox.waitFor(1, 3_000);
    assert.equal(m!.text, 'last-words');
    assert.equal(m!.packet.retain, true);
    const pub = await connectClient(server());
    await pub.client.publishAsync(willTopic, '', { qos: 1, retain: true });
  });

  test('v5 Will Delay Interval: published after the delay, not before', async () => {
    const willTopic = uid('willdelay');
    const watcher = await subscriber(server(), willTopic, 1);
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({
      clientId: uid('delayed'),
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: willTopic, payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    });
    const t0 = Date.now();
    raw.destroy();
    const [m] = await watcher.inbox.waitFor(1, 6_000);
    const elapsed = m!.at - t0;
    assert.equal(m!.text, 'late');
    assert.ok(elapsed >= 1_800, `will published after ${elapsed} ms, before the 2 s delay`);
    assert.ok(elapsed <= 4_500, `will published after ${elapsed} ms`);
  });

  test('v5 Will Delay Interval: cancelled when the client reconnects within the delay', async () => {
    const willTopic = uid('willcancel');
    const clientId = uid('cancel');
    const watcher = await subscriber(server(), willTopic, 1);
    const connect = {
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    };
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({
      ...connect,
      will: { topic: willTopic, payload: Buffer.from('cancelled'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    });
    raw.destroy();
    await sleep(300);
    const back = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await back.connect(connect);
    assert.equal(ack.sessionPresent, true);
    await sleep(3_000);
    assert.deepEqual(watcher.inbox.texts(), [], 'will must not be sent once the session reconnected [MQTT-3.1.3-9]');
  });

  test('v5 Will Delay: a reconnect with Clean Start=1 ends the old session, so the will is published', async () => {
    const willTopic = uid('willclean');
    const clientId = uid('willclean-c');
    const watcher = await subscriber(server(), willTopic, 1);
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: willTopic, payload: Buffer.from('session-replaced'), qos: 1, retain: false, properties: { willDelayInterval: 30 } },
    });
    raw.destroy();
    await sleep(200);
    const back = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await back.connect({ clientId, clean: true });
    assert.equal(ack.sessionPresent, false);
    const [m] = await watcher.inbox.waitFor(1, 3_000);
    assert.equal(m!.text, 'session-replaced');
  });

  test('v5 Will Delay: a takeover with Clean Start=0 within the delay does not publish the will', async () => {
    const willTopic = uid('willtake');
    const clientId = uid('willtake-c');
    const watcher = await subscriber(server(), willTopic, 1);
    const first = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await first.connect({
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: willTopic, payload: Buffer.from('should-not'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    });
    const second = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await second.connect({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(ack.sessionPresent, true);
    await first.waitClosed();
    await sleep(3_000);
    assert.deepEqual(watcher.inbox.texts(), []);
  });

  test('v5 will is published when the session expires before the will delay', async () => {
    const willTopic = uid('willexp');
    const watcher = await subscriber(server(), willTopic, 1);
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({
      clientId: uid('willexp'),
      properties: { sessionExpiryInterval: 1 },
      will: { topic: willTopic, payload: Buffer.from('session-ended'), qos: 1, retain: false, properties: { willDelayInterval: 30 } },
    });
    raw.destroy();
    await watcher.inbox.waitFor(1, 4_000);
  });

  test('v5 will properties are forwarded (user properties, content type, response topic, correlation data)', async () => {
    const willTopic = uid('willprops');
    const watcher = await subscriber(server(), willTopic, 1, { protocolVersion: 5 });
    const raw = await rawConnect('ws', server(), { protocolVersion: 5 });
    await raw.connect({
      will: {
        topic: willTopic,
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: false,
        properties: {
          contentType: 'application/json',
          payloadFormatIndicator: true,
          responseTopic: 'reply/here',
          correlationData: Buffer.from([1, 2, 3]),
          userProperties: { device: 'd1', reason: 'lost' },
        },
      },
    });
    raw.destroy();
    const [m] = await watcher.inbox.waitFor(1, 3_000);
    const p = m!.packet.properties ?? {};
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.responseTopic, 'reply/here');
    assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]));
    assert.deepEqual({ ...p.userProperties }, { device: 'd1', reason: 'lost' });
  });
});
