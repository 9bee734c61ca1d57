// Publish/subscribe end to end over real sockets: QoS 0/1/2 on every transport x protocol
// combination, v3.1.1 <-> v5 interop, QoS downgrade, topic filters and their validation,
// ordering, QoS 2 exactly-once on the inbound side, fan-out, $-topics and shared subscriptions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  COMBOS,
  connectClient,
  disconnect,
  publishMany,
  subscriber,
  withTimeout,
  uid,
  type Connected,
  type ProtocolVersion,
  type Transport,
} from '../helpers/clients.js';
import { rawConnect } from '../helpers/raw-client.js';
import { fenceWithSentinel, textsBeforeSentinel } from '../helpers/sentinel.js';
import { useServer } from '../helpers/suite.js';
import type { IPubackPacket, ISubackPacket, ISubscribePacket } from 'mqtt-packet';

const server = useServer();

describe('basic pub/sub on every transport and protocol', () => {
  for (const combo of COMBOS) {
    for (const qos of [0, 1, 2] as const) {
      test(`${combo.name}: QoS ${qos} round trip`, async () => {
        const topic = `${uid('ps')}/q${qos}`;
        const opts = { transport: combo.transport, protocolVersion: combo.version };
        const sub = await subscriber(server(), topic, qos, opts);
        const pub = await connectClient(server(), opts);
        await pub.client.publishAsync(topic, `hello-${qos}`, { qos });
        const [msg] = await sub.inbox.waitFor(1);
        assert.equal(msg!.topic, topic);
        assert.equal(msg!.text, `hello-${qos}`);
        assert.equal(msg!.packet.qos, qos);
        // Exactly once, whatever the QoS (no duplicate from a retransmission on a healthy link):
        // a sentinel published after it arrives next.
        assert.deepEqual(await textsBeforeSentinel(pub.client, topic, sub.inbox), [`hello-${qos}`], 'exactly one delivery');
      });
    }
  }

  test('SUBACK grants the requested QoS (0, 1, 2) on v3.1.1 and v5', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const c = await connectClient(server(), { protocolVersion });
      const root = uid('grant');
      const granted = await c.client.subscribeAsync({ [`${root}/0`]: { qos: 0 }, [`${root}/1`]: { qos: 1 }, [`${root}/2`]: { qos: 2 } });
      assert.deepEqual(
        granted.map((g) => g.qos),
        [0, 1, 2],
      );
    }
  });
});

describe('v3.1.1 <-> v5 interop', () => {
  const cases: Array<[string, { v: ProtocolVersion; t: Transport }, { v: ProtocolVersion; t: Transport }]> = [
    ['v3.1.1 publisher (tcp) -> v5 subscriber (ws)', { v: 4, t: 'tcp' }, { v: 5, t: 'ws' }],
    ['v5 publisher (ws) -> v3.1.1 subscriber (tcp)', { v: 5, t: 'ws' }, { v: 4, t: 'tcp' }],
    ['v3.1.1 publisher (ws) -> v5 subscriber (tcp)', { v: 4, t: 'ws' }, { v: 5, t: 'tcp' }],
    ['v5 publisher (tcp) -> v3.1.1 subscriber (ws)', { v: 5, t: 'tcp' }, { v: 4, t: 'ws' }],
  ];
  for (const [name, p, s] of cases) {
    test(`${name}, QoS 0/1/2`, async () => {
      const root = uid('interop');
      const sub = await subscriber(server(), `${root}/#`, 2, { protocolVersion: s.v, transport: s.t });
      const pub = await connectClient(server(), { protocolVersion: p.v, transport: p.t });
      for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`${root}/q${qos}`, `x${qos}`, { qos });
      const msgs = await sub.inbox.waitFor(3);
      const byTopic = new Map(msgs.map((m) => [m.topic, m]));
      for (const qos of [0, 1, 2] as const) {
        const m = byTopic.get(`${root}/q${qos}`);
        assert.ok(m, `missing QoS ${qos} message`);
        assert.equal(m.text, `x${qos}`);
        assert.equal(m.packet.qos, qos);
      }
    });
  }
});

describe('delivered QoS = min(subscription QoS, publish QoS)', () => {
  for (const protocolVersion of [4, 5] as const) {
    test(`v${protocolVersion === 4 ? '3.1.1' : '5'} subscriber`, async () => {
      const root = uid('minqos');
      const pub = await connectClient(server(), { protocolVersion: 5 });
      const seen: Array<{ sub: number; pub: number; got: number }> = [];
      for (const subQos of [0, 1, 2] as const) {
        const sub = await subscriber(server(), `${root}/s${subQos}/+`, subQos, { protocolVersion });
        for (const pubQos of [0, 1, 2] as const) {
          await pub.client.publishAsync(`${root}/s${subQos}/p${pubQos}`, 'x', { qos: pubQos });
        }
        const msgs = await sub.inbox.waitFor(3);
        for (const m of msgs) {
          const pubQos = Number(m.topic.slice(-1));
          seen.push({ sub: subQos, pub: pubQos, got: m.packet.qos });
        }
      }
      for (const s of seen) assert.equal(s.got, Math.min(s.sub, s.pub), `sub ${s.sub} pub ${s.pub}`);
      assert.equal(seen.length, 9);
    });
  }
});

describe('topic filters', () => {
  test('+ matches one level, # matches the parent and any depth [MQTT-4.7.1-2]', async () => {
    const root = uid('wild');
    const plus = await subscriber(server(), `${root}/+/c`, 1);
    const hash = await subscriber(server(), `${root}/a/#`, 1);
    const pub = await connectClient(server());
    const topics = [`${root}/a/c`, `${root}/b/c`, `${root}/a/b/c`, `${root}/a`, `${root}/x/c/d`];
    for (const t of topics) await pub.client.publishAsync(t, t, { qos: 1 });
    // `${root}/a/c` matches both filters: the sentinel comes after everything else either gets.
    const [plusGot, hashGot] = await fenceWithSentinel(pub.client, `${root}/a/c`, [plus.inbox, hash.inbox]);
    assert.deepEqual(plusGot!.map((m) => m.text).sort(), [`${root}/a/c`, `${root}/b/c`].sort());
    assert.deepEqual(hashGot!.map((m) => m.text).sort(), [`${root}/a/c`, `${root}/a/b/c`, `${root}/a`].sort());
  });

  test('spec example: "/x" matches "+/+" and "/+" but not "+" [MQTT-4.7.1-3]', async () => {
    const level = uid('lead');
    const topic = `/${level}`;
    const plusPlus = await subscriber(server(), '+/+', 1);
    const slashPlus = await subscriber(server(), '/+', 1);
    const plus = await subscriber(server(), '+', 1);
    const pub = await connectClient(server());
    await pub.client.publishAsync(topic, 'lead', { qos: 1 });
    await plusPlus.inbox.waitFor(1, 3_000, (m) => m.topic === topic);
    await slashPlus.inbox.waitFor(1, 3_000, (m) => m.topic === topic);
    // A one-level sentinel reaches `+` after anything the earlier publish would have sent it.
    const [before] = await fenceWithSentinel(pub.client, uid('lead-fence'), [plus.inbox]);
    assert.equal(before!.filter((m) => m.topic === topic).length, 0);
  });

  test('an empty payload is delivered as an empty message', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const topic = uid('empty');
      const sub = await subscriber(server(), topic, 1, { protocolVersion });
      const pub = await connectClient(server(), { protocolVersion });
      await pub.client.publishAsync(topic, '', { qos: 1 });
      const [m] = await sub.inbox.waitFor(1);
      assert.equal(m!.payload.length, 0);
    }
  });

  test('topics are case sensitive and levels may be empty', async () => {
    const root = uid('case');
    const sub = await subscriber(server(), [`${root}/A`, `${root}//x`], 1);
    const pub = await connectClient(server());
    await pub.client.publishAsync(`${root}/a`, 'lower', { qos: 1 });
    await pub.client.publishAsync(`${root}/A`, 'upper', { qos: 1 });
    await pub.client.publishAsync(`${root}//x`, 'empty-level', { qos: 1 });
    assert.deepEqual((await textsBeforeSentinel(pub.client, `${root}/A`, sub.inbox)).sort(), ['empty-level', 'upper']);
  });

  test('UNSUBSCRIBE stops delivery', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const topic = uid('unsub');
      // The fence topic keeps a subscription on the same connection for the sentinel.
      const sub = await subscriber(server(), [topic, `${topic}/fence`], 1, { protocolVersion });
      const pub = await connectClient(server());
      await pub.client.publishAsync(topic, 'before', { qos: 1 });
      await sub.inbox.waitFor(1);
      await sub.client.unsubscribeAsync(topic);
      await pub.client.publishAsync(topic, 'after', { qos: 1 });
      assert.deepEqual(await textsBeforeSentinel(pub.client, `${topic}/fence`, sub.inbox), ['before']);
    }
  });

  test('publishing to a name with a wildcard is refused (v5: DISCONNECT 0x90) [MQTT-3.3.2-2]', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const raw = await rawConnect('tcp', server(), { protocolVersion });
      const ack = await raw.connect();
      assert.equal(protocolVersion === 5 ? ack.reasonCode : ack.returnCode, 0);
      raw.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: false });
      await raw.waitClosed(3_000);
      assert.equal(raw.received('puback').length, 0, 'no PUBACK for an invalid topic name');
      if (protocolVersion === 5) {
        const [d] = raw.received<{ cmd: 'disconnect'; reasonCode?: number }>('disconnect');
        assert.ok(d, `v5: expected DISCONNECT before close, got ${raw.describe()}`);
        assert.equal(d.reasonCode, 0x90);
      }
    }
  });

  test('invalid filters get a SUBACK failure while the others in the same SUBSCRIBE succeed', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const raw = await rawConnect('tcp', server(), { protocolVersion });
      await raw.connect();
      const root = uid('badfilter');
      const packet: ISubscribePacket = {
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: [
          { topic: `${root}/ok`, qos: 1 },
          { topic: 'a/#/b', qos: 1 },
          { topic: `${root}/+/ok`, qos: 2 },
          { topic: 'a/b#', qos: 0 },
          { topic: 'a+/b', qos: 0 },
          { topic: `${root}/#`, qos: 0 },
        ],
      };
      raw.send(packet);
      const suback = (await raw.expect('suback')) as ISubackPacket;
      const fail = protocolVersion === 5 ? 0x8f : 0x80;
      assert.equal(suback.messageId, 7);
      assert.deepEqual(suback.granted, [1, fail, 2, fail, fail, 0]);
      assert.equal(raw.closed, false, 'an invalid filter is not a reason to close');

      // The valid ones are live.
      const pub = await connectClient(server());
      await pub.client.publishAsync(`${root}/ok`, 'yes', { qos: 1 });
      const p = await raw.expect('publish');
      assert.equal((p as { topic: string }).topic, `${root}/ok`);
    }
  });
});

describe('delivery guarantees', () => {
  test('overlapping subscriptions: delivered at the maximum QoS of the matching ones [MQTT-3.3.5-1]', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const root = uid('overlap');
      const sub = await connectClient(server(), { protocolVersion });
      await sub.client.subscribeAsync(`${root}/#`, { qos: 0 });
      await sub.client.subscribeAsync(`${root}/a`, { qos: 2 });
      await sub.client.subscribeAsync(`${root}/+`, { qos: 1 });
      const pub = await connectClient(server());
      await pub.client.publishAsync(`${root}/a`, 'o', { qos: 2 });
      // The sentinel may come in several copies too; every copy of 'o' is before the first.
      const [before] = await fenceWithSentinel(pub.client, `${root}/a`, [sub.inbox]);
      const qos = before!.map((m) => m.packet.qos);
      assert.ok(qos.length >= 1 && qos.length <= 3, `delivered ${qos.length} times`);
      assert.equal(Math.max(...qos), 2, `QoS of the copies: ${qos}`);
    }
  });

  test('QoS 1 messages on one topic keep their order, pipelined, over ws [MQTT-4.6.0-5]', async () => {
    const topic = uid('order');
    const sub = await subscriber(server(), topic, 1, { transport: 'ws', protocolVersion: 5 });
    const pub = await connectClient(server(), { transport: 'ws', protocolVersion: 4 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.client.publishAsync(topic, `n${i}`, { qos: 1 })));
    await sub.inbox.waitFor(200, 5_000);
    assert.deepEqual(
      sub.inbox.texts(),
      Array.from({ length: 200 }, (_, i) => `n${i}`),
    );
  });

  for (const protocolVersion of [4, 5] as const) {
    test(`v${protocolVersion === 4 ? '3.1.1' : '5'}: a re-sent QoS 2 PUBLISH (same id, DUP=1) before PUBREL is delivered once [MQTT-4.3.3-10]`, async () => {
      const topic = uid('qos2dup');
      const sub = await subscriber(server(), topic, 2);
      const fence = await connectClient(server());
      const raw = await rawConnect('tcp', server(), { protocolVersion });
      await raw.connect();
      const publish = { cmd: 'publish' as const, topic, payload: Buffer.from('once'), qos: 2 as const, messageId: 11, retain: false };
      raw.send({ ...publish, dup: false });
      await raw.expect('pubrec');
      raw.send({ ...publish, dup: true });
      await raw.expect('pubrec');
      raw.send({ cmd: 'pubrel', messageId: 11 });
      await raw.expect('pubcomp');
      // After PUBCOMP the server has handled both copies: a sentinel sent now comes after them.
      assert.deepEqual(await textsBeforeSentinel(fence.client, topic, sub.inbox), ['once']);
      // After PUBCOMP the id is free again: a new message with id 11 is a new message.
      raw.send({ ...publish, payload: Buffer.from('twice'), dup: false });
      await raw.expect('pubrec');
      raw.send({ cmd: 'pubrel', messageId: 11 });
      await raw.expect('pubcomp');
      await sub.inbox.waitFor(2);
    });
  }

  test('fan-out to 40 mixed subscribers: each gets every message once, in order, with its own options', { timeout: 30_000 }, async () => {
    const topic = `${uid('fanout')}/t`;
    const subs: Array<{ c: Connected; qos: 0 | 1 | 2; subId?: number; v: ProtocolVersion }> = [];
    for (let i = 0; i < 40; i++) {
      const v: ProtocolVersion = i % 2 ? 5 : 4;
      const qos = (i % 3) as 0 | 1 | 2;
      const c = await connectClient(server(), {
        protocolVersion: v,
        transport: i % 4 < 2 ? 'tcp' : 'ws',
        ...(v === 5 && i % 3 === 0 ? { properties: { topicAliasMaximum: 3 } } : {}),
      });
      const subId = v === 5 && i % 5 === 1 ? 1000 + i : undefined;
      await c.client.subscribeAsync(topic, { qos, ...(subId ? { properties: { subscriptionIdentifier: subId } } : {}) });
      subs.push({ c, qos, subId, v });
    }
    const pub = await connectClient(server(), { protocolVersion: 5 });
    const N = 50;
    await Promise.all(Array.from({ length: N }, (_, i) => pub.client.publishAsync(topic, `f${i}`, { qos: 2 })));
    const expected = Array.from({ length: N }, (_, i) => `f${i}`);
    const received = await fenceWithSentinel(pub.client, topic, subs.map((s) => s.c.inbox), { timeoutMs: 10_000 });
    for (const [i, s] of subs.entries()) {
      const msgs = received[i]!;
      assert.deepEqual(msgs.map((m) => m.text), expected, `subscriber ${i} (v${s.v}, QoS ${s.qos})`);
      for (const m of msgs) {
        assert.equal(m.topic, topic);
        assert.equal(m.packet.qos, s.qos, `subscriber ${i} QoS`);
        if (s.v === 5) {
          const sid = m.packet.properties?.subscriptionIdentifier;
          assert.deepEqual(sid === undefined ? undefined : [sid].flat(), s.subId === undefined ? undefined : [s.subId], `subscriber ${i} subscription id`);
        }
      }
    }
  });

  test('v5 UNSUBACK: 0x00 for an existing subscription, 0x11 for none [MQTT-3.11.3]', async () => {
    const root = uid('unsuback');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${root}/a`, qos: 0 }] });
    await raw.expect('suback');
    raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [`${root}/a`, `${root}/never`] });
    const unsuback = (await raw.expect('unsuback')) as { granted: number[]; messageId: number };
    assert.equal(unsuback.messageId, 2);
    assert.deepEqual(unsuback.granted, [0x00, 0x11]);
  });
});

describe('$-topics are not matched by filters starting with a wildcard [MQTT-4.7.2-1]', () => {
  test('a # subscriber never receives what a client publishes to a $-topic (routed or refused)', async () => {
    const name = `$sbtest${process.pid}a`;
    const hash = await subscriber(server(), '#', 1);
    const plus = await subscriber(server(), '+/x', 1);
    for (const protocolVersion of [5, 4] as const) {
      const pub = await connectClient(server(), { protocolVersion });
      // Refused publishes may reject (v5 PUBACK 0x87) or close the connection (v3.1.1): either way
      // the server has handled it.
      await withTimeout(
        new Promise<void>((resolve) => {
          pub.client.publish(`${name}/x`, 'dollar', { qos: 1 }, () => resolve());
          pub.client.once('close', () => resolve());
        }),
        3_000,
        'PUBACK or close',
      );
    }
    // `${fence}/x` matches both filters: the sentinel comes after anything the $-topic sent them.
    const fence = await connectClient(server());
    const [hashGot, plusGot] = await fenceWithSentinel(fence.client, `${uid('fence')}/x`, [hash.inbox, plus.inbox]);
    assert.equal(hashGot!.filter((m) => m.topic.startsWith('$')).length, 0, '# matched a $-topic');
    assert.equal(plusGot!.filter((m) => m.topic.startsWith('$')).length, 0, '+/x matched a $-topic');
  });

  test('an explicit $ filter receives the message while # and +/x do not', async (t) => {
    const name = `$sbtest${process.pid}b`;
    const topic = `${name}/x`;
    const exact = await connectClient(server());
    const subAck = await exact.client.subscribeAsync(`${name}/#`, { qos: 1 });
    const pub = await connectClient(server());
    let refused: string | undefined;
    try {
      const ack = (await pub.client.publishAsync(topic, 'dollar', { qos: 1 })) as IPubackPacket | undefined;
      if (ack?.reasonCode !== undefined && ack.reasonCode >= 0x80) refused = `PUBACK 0x${ack.reasonCode.toString(16)}`;
    } catch (err) {
      refused = (err as Error).message;
    }
    if (subAck[0]!.qos >= 0x80) refused = `SUBSCRIBE ${name}/# refused`;
    if (refused || pub.inbox.disconnects.length > 0 || pub.inbox.closed) {
      t.skip(`the server refuses client publishes to $-topics (${refused ?? 'disconnected'}), so none can be routed`);
      return;
    }
    const hash = await subscriber(server(), '#', 1);
    const plus = await subscriber(server(), '+/x', 1);
    await pub.client.publishAsync(topic, 'dollar', { qos: 1 });
    await exact.inbox.waitFor(2);
    const [hashGot, plusGot] = await fenceWithSentinel(pub.client, `${uid('fence')}/x`, [hash.inbox, plus.inbox]);
    assert.equal(hashGot!.filter((m) => m.topic.startsWith('$')).length, 0, '# matched a $-topic');
    assert.equal(plusGot!.filter((m) => m.topic.startsWith('$')).length, 0, '+/x matched a $-topic');
  });
});

describe('shared subscriptions $share/{group}/{filter}', () => {
  for (const protocolVersion of [4, 5] as const) {
    test(`v${protocolVersion === 4 ? '3.1.1' : '5'}: 3 members share 30 messages, a plain subscriber gets all`, async () => {
      const topic = `${uid('shared')}/t`;
      // Each connection also subscribes to the fence topic on its own, so the sentinel reaches all.
      const fenceTopic = `${topic}/fence`;
      const members: Connected[] = [];
      for (let i = 0; i < 3; i++) {
        members.push(
          await subscriber(server(), [`$share/g1/${topic}`, fenceTopic], 1, {
            protocolVersion,
            transport: i === 1 ? 'ws' : 'tcp',
          }),
        );
      }
      const plain = await subscriber(server(), [topic, fenceTopic], 1, { protocolVersion });
      const pub = await connectClient(server(), { protocolVersion });
      await publishMany(pub.client, topic, 30, 1, 's');
      await fenceWithSentinel(pub.client, fenceTopic, [...members, plain].map((c) => c.inbox), { timeoutMs: 5_000 });
      const all = members.flatMap((m) => m.inbox.texts());
      assert.equal(all.length, 30, `members received ${all.length} in total`);
      assert.equal(new Set(all).size, 30, 'no message delivered to two members');
      for (const m of members) for (const r of m.inbox.messages) assert.equal(r.topic, topic, 'delivered under the real topic');
      assert.equal(plain.inbox.messages.length, 30);
      assert.equal(new Set(plain.inbox.texts()).size, 30);
    });
  }

  test('two groups on one topic each get every message once', async () => {
    const topic = `${uid('shared2')}/t`;
    const fenceTopic = `${topic}/fence`;
    const member = (group: string) => subscriber(server(), [`$share/${group}/${topic}`, fenceTopic], 1);
    const a = [await member('ga'), await member('ga')];
    const b = [await member('gb'), await member('gb')];
    const pub = await connectClient(server());
    await publishMany(pub.client, topic, 10, 1);
    await fenceWithSentinel(pub.client, fenceTopic, [...a, ...b].map((c) => c.inbox));
    const count = (g: typeof a) => g.reduce((n, m) => n + m.inbox.messages.length, 0);
    assert.equal(count(a), 10);
    assert.equal(count(b), 10);
  });

  test('a member that leaves no longer gets messages', async () => {
    const topic = `${uid('shared3')}/t`;
    const m1 = await subscriber(server(), `$share/g/${topic}`, 1);
    const m2 = await subscriber(server(), `$share/g/${topic}`, 1);
    await disconnect(m2.client);
    const pub = await connectClient(server());
    await publishMany(pub.client, topic, 10, 1);
    await m1.inbox.waitFor(10, 5_000);
  });
});
