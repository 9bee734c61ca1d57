// What an authorizer's answer does to a live connection (AWS reference §1.6): the authorizer is
// called again every refreshAfterInSeconds and its new documents replace the old (narrowing or
// widening rights, or ending the connection when iot:Connect is gone or the call fails), and the
// connection is closed after disconnectAfterInSeconds (v5 DISCONNECT 0xA0 Maximum connect time;
// the will is published, as for AWS's CUSTOMAUTH_TTL_EXPIRATION).
//
// Most cases run against a server in this process whose clock is a ManualClock: AWS's own bounds
// apply (refresh at 300 s, disconnect at up to 86,400 s) and the test moves time instead of
// waiting for it. Clients still connect over real sockets, and the authorizer (fixture
// e2e-by-token.js, which re-reads its answer file on every call so a test changes the answer
// between CONNECT and the refresh) runs in the server's worker pool. A refresh is known to be in
// force when switchboard_authorizer_refreshes_total (counters.authorizerRefreshes) counts it. The
// clients use no keep-alive: their connections must not depend on how far the clock is moved.
//
// Two cases run on the system clock against the compiled server (`auth.testingMinimumTtlSeconds:
// 1`), to prove that real time drives the same deadlines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPubackPacket } from 'mqtt-packet';
import { COMBOS, uid, waitUntil, type MqttEndpoints, type ProtocolVersion, type Transport } from '../helpers/clients.js';
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
import { endpointsOf, startInProcessServer } from '../helpers/in-process.js';
import { installCleanup } from '../helpers/suite.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { RunningServer } from '../../src/server.js';

installCleanup();

const answers = new TokenAnswers();
const AUTHORIZERS = [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }];
/** AWS's bounds for the two TTLs. */
const MIN_REFRESH_S = 300;
const MAX_TTL_S = 86_400;

const clock = new ManualClock();
let running: RunningServer | undefined;
let urls: MqttEndpoints;
const s = () => {
  if (!running) throw new Error('server not started');
  return running;
};

before(async () => {
  // The authorizer's worker threads read where the answers are from the environment.
  Object.assign(process.env, answers.env);
  // The clock jumps by hours here; with the default 1200 s cap a v5 client asking for keep-alive 0
  // would be given one, and the jump would close it for silence instead of at the TTL under test.
  running = await startInProcessServer({ mqtt: true, clock, auth: { authorizers: AUTHORIZERS }, limits: { maxKeepAliveSeconds: 0 } });
  urls = endpointsOf(running);
});
after(async () => {
  await running?.stop();
  answers.remove();
});

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
    { refreshAfterInSeconds: MIN_REFRESH_S, disconnectAfterInSeconds: MAX_TTL_S, ...over },
  );

async function connectWith(server: MqttEndpoints, answers_: TokenAnswers, transport: Transport, version: ProtocolVersion, clientId: string, value: unknown, extra: Record<string, unknown> = {}) {
  const token = uid('tok');
  answers_.set(token, value);
  const a = await attemptConnect(server, withCredentials(server, transport, { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: version, keepalive: 0, ...extra }));
  assert.equal(a.accepted, true, `CONNECT refused: ${JSON.stringify(a.connack)}`);
  return { ...a, token };
}
const connect = (transport: Transport, version: ProtocolVersion, clientId: string, value: unknown, extra: Record<string, unknown> = {}) =>
  connectWith(urls, answers, transport, version, clientId, value, extra);

/**
 * Moves the clock by `ms`, which must fire one refresh, and waits until its new policy is in force.
 * (A refresh that ends the connection is awaited by the caller through the close.)
 */
async function refreshBy(ms: number): Promise<void> {
  const applied = s().counters.authorizerRefreshes;
  clock.advance(ms);
  await waitUntil(() => s().counters.authorizerRefreshes > applied, 3_000, 'the refreshed policy to be in force');
}

describe('refresh (refreshAfterInSeconds 300, on a ManualClock)', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: narrowed documents apply to the live connection`, async () => {
      const id = uid('c');
      const c = await connect(transport, version, id, rights(id, ['a', 'b']));
      await c.client.publishAsync(`t/${id}/a`, 'before', { qos: 1 });

      answers.set(c.token, rights(id, ['b']));
      await refreshBy(MIN_REFRESH_S * 1000);
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

  test('refreshes come every refreshAfterInSeconds of the latest answer, and not before; widened documents apply', async () => {
    const id = uid('c');
    const c = await connect('ws', 5, id, rights(id, ['a']));
    await assert.rejects(c.client.publishAsync(`t/${id}/new`, 'not yet', { qos: 1 }));
    answers.set(c.token, rights(id, ['a', 'new'], { refreshAfterInSeconds: 600 }));
    // The refresh timer calls the authorizer synchronously (the invocation is counted at once).
    const invoked = s().counters.authorizerInvocations;
    clock.advance(MIN_REFRESH_S * 1000 - 1);
    assert.equal(s().counters.authorizerInvocations, invoked, 'no refresh before refreshAfterInSeconds');
    await refreshBy(1);
    assert.equal(answers.calls(c.token), 2);
    await c.client.publishAsync(`t/${id}/new`, 'now allowed', { qos: 1 });
    // The next refresh follows the new answer's 600 s.
    clock.advance(600_000 - 1);
    assert.equal(s().counters.authorizerInvocations, invoked + 1, 'the next refresh waits for the new refreshAfterInSeconds');
    await refreshBy(1);
    assert.equal(answers.calls(c.token), 3);
  });

  test('a Deny on iot:Receive added at refresh stops delivery on an existing subscription', async () => {
    const id = uid('c');
    const c = await connect('tcp', 5, id, rights(id, ['public', 'secret']));
    assert.deepEqual((await subscribeCodes(c.client, `t/${id}/#`, { qos: 1 })).codes, [1]);
    await c.client.publishAsync(`t/${id}/secret`, 'secret before', { qos: 1 });
    await c.inbox.waitFor(1, 3_000, (m) => m.text === 'secret before');

    answers.set(c.token, rights(id, ['public', 'secret'], {}, deny('iot:Receive', arn(`topic/t/${id}/secret`))));
    await refreshBy(MIN_REFRESH_S * 1000);
    // 'public after' is published after 'secret after' on the same subscription: once it is in,
    // 'secret after' would have arrived before it.
    await c.client.publishAsync(`t/${id}/secret`, 'secret after', { qos: 1 });
    await c.client.publishAsync(`t/${id}/public`, 'public after', { qos: 1 });
    await c.inbox.waitFor(1, 3_000, (m) => m.text === 'public after');
    assert.deepEqual(c.inbox.texts(), ['secret before', 'public after']);
  });

  for (const { transport, version, name } of COMBOS) {
    test(`${name}: a refresh that revokes iot:Connect disconnects`, async () => {
      const id = uid('c');
      const c = await connect(transport, version, id, rights(id, ['a']));
      answers.set(c.token, answer([doc(allow('iot:Publish', arn(`topic/t/${id}/*`)))], { refreshAfterInSeconds: MIN_REFRESH_S }));
      clock.advance(MIN_REFRESH_S * 1000);
      await c.inbox.waitForClose(3_000);
      assert.equal(answers.calls(c.token), 2);
      if (version === 5) {
        const d = c.inbox.disconnects[0];
        assert.ok(d, 'a v5 client is told with DISCONNECT');
        assert.ok((d.reasonCode ?? 0) >= 0x80, `DISCONNECT reason 0x${(d.reasonCode ?? 0).toString(16)}`);
      }
    });
  }

  const failures: [string, unknown][] = [
    ['isAuthenticated false', answer([], { isAuthenticated: false, refreshAfterInSeconds: MIN_REFRESH_S })],
    ['the handler throws', { throw: 'refresh failure' }],
    ['an invalid answer', answer([], { principalId: 'not valid!' })],
  ];
  for (const [what, value] of failures) {
    test(`a refresh where ${what} disconnects`, async () => {
      const id = uid('c');
      const c = await connect('ws', 5, id, rights(id, ['a']));
      answers.set(c.token, value);
      clock.advance(MIN_REFRESH_S * 1000);
      await c.inbox.waitForClose(3_000);
      const d = c.inbox.disconnects[0];
      assert.ok(d && (d.reasonCode ?? 0) >= 0x80, `expected a DISCONNECT >= 0x80, got ${JSON.stringify(d)}`);
    });
  }
});

describe('disconnectAfterInSeconds (on a ManualClock)', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: ${MAX_TTL_S} s closes the connection then and not before${version === 5 ? ', with DISCONNECT 0xA0' : ''}`, async () => {
      const id = uid('c');
      const c = await connect(transport, version, id, rights(id, ['a'], { refreshAfterInSeconds: MAX_TTL_S }));
      // The deadline closes the connection synchronously (counted at once); the client sees it after.
      const closed = s().counters.connectionsClosed;
      clock.advance(MAX_TTL_S * 1000 - 1);
      assert.equal(s().counters.connectionsClosed, closed, 'still connected 1 ms before the deadline');
      clock.advance(1);
      assert.equal(s().counters.connectionsClosed, closed + 1, 'closed at the deadline');
      await c.inbox.waitForClose(3_000);
      if (version === 5) {
        assert.equal(c.inbox.disconnects[0]?.reasonCode, 0xa0, 'DISCONNECT 0xA0 Maximum connect time');
      }
    });
  }

  test('the will is published when disconnectAfterInSeconds ends the connection', async () => {
    const id = uid('c');
    const watcherId = uid('w');
    const watcher = await connect('tcp', 5, watcherId, rights(watcherId, [], { refreshAfterInSeconds: MAX_TTL_S }, allow(['iot:Subscribe'], arn(`topicfilter/t/${id}/*`)), allow('iot:Receive', arn(`topic/t/${id}/*`))));
    assert.deepEqual((await subscribeCodes(watcher.client, `t/${id}/will`, { qos: 1 })).codes, [1]);
    await connect('ws', 4, id, rights(id, ['will'], { disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 3600 }), {
      will: { topic: `t/${id}/will`, payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    clock.advance(3600 * 1000);
    const got = await watcher.inbox.waitFor(1, 3_000);
    assert.equal(got[0]!.text, 'gone');
  });
});

/** Polls the server's /metrics until `name` reaches `atLeast` (bounded). */
async function metricReaches(server: TestServer, name: string, atLeast: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (line !== undefined && Number(line.split(' ')[1]) >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`${name} did not reach ${atLeast} within ${timeoutMs} ms: ${line}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('on the system clock (compiled server, testingMinimumTtlSeconds 1)', () => {
  const realAnswers = new TokenAnswers();
  let server: TestServer | undefined;
  before(async () => {
    server = await startServer({ env: realAnswers.env, auth: { testingMinimumTtlSeconds: 1, authorizers: AUTHORIZERS } });
  });
  after(() => realAnswers.remove());

  test('refreshAfterInSeconds 1: the narrowed documents apply a second later', async () => {
    const id = uid('c');
    const started = Date.now();
    const c = await connectWith(server!, realAnswers, 'ws', 5, id, rights(id, ['a', 'b'], { refreshAfterInSeconds: 1 }));
    await c.client.publishAsync(`t/${id}/a`, 'before', { qos: 1 });
    realAnswers.set(c.token, rights(id, ['b'], { refreshAfterInSeconds: 300 }));
    await metricReaches(server!, 'switchboard_authorizer_refreshes_total', 1, 4_000);
    const took = Date.now() - started;
    assert.ok(took >= 700, `refreshed after ${took} ms`);
    await assert.rejects(c.client.publishAsync(`t/${id}/a`, 'after', { qos: 1 }));
    assert.equal(packetsOf<IPubackPacket>(c.packets, 'puback').at(-1)!.reasonCode, 0x87, 'PUBACK 0x87 after the refresh');
  });

  test('disconnectAfterInSeconds 1 closes the connection a second later with DISCONNECT 0xA0', async () => {
    const id = uid('c');
    const started = Date.now();
    const c = await connectWith(server!, realAnswers, 'tcp', 5, id, rights(id, ['a'], { disconnectAfterInSeconds: 1, refreshAfterInSeconds: 300 }));
    await c.inbox.waitForClose(4_000);
    const took = c.inbox.closedAt - started;
    assert.ok(took >= 800 && took < 3_500, `closed after ${took} ms`);
    assert.equal(c.inbox.disconnects[0]?.reasonCode, 0xa0, 'DISCONNECT 0xA0 Maximum connect time');
  });
});
