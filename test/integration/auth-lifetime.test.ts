// What an authorizer's answer does to a live connection (AWS reference §1.6): the authorizer is
// called again every refreshAfterInSeconds and its new documents replace the old (narrowing or
// widening rights, or ending the connection when iot:Connect is gone or the call fails), and the
// connection is closed after disconnectAfterInSeconds (v5 DISCONNECT 0xA0 Maximum connect time;
// the will is published, as for AWS's CUSTOMAUTH_TTL_EXPIRATION).
//
// `auth.testingMinimumTtlSeconds: 1` lowers AWS's 300 s minimum so this runs in seconds. The
// authorizer (fixture e2e-by-token.js) re-reads its answer file on every call, so a test changes
// the answer between CONNECT and the refresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPubackPacket } from 'mqtt-packet';
import { COMBOS, sleep, uid, waitUntil, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import {
  allow,
  answer,
  arn,
  attemptConnect,
  deny,
  doc,
  fixture,
  NAME_KEY,
  packetsOf,
  subscribeCodes,
  TokenAnswers,
  withCredentials,
  type AuthorizerAnswer,
} from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { startServer, type TestServer } from '../helpers/server.js';

installCleanup();

const answers = new TokenAnswers();
let server: TestServer | undefined;
const s = () => {
  if (!server) throw new Error('server not started');
  return server;
};

before(async () => {
  server = await startServer({
    env: answers.env,
    auth: {
      testingMinimumTtlSeconds: 1,
      authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
    },
  });
});
after(() => answers.remove());

/** Connect, and publish/subscribe/receive on the topics `t/{id}/{name}` for each name. */
const rights = (clientId: string, topics: string[], over: Partial<AuthorizerAnswer> = {}, ...extra: ReturnType<typeof allow>[]) =>
  answer(
    [
      doc(
        allow('iot:Connect', arn(`client/${clientId}`)),
        ...(topics.length > 0 ? [allow(['iot:Publish', 'iot:Receive'], arn(...topics.map((t) => `topic/t/${clientId}/${t}`)))] : []),
        allow('iot:Subscribe', arn(`topicfilter/t/${clientId}/*`)),
        ...extra,
      ),
    ],
    { refreshAfterInSeconds: 1, disconnectAfterInSeconds: 3600, ...over },
  );

async function connectWith(transport: Transport, version: ProtocolVersion, clientId: string, value: unknown, extra: Record<string, unknown> = {}) {
  const token = uid('tok');
  answers.set(token, value);
  const a = await attemptConnect(s(), withCredentials(s(), transport, { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: version, ...extra }));
  assert.equal(a.accepted, true, `CONNECT refused: ${JSON.stringify(a.connack)}`);
  return { ...a, token };
}

/** Resolves once the authorizer has run `n` times for `token` and the answer had time to apply. */
async function refreshed(token: string, n: number) {
  await waitUntil(() => answers.calls(token) >= n, 4_000, `authorizer call #${n}`);
  await sleep(300);
}

describe('refresh (refreshAfterInSeconds 1)', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: narrowed documents apply to the live connection`, async () => {
      const id = uid('c');
      const c = await connectWith(transport, version, id, rights(id, ['a', 'b']));
      await c.client.publishAsync(`t/${id}/a`, 'before', { qos: 1 });

      answers.set(c.token, rights(id, ['b']));
      await refreshed(c.token, 2);
      if (version === 5) {
        await assert.rejects(c.client.publishAsync(`t/${id}/a`, 'after', { qos: 1 }));
        assert.equal(packetsOf<IPubackPacket>(c.packets, 'puback').at(-1)!.reasonCode, 0x87, 'PUBACK 0x87 after the refresh');
        await c.client.publishAsync(`t/${id}/b`, 'still allowed', { qos: 1 });
        assert.equal(c.inbox.closed, false, 'narrowing alone does not disconnect');
      } else {
        // v3.1.1 has no refusal in PUBACK: the now-forbidden publish closes the connection.
        await c.client.publishAsync(`t/${id}/b`, 'still allowed', { qos: 1 });
        c.client.publish(`t/${id}/a`, 'after', { qos: 1 });
        await c.inbox.waitForClose(3_000);
      }
    });
  }

  test('widened documents apply too, and refreshes keep coming', async () => {
    const id = uid('c');
    const c = await connectWith('ws', 5, id, rights(id, ['a']));
    await assert.rejects(c.client.publishAsync(`t/${id}/new`, 'not yet', { qos: 1 }));
    answers.set(c.token, rights(id, ['a', 'new']));
    await refreshed(c.token, 2);
    await c.client.publishAsync(`t/${id}/new`, 'now allowed', { qos: 1 });
    await waitUntil(() => answers.calls(c.token) >= 3, 3_000, 'a second refresh');
  });

  test('a Deny on iot:Receive added at refresh stops delivery on an existing subscription', async () => {
    const id = uid('c');
    const c = await connectWith('tcp', 5, id, rights(id, ['public', 'secret']));
    assert.deepEqual((await subscribeCodes(c.client, `t/${id}/#`, { qos: 1 })).codes, [1]);
    await c.client.publishAsync(`t/${id}/secret`, 'secret before', { qos: 1 });
    await c.inbox.waitFor(1, 3_000, (m) => m.text === 'secret before');

    answers.set(c.token, rights(id, ['public', 'secret'], {}, deny('iot:Receive', arn(`topic/t/${id}/secret`))));
    await refreshed(c.token, 2);
    await c.client.publishAsync(`t/${id}/secret`, 'secret after', { qos: 1 });
    await c.client.publishAsync(`t/${id}/public`, 'public after', { qos: 1 });
    await c.inbox.waitFor(1, 3_000, (m) => m.text === 'public after');
    assert.deepEqual(c.inbox.texts(), ['secret before', 'public after']);
  });

  for (const { transport, version, name } of COMBOS) {
    test(`${name}: a refresh that revokes iot:Connect disconnects`, async () => {
      const id = uid('c');
      const c = await connectWith(transport, version, id, rights(id, ['a']));
      answers.set(c.token, answer([doc(allow('iot:Publish', arn(`topic/t/${id}/*`)))], { refreshAfterInSeconds: 1 }));
      await c.inbox.waitForClose(4_000);
      assert.ok(answers.calls(c.token) >= 2);
      if (version === 5) {
        const d = c.inbox.disconnects[0];
        assert.ok(d, 'a v5 client is told with DISCONNECT');
        assert.ok((d.reasonCode ?? 0) >= 0x80, `DISCONNECT reason 0x${(d.reasonCode ?? 0).toString(16)}`);
      }
    });
  }

  const failures: [string, unknown][] = [
    ['isAuthenticated false', answer([], { isAuthenticated: false, refreshAfterInSeconds: 1 })],
    ['the handler throws', { throw: 'refresh failure' }],
    ['an invalid answer', answer([], { principalId: 'not valid!' })],
  ];
  for (const [what, value] of failures) {
    test(`a refresh where ${what} disconnects`, async () => {
      const id = uid('c');
      const c = await connectWith('ws', 5, id, rights(id, ['a']));
      answers.set(c.token, value);
      await c.inbox.waitForClose(4_000);
      const d = c.inbox.disconnects[0];
      assert.ok(d && (d.reasonCode ?? 0) >= 0x80, `expected a DISCONNECT >= 0x80, got ${JSON.stringify(d)}`);
    });
  }
});

describe('disconnectAfterInSeconds', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: 1 s closes the connection${version === 5 ? ' with DISCONNECT 0xA0' : ''}`, async () => {
      const id = uid('c');
      const started = Date.now();
      const c = await connectWith(transport, version, id, rights(id, ['a'], { disconnectAfterInSeconds: 1, refreshAfterInSeconds: 300 }));
      await c.inbox.waitForClose(4_000);
      const took = c.inbox.closedAt - started;
      assert.ok(took >= 800 && took < 3_500, `closed after ${took} ms`);
      if (version === 5) {
        assert.equal(c.inbox.disconnects[0]?.reasonCode, 0xa0, 'DISCONNECT 0xA0 Maximum connect time');
      }
    });
  }

  test('the will is published when disconnectAfterInSeconds ends the connection', async () => {
    const id = uid('c');
    const watcherId = uid('w');
    const watcher = await connectWith('tcp', 5, watcherId, rights(watcherId, [], { refreshAfterInSeconds: 300 }, allow(['iot:Subscribe'], arn(`topicfilter/t/${id}/*`)), allow('iot:Receive', arn(`topic/t/${id}/*`))));
    assert.deepEqual((await subscribeCodes(watcher.client, `t/${id}/will`, { qos: 1 })).codes, [1]);
    await connectWith('ws', 4, id, rights(id, ['will'], { disconnectAfterInSeconds: 1, refreshAfterInSeconds: 300 }), {
      will: { topic: `t/${id}/will`, payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    const got = await watcher.inbox.waitFor(1, 4_000);
    assert.equal(got[0]!.text, 'gone');
  });
});
