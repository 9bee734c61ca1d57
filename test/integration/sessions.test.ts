// Sessions: persistence across connections (v3.1.1 clean=false, v5 Clean Start=false + Session
// Expiry), clean sessions, session expiry at DISCONNECT, the bounded offline queue,
// redelivery with DUP=1, session takeover, empty client ids and keep-alive.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import {
  connectClient,
  disconnect,
  publishMany,
  sleep,
  subscriber,
  uid,
  waitUntil,
  type ProtocolVersion,
} from '../helpers/clients.js';
import { rawConnect, type RawClient } from '../helpers/raw-client.js';
import { rawPublishesBeforeSentinel, textsBeforeSentinel } from '../helpers/sentinel.js';
import { freshServer, installCleanup, useServer } from '../helpers/suite.js';

const server = useServer();
installCleanup();

const vname = (v: ProtocolVersion) => (v === 4 ? 'v3.1.1' : 'v5');

/** Connect options for a session that outlives the connection. */
const persistent = (v: ProtocolVersion, clientId: string) =>
  v === 4
    ? { protocolVersion: 4 as const, clean: false, clientId }
    : { protocolVersion: 5 as const, clean: false, clientId, properties: { sessionExpiryInterval: 300 } };

describe('persistent sessions', () => {
  for (const v of [4, 5] as const) {
    for (const transport of ['tcp', 'ws'] as const) {
      test(`${vname(v)} over ${transport}: QoS 1 and 2 published while offline arrive after reconnect with sessionPresent`, async () => {
        const clientId = uid('persist');
        const root = uid('off');
        const first = await connectClient(server(), { ...persistent(v, clientId), transport });
        assert.equal(first.connack.sessionPresent, false, 'a new session is not present');
        await first.client.subscribeAsync({ [`${root}/q1`]: { qos: 1 }, [`${root}/q2`]: { qos: 2 } });
        await disconnect(first.client);

        const pub = await connectClient(server(), { protocolVersion: v === 4 ? 5 : 4 });
        await pub.client.publishAsync(`${root}/q1`, 'one-a', { qos: 1 });
        await pub.client.publishAsync(`${root}/q2`, 'two-a', { qos: 2 });
        await pub.client.publishAsync(`${root}/q1`, 'one-b', { qos: 1 });
        await pub.client.publishAsync(`${root}/q2`, 'two-b', { qos: 2 });

        const again = await connectClient(server(), { ...persistent(v, clientId), transport });
        assert.equal(again.connack.sessionPresent, true);
        const msgs = await again.inbox.waitFor(4);
        assert.deepEqual(
          msgs.filter((m) => m.topic.endsWith('q1')).map((m) => [m.text, m.packet.qos]),
          [
            ['one-a', 1],
            ['one-b', 1],
          ],
          'QoS 1 in order',
        );
        assert.deepEqual(
          msgs.filter((m) => m.topic.endsWith('q2')).map((m) => [m.text, m.packet.qos]),
          [
            ['two-a', 2],
            ['two-b', 2],
          ],
          'QoS 2 in order',
        );
        // The subscriptions survived too: a live message arrives without re-subscribing.
        await pub.client.publishAsync(`${root}/q1`, 'live', { qos: 1 });
        await again.inbox.waitFor(5);
        await textsBeforeSentinel(pub.client, `${root}/q1`, again.inbox);
        assert.equal(again.inbox.messages.length, 5, 'no duplicates');
      });
    }
  }

  test('v3.1.1: clean=true discards the stored session [MQTT-3.1.2-6]', async () => {
    const clientId = uid('clean');
    const topic = uid('cleantopic');
    const a = await connectClient(server(), persistent(4, clientId));
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);

    const b = await connectClient(server(), { protocolVersion: 4, clean: true, clientId });
    assert.equal(b.connack.sessionPresent, false, 'clean=true: sessionPresent must be 0 [MQTT-3.2.2-1]');
    await disconnect(b.client);

    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'lost', { qos: 1 });

    const c = await connectClient(server(), persistent(4, clientId));
    assert.equal(c.connack.sessionPresent, false, 'the old session was discarded');
    // Nothing queued, nothing subscribed: a sentinel through a new subscription comes first.
    await c.client.subscribeAsync(topic, { qos: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, topic, c.inbox), []);
  });

  test('v5: Clean Start=true discards the stored session', async () => {
    const clientId = uid('clean5');
    const topic = uid('clean5topic');
    const a = await connectClient(server(), persistent(5, clientId));
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);
    const b = await connectClient(server(), { ...persistent(5, clientId), clean: true });
    assert.equal(b.connack.sessionPresent, false);
    await disconnect(b.client);
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'lost', { qos: 1 });
    const c = await connectClient(server(), persistent(5, clientId));
    // b had Session Expiry 300 too, so a (subscription-less) session is present.
    assert.equal(c.connack.sessionPresent, true);
    // The sentinel reaches c through a fence subscription made now; a surviving subscription to
    // `topic` would have delivered 'lost' (queued) before it.
    await c.client.subscribeAsync(`${topic}/fence`, { qos: 1 });
    await pub.client.publishAsync(topic, 'live', { qos: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, `${topic}/fence`, c.inbox), [], 'the subscription was discarded with the old session');
  });

  test('v5: Session Expiry 0 at DISCONNECT ends the session [MQTT-3.14.2]', async () => {
    const clientId = uid('exp0');
    const topic = uid('exp0topic');
    const a = await connectClient(server(), persistent(5, clientId));
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'nobody', { qos: 1 });
    const b = await connectClient(server(), persistent(5, clientId));
    assert.equal(b.connack.sessionPresent, false);
    await b.client.subscribeAsync(`${topic}/fence`, { qos: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, `${topic}/fence`, b.inbox), []);
  });

  test('v5: no Session Expiry in CONNECT means the session ends with the connection', async () => {
    const clientId = uid('exp-absent');
    const topic = uid('exp-absent-t');
    const a = await connectClient(server(), { protocolVersion: 5, clean: false, clientId });
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'nobody', { qos: 1 });
    const b = await connectClient(server(), { protocolVersion: 5, clean: false, clientId });
    assert.equal(b.connack.sessionPresent, false);
    await b.client.subscribeAsync(`${topic}/fence`, { qos: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, `${topic}/fence`, b.inbox), []);
  });

  test('v5: the session expires after its Session Expiry Interval', async () => {
    const clientId = uid('expires');
    const topic = uid('expires-t');
    const a = await connectClient(server(), { protocolVersion: 5, clean: false, clientId, properties: { sessionExpiryInterval: 1 } });
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'queued-then-expired', { qos: 1 });
    await sleep(2_300);
    const b = await connectClient(server(), { protocolVersion: 5, clean: false, clientId, properties: { sessionExpiryInterval: 1 } });
    assert.equal(b.connack.sessionPresent, false, 'the session expired 1 s after disconnect');
    await sleep(300);
    assert.deepEqual(b.inbox.texts(), []);
  });

  test('v3.1.1: a persistent session expires after limits.defaultSessionExpirySeconds', async () => {
    const srv = await freshServer({ limits: { defaultSessionExpirySeconds: 1 } });
    try {
      const clientId = uid('v3expires');
      const a = await connectClient(srv, persistent(4, clientId));
      await a.client.subscribeAsync(uid('v3expires-t'), { qos: 1 });
      await disconnect(a.client);
      const soon = await connectClient(srv, persistent(4, clientId));
      assert.equal(soon.connack.sessionPresent, true, 'still there right after disconnect');
      await disconnect(soon.client);
      await sleep(2_300);
      const late = await connectClient(srv, persistent(4, clientId));
      assert.equal(late.connack.sessionPresent, false);
    } finally {
      await srv.stop();
    }
  });

  test('v5: a non-zero Session Expiry at DISCONNECT after 0 at CONNECT is a protocol error [MQTT-3.14.2-2]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect({ clientId: uid('exp-raise') });
    raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    await raw.waitClosed();
    const d = raw.received<IDisconnectPacket>('disconnect')[0];
    assert.ok(d, `expected DISCONNECT 0x82 from the server, got ${raw.describe()}`);
    assert.equal(d.reasonCode, 0x82);
  });

  test('v5: Session Expiry raised at DISCONNECT (from non-zero) keeps the session', async () => {
    const clientId = uid('exp-raise-ok');
    const topic = uid('exp-raise-ok-t');
    const a = await connectClient(server(), { protocolVersion: 5, clean: false, clientId, properties: { sessionExpiryInterval: 1 } });
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client, { reasonCode: 0, properties: { sessionExpiryInterval: 300 } });
    await sleep(1_800);
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'kept', { qos: 1 });
    const b = await connectClient(server(), persistent(5, clientId));
    assert.equal(b.connack.sessionPresent, true);
    await b.inbox.waitFor(1);
  });

  test('300 QoS 1 messages queued offline drain in order through the inflight window', async () => {
    const clientId = uid('drain');
    const topic = uid('drain-t');
    const a = await connectClient(server(), { ...persistent(5, clientId), transport: 'ws' });
    await a.client.subscribeAsync(topic, { qos: 1 });
    await disconnect(a.client);
    const pub = await connectClient(server());
    await Promise.all(Array.from({ length: 300 }, (_, i) => pub.client.publishAsync(topic, `d${i}`, { qos: 1 })));
    const b = await connectClient(server(), { ...persistent(5, clientId), transport: 'ws' });
    await b.inbox.waitFor(300, 10_000);
    assert.deepEqual(
      b.inbox.texts(),
      Array.from({ length: 300 }, (_, i) => `d${i}`),
    );
  });

  test('v5: CONNACK caps a Session Expiry above limits.maxSessionExpirySeconds', async () => {
    const c = await connectClient(server(), {
      protocolVersion: 5,
      clean: false,
      clientId: uid('capexp'),
      properties: { sessionExpiryInterval: 0xffffffff },
    });
    assert.equal(c.connack.properties?.sessionExpiryInterval, 604800);
  });

  for (const v of [4, 5] as const) {
    test(`${vname(v)}: the offline queue keeps only the newest limits.maxQueuedMessagesPerSession messages`, async () => {
      const srv = await freshServer({ limits: { maxQueuedMessagesPerSession: 5 } });
      try {
        const clientId = uid('queue');
        const topic = uid('queuet');
        const a = await connectClient(srv, persistent(v, clientId));
        await a.client.subscribeAsync(topic, { qos: 1 });
        await disconnect(a.client);
        const pub = await connectClient(srv);
        await publishMany(pub.client, topic, 12, 1, 'q');
        const b = await connectClient(srv, persistent(v, clientId));
        assert.equal(b.connack.sessionPresent, true);
        assert.deepEqual(await textsBeforeSentinel(pub.client, topic, b.inbox), ['q7', 'q8', 'q9', 'q10', 'q11']);
      } finally {
        await srv.stop();
      }
    });
  }
});

describe('redelivery of unacknowledged messages', () => {
  for (const v of [4, 5] as const) {
    for (const transport of ['tcp', 'ws'] as const) {
      test(`${vname(v)} over ${transport}: an unacked QoS 1 PUBLISH is re-sent with DUP=1 after reconnect [MQTT-4.4.0-1]`, async () => {
        const clientId = uid('redeliver');
        const topic = uid('redeliver-t');
        const connect = { clientId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) };

        const r1 = await rawConnect(transport, server(), { protocolVersion: v });
        await r1.connect(connect);
        r1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
        await r1.expect('suback');
        const pub = await connectClient(server());
        await pub.client.publishAsync(topic, 'unacked', { qos: 1 });
        const first = (await r1.expect('publish')) as IPublishPacket;
        assert.equal(first.qos, 1);
        assert.equal(first.dup, false, 'first delivery has DUP=0');
        r1.destroy(); // no PUBACK
        await r1.waitClosed();

        const r2 = await rawConnect(transport, server(), { protocolVersion: v });
        const ack = await r2.connect(connect);
        assert.equal(ack.sessionPresent, true);
        const again = (await r2.expect('publish')) as IPublishPacket;
        assert.equal(again.payload.toString(), 'unacked');
        assert.equal(again.qos, 1);
        assert.equal(again.dup, true, 'redelivery has DUP=1 [MQTT-3.3.1-1]');
        assert.equal(again.messageId, first.messageId, 'same packet identifier');
        // The server reads one connection's packets in order: PUBACK is handled before DISCONNECT.
        r2.send({ cmd: 'puback', messageId: again.messageId! });
        r2.send({ cmd: 'disconnect' });
        await r2.waitClosed();

        // Acknowledged: not sent a third time.
        const r3 = await rawConnect(transport, server(), { protocolVersion: v });
        await r3.connect(connect);
        // A redelivery is sent on resuming, before a sentinel published after CONNACK.
        assert.equal((await rawPublishesBeforeSentinel(r3, pub.client, topic)).length, 0, 'an acknowledged message is not redelivered');
      });
    }
  }

  test('v5: unacked messages are re-sent first (DUP=1), then the queued ones, in order', async () => {
    const clientId = uid('resend-order');
    const topic = uid('resend-order-t');
    const connect = { clientId, clean: false, properties: { sessionExpiryInterval: 300, receiveMaximum: 2 } };
    const r1 = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await r1.connect(connect);
    r1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await r1.expect('suback');
    const pub = await connectClient(server());
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
    await r1.expect('publish');
    await r1.expect('publish');
    assert.equal((await rawPublishesBeforeSentinel(r1, pub.client, topic)).length, 2, 'Receive Maximum 2 holds the rest back');
    r1.destroy();
    await r1.waitClosed();

    const r2 = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await r2.connect({ ...connect, properties: { sessionExpiryInterval: 300, receiveMaximum: 10 } });
    assert.equal(ack.sessionPresent, true);
    for (let i = 0; i < 5; i++) await r2.expect('publish');
    const got = r2.received<IPublishPacket>('publish').map((p) => [p.payload.toString(), p.dup]);
    assert.deepEqual(got, [
      ['m0', true],
      ['m1', true],
      ['m2', false],
      ['m3', false],
      ['m4', false],
    ]);
  });

  test('v3.1.1: after PUBREC, a reconnect re-sends PUBREL, not the PUBLISH', async () => {
    const clientId = uid('pubrel');
    const topic = uid('pubrel-t');
    const r1 = await rawConnect('tcp', server(), { protocolVersion: 4 });
    await r1.connect({ clientId, clean: false });
    r1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] });
    await r1.expect('suback');
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'exactly-once', { qos: 2 });
    const p = (await r1.expect('publish')) as IPublishPacket;
    assert.equal(p.qos, 2);
    r1.send({ cmd: 'pubrec', messageId: p.messageId! });
    const rel = await r1.expect('pubrel');
    assert.equal(rel.messageId, p.messageId);
    r1.destroy(); // no PUBCOMP
    await r1.waitClosed();

    const r2 = await rawConnect('tcp', server(), { protocolVersion: 4 });
    const ack = await r2.connect({ clientId, clean: false });
    assert.equal(ack.sessionPresent, true);
    const rel2 = await r2.expect('pubrel');
    assert.equal(rel2.messageId, p.messageId);
    assert.equal((await rawPublishesBeforeSentinel(r2, pub.client, topic)).length, 0, 'the PUBLISH is not sent again once PUBREC was received');
    r2.send({ cmd: 'pubcomp', messageId: p.messageId! });
  });
});

describe('session takeover (same client id)', () => {
  test('v5: the old connection gets DISCONNECT 0x8E; the newcomer with clean=false keeps the subscriptions', async () => {
    const clientId = uid('takeover5');
    const topic = uid('takeover5-t');
    const a = await connectClient(server(), persistent(5, clientId));
    await a.client.subscribeAsync(topic, { qos: 1 });
    const b = await connectClient(server(), { ...persistent(5, clientId), transport: 'ws' });
    assert.equal(b.connack.sessionPresent, true);
    const d = await a.inbox.waitForDisconnect();
    assert.equal(d.reasonCode, 0x8e, 'Session taken over [MQTT-3.1.4-3]');
    await a.inbox.waitForClose();

    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'to-newcomer', { qos: 1 });
    assert.deepEqual(await textsBeforeSentinel(pub.client, topic, b.inbox), ['to-newcomer']);
    // a was closed before the publish: it can have received nothing.
    assert.deepEqual(a.inbox.texts(), []);
  });

  test('v3.1.1: the old connection is closed; the newcomer with clean=false keeps the subscriptions', async () => {
    const clientId = uid('takeover4');
    const topic = uid('takeover4-t');
    const a = await connectClient(server(), persistent(4, clientId));
    await a.client.subscribeAsync(topic, { qos: 1 });
    const b = await connectClient(server(), persistent(4, clientId));
    assert.equal(b.connack.sessionPresent, true);
    await a.inbox.waitForClose();
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'to-newcomer', { qos: 1 });
    await b.inbox.waitFor(1);
    // a was closed before the publish: it can have received nothing.
    assert.deepEqual(a.inbox.texts(), []);
  });

  test('a v5 newcomer takes over a v3.1.1 session (old one closed)', async () => {
    const clientId = uid('takeover45');
    const a = await connectClient(server(), persistent(4, clientId));
    const b = await connectClient(server(), persistent(5, clientId));
    await a.inbox.waitForClose();
    assert.equal(b.inbox.closed, false);
  });

  test('eight simultaneous CONNECTs with one client id leave exactly one connected', async () => {
    const clientId = uid('race');
    const raws = await Promise.all(
      Array.from({ length: 8 }, (_, i) => rawConnect(i % 2 ? 'ws' : 'tcp', server(), { protocolVersion: i % 4 < 2 ? 4 : 5 })),
    );
    for (const r of raws) r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: r.protocolVersion, clientId, clean: false, keepalive: 0, ...(r.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) });
    await sleep(1_000);
    const open = raws.filter((r) => !r.closed);
    assert.equal(open.length, 1, `${open.length} connections still open`);
    const survivor = open[0]!;
    assert.equal(survivor.received('connack').length, 1);
    survivor.send({ cmd: 'pingreq' });
    await survivor.expect('pingresp');
    // And the id is usable afterwards.
    const next = await connectClient(server(), persistent(5, clientId));
    assert.equal(next.connack.sessionPresent, true);
    await waitUntil(() => survivor.closed, 3_000, 'the last one to be taken over');
  });

  test('v5: takeover publishes the old connection will (no delay) [MQTT-3.1.4-3]', async () => {
    const clientId = uid('takeover-will');
    const willTopic = uid('takeover-will-t');
    const watcher = await subscriber(server(), willTopic, 1);
    await connectClient(server(), {
      protocolVersion: 5,
      clientId,
      will: { topic: willTopic, payload: Buffer.from('taken'), qos: 1, retain: false },
    });
    await connectClient(server(), { protocolVersion: 5, clientId });
    const [m] = await watcher.inbox.waitFor(1, 3_000);
    assert.equal(m!.text, 'taken');
  });
});

describe('empty client id', () => {
  test('v5: the server assigns a client identifier in CONNACK', async () => {
    for (const transport of ['tcp', 'ws'] as const) {
      const c = await connectClient(server(), { protocolVersion: 5, clientId: '', clean: true, transport });
      const assigned = c.connack.properties?.assignedClientIdentifier;
      assert.equal(typeof assigned, 'string');
      assert.ok(assigned!.length > 0, 'Assigned Client Identifier is not empty [MQTT-3.2.2-16]');
      // And the connection works.
      const topic = uid('assigned');
      await c.client.subscribeAsync(topic, { qos: 1 });
      await c.client.publishAsync(topic, 'self', { qos: 1 });
      await c.inbox.waitFor(1);
    }
  });

  test('v5: two empty-id clients get different identifiers', async () => {
    const a = await connectClient(server(), { protocolVersion: 5, clientId: '' });
    const b = await connectClient(server(), { protocolVersion: 5, clientId: '' });
    assert.notEqual(a.connack.properties?.assignedClientIdentifier, b.connack.properties?.assignedClientIdentifier);
    assert.equal(a.inbox.closed, false, 'the second did not take over the first');
  });

  test('v5: an empty id with Clean Start=0 gets an assigned id whose session persists [MQTT-3.1.3-7]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    // By hand (mqtt-packet refuses to encode it): CONNECT "MQTT" 5, flags 0x00 (Clean Start=0),
    // keepalive 0, properties { Session Expiry Interval 60 }, client id of length 0.
    raw.sendBytes([0x10, 18, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x00, 0x00, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00]);
    const ack = (await raw.expect('connack')) as IConnackPacket;
    assert.equal(ack.reasonCode, 0, 'a server that allows empty ids processes the CONNECT as if the assigned id was given');
    const assigned = ack.properties?.assignedClientIdentifier;
    assert.ok(assigned, 'Assigned Client Identifier');
    const topic = uid('assigned-persist');
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await raw.expect('suback');
    raw.send({ cmd: 'disconnect' });
    await raw.waitClosed();
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'for-assigned', { qos: 1 });
    const back = await connectClient(server(), persistent(5, assigned));
    assert.equal(back.connack.sessionPresent, true);
    await back.inbox.waitFor(1);
  });

  test('v3.1.1: clean=true is accepted [MQTT-3.1.3-6]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    const ack = await raw.connect({ clientId: '', clean: true });
    assert.equal(ack.returnCode, 0);
    raw.send({ cmd: 'pingreq' });
    await raw.expect('pingresp');
  });

  test('v3.1.1: clean=false is refused with return code 2 and closed [MQTT-3.1.3-8]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    // mqtt-packet will not encode this, so by hand: CONNECT, "MQTT", level 4, flags 0x00
    // (clean=0), keepalive 0, client id of length 0.
    raw.sendBytes([0x10, 12, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const ack = (await raw.expect('connack')) as IConnackPacket;
    assert.equal(ack.returnCode, 2, 'identifier rejected');
    assert.equal(ack.sessionPresent, false, '[MQTT-3.2.2-4]');
    await raw.waitClosed();
  });
});

describe('keep-alive', () => {
  for (const v of [4, 5] as const) {
    test(`${vname(v)}: a silent client with keepalive 1 s is disconnected after ~1.5 s [MQTT-3.1.2-24]`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      const ack = await raw.connect({ keepalive: 1 });
      const t0 = Date.now();
      const closedAt = await raw.waitClosed(6_000);
      const elapsed = closedAt - t0;
      assert.ok(elapsed >= 1_000, `closed too early: ${elapsed} ms`);
      assert.ok(elapsed <= 4_000, `closed too late: ${elapsed} ms`);
      if (v === 5) {
        const d = raw.received<IDisconnectPacket>('disconnect')[0];
        if (d) assert.equal(d.reasonCode, 0x8d, 'if a DISCONNECT is sent it says Keep Alive timeout');
        assert.equal(ack.properties?.serverKeepAlive ?? 1, 1);
      }
    });
  }

  test('a client that sends PINGREQ within its keep-alive stays connected', async () => {
    const raw = await rawConnect('ws', server(), { protocolVersion: 4 });
    await raw.connect({ keepalive: 1 });
    for (let i = 0; i < 5; i++) {
      await sleep(600);
      raw.send({ cmd: 'pingreq' });
      await raw.expect('pingresp', 2_000);
    }
    assert.equal(raw.closed, false);
  });

  test('keepalive 0: a silent client is not disconnected within seconds', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    await raw.connect({ keepalive: 0 });
    await sleep(2_500);
    assert.equal(raw.closed, false);
  });

  test('v5: limits.maxKeepAliveSeconds=2 -> CONNACK Server Keep Alive 2, enforced', async () => {
    const srv = await freshServer({ limits: { maxKeepAliveSeconds: 2 } });
    try {
      const c = await connectClient(srv, { protocolVersion: 5, keepalive: 60 });
      assert.equal(c.connack.properties?.serverKeepAlive, 2, '[MQTT-3.2.2-21]');

      // A raw client that asked for 60 s but is told 2 s is held to 2 s (x1.5).
      const raw: RawClient = await rawConnect('tcp', srv, { protocolVersion: 5 });
      const ack: IConnackPacket = await raw.connect({ keepalive: 60 });
      assert.equal(ack.properties?.serverKeepAlive, 2);
      const t0 = Date.now();
      const closedAt = await raw.waitClosed(8_000);
      const elapsed = closedAt - t0;
      assert.ok(elapsed >= 2_000 && elapsed <= 5_500, `closed after ${elapsed} ms`);

      // A client asking for no keep-alive (0) either keeps none, or is told the one it gets.
      const zero = await rawConnect('tcp', srv, { protocolVersion: 5 });
      const zack = await zero.connect({ keepalive: 0 });
      const told = zack.properties?.serverKeepAlive;
      const t1 = Date.now();
      await sleep(4_000);
      if (told === undefined) {
        assert.equal(zero.closed, false, 'keep-alive enforced without Server Keep Alive in CONNACK');
      } else {
        assert.equal(told, 2);
        assert.ok(zero.closed && zero.closedAt - t1 >= 2_000, `told ${told}, closed: ${zero.closed}`);
      }
    } finally {
      await srv.stop();
    }
  });
});
