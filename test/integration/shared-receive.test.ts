// Shared subscriptions and iot:Receive (issue 13, item 6): a message for a shared group goes to a
// member allowed to receive its topic, never to one that is not (which would lose it). The
// issue's scenario: bob (Receive on users/bob-s/*) and alice (Receive on users/alice-s/* only),
// both in $share/grp/users/bob-s/#; every message to users/bob-s/... reaches bob. A message that
// no permitted member can take is dropped and counted (switchboard_shared_dropped_total).
//
// "Nothing reached alice" is proven with a sentinel: after the shared messages the publisher sends
// one to a topic alice subscribes to directly; the server writes to one connection in order, so
// once the sentinel arrived, any shared message sent to her would have arrived before it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { disconnect, uid, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import { allow, answer, arn, attemptConnect, doc, NAME_KEY, subscribeCodes, useTokenAuthorizerServer, withCredentials, type Statement } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';

installCleanup();

const { answers, server: s } = useTokenAuthorizerServer();

interface Member {
  clientId: string;
  transport?: Transport;
  version?: ProtocolVersion;
  /** Topic prefixes (under the test's root) this member may receive. */
  receive: string[];
  /** Extra MQTT.js options (clean: false, properties...). */
  extra?: Record<string, unknown>;
}

/** Connects through the authorizer with Subscribe on everything and Receive on `receive` only. */
async function connect(root: string, m: Member) {
  const token = uid('tok');
  const statements: Statement[] = [
    allow('iot:Connect', arn(`client/${m.clientId}`)),
    allow('iot:Subscribe', arn('topicfilter/*')),
    allow('iot:Publish', arn(`topic/${root}/*`)),
  ];
  if (m.receive.length > 0) statements.push(allow('iot:Receive', arn(...m.receive.map((p) => `topic/${root}/${p}`))));
  answers.set(token, answer([doc(...statements)]));
  const a = await attemptConnect(
    s(),
    withCredentials(s(), m.transport ?? 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId: m.clientId, protocolVersion: m.version ?? 5, ...m.extra }),
  );
  assert.equal(a.accepted, true, `${m.clientId} refused: ${JSON.stringify(a.connack)}`);
  return a;
}

async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`${s().httpUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m !== null && !line.startsWith('#')) values.set(m[1]!, Number(m[2]));
  }
  return values;
}
const SHARED_DROPPED = 'switchboard_shared_dropped_total';
const DENIED_RECEIVE = 'switchboard_denials_total{action="receive"}';

/** bob and alice in $share/grp/{root}/bob-s/#, alice also subscribed directly to {root}/alice-s/done. */
async function bobAndAlice(root: string, qos: 0 | 1) {
  const alice = await connect(root, { clientId: uid('alice'), receive: ['alice-s/*'], transport: 'ws', version: 4 });
  const bob = await connect(root, { clientId: uid('bob'), receive: ['bob-s/*'] });
  // alice first: the old round-robin then picked her for every other message.
  assert.deepEqual((await subscribeCodes(alice.client, `$share/grp/${root}/bob-s/#`, { qos })).codes, [qos]);
  assert.deepEqual((await subscribeCodes(bob.client, `$share/grp/${root}/bob-s/#`, { qos })).codes, [qos]);
  assert.deepEqual((await subscribeCodes(alice.client, `${root}/alice-s/done`, { qos: 1 })).codes, [1]);
  const pub = await connect(root, { clientId: uid('pub'), receive: [] });
  return { alice, bob, pub };
}

describe('a shared group delivers only to members allowed to receive the topic', () => {
  for (const qos of [1, 0] as const) {
    test(`QoS ${qos}: all 10 messages reach bob, none reaches alice, nothing is denied or dropped`, async () => {
      const root = uid('share');
      const { alice, bob, pub } = await bobAndAlice(root, qos);
      const before = await metrics();
      for (let i = 0; i < 10; i++) await pub.client.publishAsync(`${root}/bob-s/m`, `m${i}`, { qos });
      const got = await bob.inbox.waitFor(10, 5_000);
      assert.deepEqual(
        got.map((m) => m.text),
        Array.from({ length: 10 }, (_, i) => `m${i}`),
      );
      await pub.client.publishAsync(`${root}/alice-s/done`, 'sentinel', { qos: 1 });
      await alice.inbox.waitFor(1, 3_000, (m) => m.text === 'sentinel');
      assert.deepEqual(alice.inbox.texts((m) => m.topic !== `${root}/alice-s/done`), [], 'alice got none of the shared messages');
      const after_ = await metrics();
      assert.equal((after_.get(DENIED_RECEIVE) ?? 0) - (before.get(DENIED_RECEIVE) ?? 0), 0, 'no receive denials');
      assert.equal((after_.get(SHARED_DROPPED) ?? 0) - (before.get(SHARED_DROPPED) ?? 0), 0, 'nothing dropped');
    });
  }

  test('QoS 1 with the permitted member offline: queued for bob (persistent session), delivered when he returns', async () => {
    const root = uid('share');
    const bobId = uid('bob');
    const persistent = { clean: false, properties: { sessionExpiryInterval: 300 } };
    const bob = await connect(root, { clientId: bobId, receive: ['bob-s/*'], extra: persistent });
    assert.deepEqual((await subscribeCodes(bob.client, `$share/grp/${root}/bob-s/#`, { qos: 1 })).codes, [1]);
    await disconnect(bob.client);
    const alice = await connect(root, { clientId: uid('alice'), receive: ['alice-s/*'] });
    assert.deepEqual((await subscribeCodes(alice.client, `$share/grp/${root}/bob-s/#`, { qos: 1 })).codes, [1]);
    const pub = await connect(root, { clientId: uid('pub'), receive: [] });
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`${root}/bob-s/m`, `q${i}`, { qos: 1 });

    const back = await connect(root, { clientId: bobId, receive: ['bob-s/*'], extra: persistent });
    assert.equal(back.connack?.sessionPresent, true);
    const got = await back.inbox.waitFor(5, 5_000);
    assert.deepEqual(
      got.map((m) => m.text),
      ['q0', 'q1', 'q2', 'q3', 'q4'],
    );
    assert.deepEqual(alice.inbox.texts(), []);
  });

  test('no member may receive the topic: each message is dropped and counted, at QoS 1 and 0', async () => {
    const root = uid('share');
    // An offline persistent member whose last connection may not receive the topic is no taker either.
    const daveId = uid('dave');
    const dave = await connect(root, { clientId: daveId, receive: ['dave-s/*'], extra: { clean: false, properties: { sessionExpiryInterval: 300 } } });
    assert.deepEqual((await subscribeCodes(dave.client, `$share/none/${root}/nobody-s/#`, { qos: 1 })).codes, [1]);
    await disconnect(dave.client);
    const alice = await connect(root, { clientId: uid('alice'), receive: ['alice-s/*'] });
    assert.deepEqual((await subscribeCodes(alice.client, `$share/none/${root}/nobody-s/#`, { qos: 1 })).codes, [1]);
    const pub = await connect(root, { clientId: uid('pub'), receive: [] });

    const before = await metrics();
    for (let i = 0; i < 3; i++) await pub.client.publishAsync(`${root}/nobody-s/m`, `x${i}`, { qos: 1 });
    await pub.client.publishAsync(`${root}/nobody-s/m`, 'x-qos0', { qos: 0 });
    // The QoS 0 publish has no acknowledgement: a QoS 1 one after it on the same connection
    // returns only once the server has routed both.
    await pub.client.publishAsync(`${root}/other`, 'fence', { qos: 1 });
    const after_ = await metrics();
    assert.equal((after_.get(SHARED_DROPPED) ?? 0) - (before.get(SHARED_DROPPED) ?? 0), 4, 'every message counted as dropped');

    const back = await connect(root, { clientId: daveId, receive: ['dave-s/*'], extra: { clean: false, properties: { sessionExpiryInterval: 300 } } });
    assert.equal(back.connack?.sessionPresent, true);
    // Nothing was queued for dave: his session resumes with nothing to send; a message to a topic
    // he may receive, published after, is the first thing he gets.
    assert.deepEqual((await subscribeCodes(back.client, `${root}/dave-s/t`, { qos: 1 })).codes, [1]);
    await pub.client.publishAsync(`${root}/dave-s/t`, 'first', { qos: 1 });
    const got = await back.inbox.waitFor(1, 3_000);
    assert.equal(got[0]!.text, 'first');
    assert.deepEqual(alice.inbox.texts(), []);
  });
});
