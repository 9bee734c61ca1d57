// MQTT 5 features end to end: CONNACK properties, topic aliases, message expiry, forwarded
// publish properties, subscription identifiers, No Local, Request Problem Information,
// Receive Maximum and Maximum Packet Size in both directions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket, IPubackPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { connectClient, disconnect, sleep, subscriber, uid, waitUntil } from '../helpers/clients.js';
import { rawConnect } from '../helpers/raw-client.js';
import { fenceWithSentinel, rawPublishesBeforeSentinel, textsBeforeSentinel } from '../helpers/sentinel.js';
import { freshServer, installCleanup, useServer } from '../helpers/suite.js';

const server = useServer();
installCleanup();

describe('CONNACK properties', () => {
  test('advertises the configured limits (Receive Maximum, Maximum Packet Size, Topic Alias Maximum)', async () => {
    const c = await connectClient(server(), { protocolVersion: 5 });
    const p = c.connack.properties ?? {};
    assert.equal(c.connack.reasonCode, 0);
    // Defaults from src/config/schema.ts: maxInflightMessages 100, maxPacketBytes 131072, topicAliasMaximum 8.
    assert.equal(p.receiveMaximum, 100);
    assert.equal(p.maximumPacketSize, 131072, 'a server that enforces a packet size limit must advertise it');
    assert.equal(p.topicAliasMaximum, 8);
    // Features that work must not be announced as unavailable (v5 §3.2.2.3: absent means available).
    assert.notEqual(p.retainAvailable, false);
    assert.notEqual(p.wildcardSubscriptionAvailable, false);
    assert.notEqual(p.sharedSubscriptionAvailable, false);
    assert.notEqual(p.subscriptionIdentifiersAvailable, false);
    assert.ok(p.maximumQoS === undefined || p.maximumQoS === 2 || p.maximumQoS === 1, `maximumQoS ${p.maximumQoS}`);
  });
});

describe('Receive Maximum (client -> server)', () => {
  test('more unreleased QoS 2 PUBLISHes than the server Receive Maximum -> DISCONNECT 0x93', async () => {
    const srv = await freshServer({ limits: { maxInflightMessages: 2 } });
    try {
      const raw = await rawConnect('tcp', srv, { protocolVersion: 5 });
      const ack = await raw.connect();
      assert.equal(ack.properties?.receiveMaximum, 2);
      for (const id of [1, 2, 3]) {
        raw.send({ cmd: 'publish', topic: 'rm/in', payload: Buffer.from('x'), qos: 2, messageId: id, dup: false, retain: false });
      }
      await raw.waitClosed();
      assert.equal(raw.received('pubrec').length, 2);
      assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x93, raw.describe());
    } finally {
      await srv.stop();
    }
  });
});

describe('topic aliases', () => {
  test('a PUBLISH with an alias and an empty topic is delivered under the aliased topic', async () => {
    const topic = `${uid('alias')}/x`;
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 4 });
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'first', { qos: 1, properties: { topicAlias: 1 } });
    await pub.client.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 1 } });
    await pub.client.publishAsync('', 'third', { qos: 0, properties: { topicAlias: 1 } });
    const msgs = await sub.inbox.waitFor(3);
    assert.deepEqual(
      msgs.map((m) => [m.topic, m.text]),
      [
        [topic, 'first'],
        [topic, 'second'],
        [topic, 'third'],
      ],
    );
  });

  test('aliases are per connection and can be re-mapped', async () => {
    const root = uid('alias2');
    const sub = await subscriber(server(), `${root}/#`, 1, { protocolVersion: 5 });
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(`${root}/a`, '1', { qos: 1, properties: { topicAlias: 2 } });
    await pub.client.publishAsync(`${root}/b`, '2', { qos: 1, properties: { topicAlias: 2 } });
    await pub.client.publishAsync('', '3', { qos: 1, properties: { topicAlias: 2 } });
    const msgs = await sub.inbox.waitFor(3);
    assert.deepEqual(
      msgs.map((m) => [m.topic, m.text]),
      [
        [`${root}/a`, '1'],
        [`${root}/b`, '2'],
        [`${root}/b`, '3'],
      ],
    );
    // The alias is not delivered to the subscriber (it did not ask for aliases).
    for (const m of msgs) assert.equal(m.packet.properties?.topicAlias, undefined);
  });

  test('an alias above the advertised maximum -> DISCONNECT 0x94 [MQTT-3.3.2-9]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: 9 } });
    await raw.waitClosed();
    assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x94, raw.describe());
  });

  test('an unknown alias with an empty topic -> DISCONNECT (0x82 protocol error)', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: 3 } });
    await raw.waitClosed();
    const d = raw.received<IDisconnectPacket>('disconnect')[0];
    assert.ok(d, raw.describe());
    assert.ok(d.reasonCode === 0x82 || d.reasonCode === 0x94, `reason 0x${d.reasonCode?.toString(16)}`);
  });

  test('server -> client aliases, if used, stay within the client Topic Alias Maximum [MQTT-3.3.2-11]', async () => {
    const root = uid('alias-out');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ properties: { topicAliasMaximum: 2 } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${root}/#`, qos: 0 }] });
    await raw.expect('suback');
    const pub = await connectClient(server(), { protocolVersion: 4 });
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const topic = `${root}/${i % 4}`;
      sent.push(topic);
      await pub.client.publishAsync(topic, String(i), { qos: 1 });
    }
    await waitUntil(() => raw.received('publish').length >= 20, 3_000, '20 publishes');
    const aliases = new Map<number, string>();
    const resolved = raw.received<IPublishPacket>('publish').map((p) => {
      const alias = p.properties?.topicAlias;
      if (alias !== undefined) {
        assert.ok(alias >= 1 && alias <= 2, `alias ${alias} outside 1..2`);
        if (p.topic) aliases.set(alias, p.topic);
        else assert.ok(aliases.has(alias), `alias ${alias} used before it was set`);
        return p.topic || aliases.get(alias)!;
      }
      assert.ok(p.topic.length > 0, 'empty topic without an alias');
      return p.topic;
    });
    assert.deepEqual(resolved, sent);
  });

  test('a subscriber advertising Topic Alias Maximum still gets correct topics', async () => {
    const root = uid('alias3');
    const sub = await subscriber(server(), `${root}/#`, 1, { protocolVersion: 5, properties: { topicAliasMaximum: 4 } });
    const pub = await connectClient(server(), { protocolVersion: 4 });
    for (let i = 0; i < 6; i++) await pub.client.publishAsync(`${root}/${i % 2}`, String(i), { qos: 1 });
    const msgs = await sub.inbox.waitFor(6);
    assert.deepEqual(
      msgs.map((m) => m.topic),
      [0, 1, 0, 1, 0, 1].map((i) => `${root}/${i}`),
    );
  });
});

describe('message expiry', () => {
  test('an expired queued message is dropped; a live one arrives with the remaining interval [MQTT-3.3.2-5/6]', async () => {
    const clientId = uid('expiry');
    const topic = uid('expiry-t');
    const persistent = { protocolVersion: 5 as const, clean: false, clientId, properties: { sessionExpiryInterval: 300 } };
    const a = await connectClient(server(), persistent);
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);

    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.client.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await sleep(2_500);

    const b = await connectClient(server(), persistent);
    assert.equal(b.connack.sessionPresent, true);
    const [m] = await b.inbox.waitFor(1);
    await sleep(300);
    assert.deepEqual(b.inbox.texts(), ['long'], 'the expired message is not delivered');
    const remaining = m!.packet.properties?.messageExpiryInterval;
    assert.equal(typeof remaining, 'number', 'Message Expiry Interval is forwarded');
    assert.ok(remaining! <= 59 && remaining! >= 50, `remaining interval ${remaining} after waiting 2.5 s`);
  });

  test('a live message keeps its expiry interval; one without expiry has none', async () => {
    const topic = uid('expiry-live');
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 5 });
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'e', { qos: 1, properties: { messageExpiryInterval: 30 } });
    await pub.client.publishAsync(topic, 'n', { qos: 1 });
    const [e, n] = await sub.inbox.waitFor(2);
    assert.ok(e!.packet.properties!.messageExpiryInterval! <= 30 && e!.packet.properties!.messageExpiryInterval! >= 29);
    assert.equal(n!.packet.properties?.messageExpiryInterval, undefined);
  });

  test('a retained message is delivered on subscribe with its remaining expiry interval', async () => {
    const topic = uid('expiry-ret-left');
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'aging', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    await sleep(2_100);
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 5 });
    const [m] = await sub.inbox.waitFor(1);
    const left = m!.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left <= 58 && left >= 50, `remaining ${left} after ~2 s [MQTT-3.3.2-6]`);
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
  });

  test('an expired retained message is not delivered on subscribe', async () => {
    const topic = uid('expiry-ret');
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'soon-gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await sleep(2_200);
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 5 });
    await sleep(400);
    assert.deepEqual(sub.inbox.texts(), []);
  });
});

describe('publish properties are forwarded unchanged [MQTT-3.3.2-15..20]', () => {
  test('user properties (order and repeats), content type, payload format, response topic, correlation data', async () => {
    const topic = uid('props');
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 5, transport: 'ws' });
    const v4 = await subscriber(server(), topic, 1, { protocolVersion: 4 });
    const pub = await connectClient(server(), { protocolVersion: 5 });
    const properties = {
      userProperties: { a: '1', b: ['x', 'y'], 'ü-key': 'välue' },
      contentType: 'application/cbor',
      payloadFormatIndicator: false,
      responseTopic: 'replies/abc',
      correlationData: Buffer.from('c0ffee', 'hex'),
    };
    await pub.client.publishAsync(topic, Buffer.from([0xff, 0x00, 0x10]), { qos: 1, properties });
    await pub.client.publishAsync(topic, 'text', { qos: 1, properties: { payloadFormatIndicator: true } });
    const [m, t] = await sub.inbox.waitFor(2);
    const p = m!.packet.properties ?? {};
    assert.deepEqual(m!.payload, Buffer.from([0xff, 0x00, 0x10]));
    assert.deepEqual({ ...p.userProperties }, properties.userProperties);
    assert.equal(p.contentType, 'application/cbor');
    assert.ok(!p.payloadFormatIndicator);
    assert.equal(p.responseTopic, 'replies/abc');
    assert.deepEqual(p.correlationData, Buffer.from('c0ffee', 'hex'));
    assert.equal(t!.packet.properties?.payloadFormatIndicator, true);
    // A v3.1.1 subscriber gets the same payload (and no properties).
    const [w] = await v4.inbox.waitFor(2);
    assert.deepEqual(w!.payload, Buffer.from([0xff, 0x00, 0x10]));
  });

  test('request/response: a responder replies on the response topic with the correlation data', async () => {
    const root = uid('rr');
    const responder = await subscriber(server(), `${root}/req`, 1, { protocolVersion: 5 });
    responder.client.on('message', (_topic, payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      if (responseTopic) {
        responder.client.publish(responseTopic, `re:${payload}`, { qos: 1, properties: { correlationData } });
      }
    });
    const requester = await subscriber(server(), `${root}/res`, 1, { protocolVersion: 5 });
    await requester.client.publishAsync(`${root}/req`, 'q', {
      qos: 1,
      properties: { responseTopic: `${root}/res`, correlationData: Buffer.from('id-42') },
    });
    const [r] = await requester.inbox.waitFor(1);
    assert.equal(r!.text, 're:q');
    assert.deepEqual(r!.packet.properties?.correlationData, Buffer.from('id-42'));
  });
});

describe('subscription identifiers', () => {
  test('each delivery carries the identifiers of the matching subscriptions [MQTT-3.3.4-3/4]', async () => {
    const root = uid('subid');
    const sub = await connectClient(server(), { protocolVersion: 5 });
    await sub.client.subscribeAsync(`${root}/+`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await sub.client.subscribeAsync(`${root}/#`, { qos: 1, properties: { subscriptionIdentifier: 300 } });
    await sub.client.subscribeAsync(`${root}/only/plain`, { qos: 1 });
    const pub = await connectClient(server());
    await pub.client.publishAsync(`${root}/a`, 'both', { qos: 1 });
    // Every copy of 'both' (one PUBLISH with both ids, or one per subscription) is in once a
    // sentinel on the same topic arrives.
    const [beforeBoth] = await fenceWithSentinel(pub.client, `${root}/a`, [sub.inbox]);
    const ids = new Set<number>();
    for (const m of beforeBoth!.filter((x) => x.text === 'both')) {
      const sid = m.packet.properties?.subscriptionIdentifier;
      for (const id of Array.isArray(sid) ? sid : sid === undefined ? [] : [sid]) ids.add(id);
    }
    assert.deepEqual([...ids].sort((x, y) => x - y), [7, 300]);

    await pub.client.publishAsync(`${root}/only/plain`, 'deep', { qos: 1 });
    const [beforeDeep] = await fenceWithSentinel(pub.client, `${root}/only/plain`, [sub.inbox]);
    const deep = beforeDeep!.filter((m) => m.text === 'deep');
    const deepIds = new Set<number>();
    for (const m of deep) {
      const sid = m.packet.properties?.subscriptionIdentifier;
      for (const id of Array.isArray(sid) ? sid : sid === undefined ? [] : [sid]) deepIds.add(id);
    }
    assert.ok(deep.length >= 1);
    assert.deepEqual([...deepIds], [300], 'only the # subscription had an identifier');
  });

  test('a retained message delivered on subscribe carries the new subscription identifier', async () => {
    const topic = uid('subid-ret');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'r', { qos: 1, retain: true });
    const sub = await connectClient(server(), { protocolVersion: 5 });
    await sub.client.subscribeAsync(topic, { qos: 1, properties: { subscriptionIdentifier: 42 } });
    const [m] = await sub.inbox.waitFor(1);
    const sid = m!.packet.properties?.subscriptionIdentifier;
    assert.deepEqual(Array.isArray(sid) ? sid : [sid], [42]);
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
  });
});

describe('No Local', () => {
  test('No Local on a shared subscription is a protocol error [MQTT-3.8.3-4]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/${uid('nlshare')}`, qos: 1, nl: true }] });
    await raw.waitClosed();
    assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x82, raw.describe());
  });

  test('own messages are not echoed with nl=1, are with nl=0 [MQTT-3.8.3-3]', async () => {
    const root = uid('nl');
    const self = await connectClient(server(), { protocolVersion: 5 });
    await self.client.subscribeAsync(`${root}/quiet`, { qos: 1, nl: true });
    await self.client.subscribeAsync(`${root}/echo`, { qos: 1, nl: false });
    const other = await subscriber(server(), `${root}/#`, 1);
    await self.client.publishAsync(`${root}/quiet`, 'q', { qos: 1 });
    await self.client.publishAsync(`${root}/echo`, 'e', { qos: 1 });
    await other.inbox.waitFor(2);
    // Someone else's message on the echo subscription comes after anything self's own two sent it.
    assert.deepEqual(await textsBeforeSentinel(other.client, `${root}/echo`, self.inbox), ['e']);
    // Messages from someone else still arrive on the nl subscription.
    await other.client.publishAsync(`${root}/quiet`, 'from-other', { qos: 1 });
    await self.inbox.waitFor(2);
  });
});

describe('Request Problem Information', () => {
  test('=0: no Reason String / User Properties on a SUBACK failure [MQTT-3.1.2-29]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ properties: { requestProblemInformation: false } });
    raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }] });
    const suback = (await raw.expect('suback')) as ISubackPacket;
    assert.deepEqual(suback.granted, [0x8f]);
    assert.equal(suback.properties?.reasonString, undefined);
    assert.equal(suback.properties?.userProperties, undefined);
  });

  test('=0: a refused PUBLISH is acknowledged without a Reason String', async (t) => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ properties: { requestProblemInformation: false } });
    // The server refuses client publishes to $-topics; any refusal will do.
    raw.send({ cmd: 'publish', topic: '$refused/x', payload: Buffer.from('x'), qos: 1, messageId: 5, dup: false, retain: false });
    const puback = (await raw.expect('puback')) as IPubackPacket;
    if ((puback.reasonCode ?? 0) < 0x80) {
      t.skip('publishing to $refused/x was accepted: no refusal to inspect');
      return;
    }
    assert.equal(puback.properties?.reasonString, undefined);
    assert.equal(puback.properties?.userProperties, undefined);
  });

  test('default (=1): the SUBACK failure is still well formed', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }] });
    const suback = (await raw.expect('suback')) as ISubackPacket;
    assert.deepEqual(suback.granted, [0x8f]);
  });
});

describe('Receive Maximum (server -> client flow control) [MQTT-3.3.4-9]', () => {
  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport}: a client advertising receiveMaximum 2 that never acks gets at most 2 QoS 1 publishes`, async () => {
      const topic = uid('rm');
      const raw = await rawConnect(transport, server(), { protocolVersion: 5 });
      await raw.connect({ properties: { receiveMaximum: 2 } });
      // The fence topic at QoS 0: its sentinels pass a full QoS 1 window (QoS 0 is not counted).
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }, { topic: `${topic}/fence`, qos: 0 }] });
      await raw.expect('suback');
      const pub = await connectClient(server(), { protocolVersion: 5 });
      for (let i = 0; i < 6; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
      const ofTopic = (ps: IPublishPacket[]) => ps.filter((p) => p.topic === topic);
      const got = ofTopic(await rawPublishesBeforeSentinel(raw, pub.client, `${topic}/fence`));
      assert.equal(got.length, 2, `received ${got.length} unacknowledged QoS 1 publishes`);
      assert.deepEqual(got.map((p) => p.payload.toString()), ['m0', 'm1']);

      // Acknowledging one frees one slot: the next message (in order) follows.
      raw.send({ cmd: 'puback', messageId: got[0]!.messageId! });
      await waitUntil(() => raw.received<IPublishPacket>('publish').some((p) => p.payload.toString() === 'm2'), 3_000, 'the third publish after a PUBACK');
      const after = ofTopic(await rawPublishesBeforeSentinel(raw, pub.client, `${topic}/fence`));
      assert.equal(after.length, 3, `after one PUBACK: ${after.map((p) => p.payload.toString())}`);
      assert.equal(after[2]!.payload.toString(), 'm2');
    });
  }

  test('QoS 0 is not limited by Receive Maximum', async () => {
    const topic = uid('rm0');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ properties: { receiveMaximum: 1 } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await raw.expect('suback');
    const pub = await connectClient(server(), { protocolVersion: 5 });
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
    await waitUntil(() => raw.received('publish').length >= 5, 3_000, '5 QoS 0 publishes');
  });
});

describe('Maximum Packet Size', () => {
  test('server -> client: a message larger than the client maximum is not sent to it [MQTT-3.1.2-25]', async () => {
    const topic = uid('mps');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ properties: { maximumPacketSize: 200 } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await raw.expect('suback');
    const other = await subscriber(server(), topic, 1, { protocolVersion: 5 });
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'x'.repeat(500), { qos: 1 });
    await pub.client.publishAsync(topic, 'small', { qos: 1 });
    await other.inbox.waitFor(2);
    // 'small' was published after the large one on the same subscription: it is its sentinel.
    await waitUntil(() => raw.received('publish').length >= 1, 3_000, 'the small message');
    const got = raw.received<IPublishPacket>('publish');
    assert.deepEqual(got.map((p) => p.payload.toString()), ['small']);
    assert.equal(raw.closed, false);
    assert.ok(raw.bytesReceived < 400, `received ${raw.bytesReceived} bytes in total`);
  });

  for (const v of [4, 5] as const) {
    test(`client -> server: a 200 KB PUBLISH from a v${v === 4 ? '3.1.1' : '5'} client is refused`, async () => {
      const topic = uid('big');
      const sub = await subscriber(server(), topic, 1);
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      await raw.connect();
      raw.send({ cmd: 'publish', topic, payload: Buffer.alloc(200 * 1024, 0x61), qos: 1, messageId: 1, dup: false, retain: false });
      await raw.waitClosed(5_000);
      if (v === 5) {
        const d = raw.received<IDisconnectPacket>('disconnect')[0];
        assert.ok(d, `expected DISCONNECT before close: ${raw.describe()}`);
        assert.equal(d.reasonCode, 0x95, 'Packet too large');
      }
      assert.equal(raw.received('puback').length, 0);
      // The server closed raw after reading the oversize PUBLISH: a sentinel sent now comes after it.
      const fence = await connectClient(server(), { protocolVersion: 5 });
      assert.deepEqual(await textsBeforeSentinel(fence.client, topic, sub.inbox), [], 'the oversize message was not routed');
    });
  }
});

