// Every connection runs the authorizer (AWS's behaviour; issue 13, item 7): with the default
// config (`auth.resultCacheSize` 0) an answer is never reused for another connection, so a token
// the authorizer stops accepting stops working at the next CONNECT or HTTP request, and concurrent
// identical CONNECTs are not merged into one invocation. With the cache turned on (a documented
// deviation) the identical reconnect reuses the answer until its refreshAfterInSeconds (moved past
// on a ManualClock, in a server in this process).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { disconnect, uid, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import { allow, answer, arn, attemptConnect, doc, fixture, NAME_KEY, refusalProblem, TokenAnswers, withCredentials } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { endpointsOf, startInProcessServer } from '../helpers/in-process.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { RunningServer } from '../../src/server.js';

installCleanup();

const answers = new TokenAnswers();
after(() => answers.remove());

const authorizers = [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }];

function allowing(clientId: string) {
  return answer([doc(allow('iot:Connect', arn(`client/${clientId}`)), allow('iot:Publish', arn('topic/cache/*')))]);
}
const denying = answer([], { isAuthenticated: false, principalId: 'Revoked' });

function attempt(server: TestServer, transport: Transport, version: ProtocolVersion, token: string, clientId: string) {
  return attemptConnect(server, withCredentials(server, transport, { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: version }));
}

describe('default config: the authorizer runs for every connection', () => {
  let server: TestServer | undefined;
  const s = () => {
    if (!server) throw new Error('server not started');
    return server;
  };
  before(async () => {
    server = await startServer({ env: answers.env, auth: { authorizers } });
  });

  for (const [transport, version] of [
    ['tcp', 5],
    ['ws', 4],
  ] as const) {
    test(`${transport} v${version}: a token switched to deny is refused on the identical reconnect`, async () => {
      const token = uid('tok');
      const clientId = uid('dev');
      answers.set(token, allowing(clientId));
      const first = await attempt(s(), transport, version, token, clientId);
      assert.equal(first.accepted, true, JSON.stringify(first.connack));
      await disconnect(first.client);
      assert.equal(answers.calls(token), 1);

      answers.set(token, denying);
      const again = await attempt(s(), transport, version, token, clientId);
      assert.equal(refusalProblem(again, version), null);
      assert.equal(answers.calls(token), 2, 'the handler ran once per connection');
    });
  }

  test('concurrent identical CONNECTs each invoke the authorizer', async () => {
    const token = uid('tok');
    const clientId = uid('dev');
    answers.set(token, allowing(clientId));
    // Same client ID and credentials: byte-identical CONNECTs (the later ones take the session over).
    await Promise.all([1, 2, 3].map(() => attempt(s(), 'tcp', 5, token, clientId)));
    assert.equal(answers.calls(token), 3);
  });

  test('HTTP data plane: each request invokes the authorizer (AWS caches HTTP results only when enabled)', async () => {
    const token = uid('tok');
    answers.set(token, allowing('unused'));
    const post = () =>
      fetch(`${s().httpUrl}/topics/cache%2Fhttp`, { method: 'POST', headers: { [NAME_KEY]: 'ByToken', token }, body: 'hi' });
    assert.equal((await post()).status, 200);
    answers.set(token, denying);
    assert.equal((await post()).status, 401);
    assert.equal(answers.calls(token), 2);
  });
});

describe('auth.resultCacheSize > 0 (opt-in deviation): identical requests reuse the answer', () => {
  let server: TestServer | undefined;
  before(async () => {
    server = await startServer({ env: answers.env, auth: { authorizers, resultCacheSize: 100 } });
  });

  test('the identical reconnect is admitted from the cache after the handler switched to deny', async () => {
    const s = server!;
    const token = uid('tok');
    const clientId = uid('dev');
    answers.set(token, allowing(clientId));
    const first = await attempt(s, 'tcp', 5, token, clientId);
    assert.equal(first.accepted, true, JSON.stringify(first.connack));
    await disconnect(first.client);
    answers.set(token, denying);
    const again = await attempt(s, 'tcp', 5, token, clientId);
    assert.equal(again.accepted, true, 'cached answer reused');
    assert.equal(answers.calls(token), 1);
  });
});

describe('auth.resultCacheSize > 0: a cached answer expires after its refreshAfterInSeconds (server on a ManualClock)', () => {
  const clock = new ManualClock();
  let running: RunningServer | undefined;
  before(async () => {
    // The authorizer's worker threads read where the answers are from the environment.
    Object.assign(process.env, answers.env);
    running = await startInProcessServer({ mqtt: true, clock, auth: { authorizers, resultCacheSize: 100 } });
  });
  after(() => running?.stop());

  test('reused until refreshAfterInSeconds, then the authorizer decides again', async () => {
    const urls = endpointsOf(running!);
    const token = uid('tok');
    const clientId = uid('dev');
    const connect = () => attemptConnect(urls, withCredentials(urls, 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 5, keepalive: 0 }));
    answers.set(token, answer(allowing(clientId).policyDocuments, { refreshAfterInSeconds: 300 }));
    const first = await connect();
    assert.equal(first.accepted, true, JSON.stringify(first.connack));
    await disconnect(first.client);
    answers.set(token, denying);

    clock.advance(300_000 - 1);
    const cached = await connect();
    assert.equal(cached.accepted, true, 'still cached 1 ms before refreshAfterInSeconds');
    assert.equal(answers.calls(token), 1);
    await disconnect(cached.client);

    clock.advance(1);
    const decided = await connect();
    assert.equal(refusalProblem(decided, 5), null);
    assert.equal(answers.calls(token), 2);
  });
});
