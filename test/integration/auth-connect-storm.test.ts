// A connect storm through one function authorizer: many CONNECTs arrive together, so the pool
// hands their invocations to its worker in batches (src/functions/function-pool.ts). Each
// connection must still get its own authorizer's answer, and a handler that throws or hangs for
// one token must deny that connection alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uid } from '../helpers/clients.js';
import { allow, answer, arn, attemptConnect, connackCode, doc, fixture, NAME_KEY, TokenAnswers, withCredentials } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { startServer, type TestServer } from '../helpers/server.js';

installCleanup();

const answers = new TokenAnswers();
let server: TestServer | undefined;

before(async () => {
  server = await startServer({
    env: answers.env,
    auth: {
      functionWorkers: 1,
      authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token', timeoutMs: 2000 }],
    },
  });
  // Warm the worker: a cold one (module load, on a busy machine) could outlast the timeout.
  const warm = await attemptConnect(server, withCredentials(server, 'tcp', { [NAME_KEY]: 'ByToken', token: 'warm-up' }, { protocolVersion: 5 }));
  warm.client.end(true);
});
after(() => answers.remove());

test('60 concurrent CONNECTs, each with its own token: each gets its own answer; a throwing, a hanging and an unauthenticated token deny only their own connection', async () => {
  const s = server!;
  const run = uid('storm');
  type Kind = 'ok' | 'throws' | 'hangs' | 'unknown' | 'wrong-client';
  const plan: { kind: Kind; token: string; clientId: string }[] = [];
  for (let i = 0; i < 60; i++) {
    const kind: Kind = i === 7 ? 'throws' : i === 23 ? 'hangs' : i === 41 ? 'unknown' : i === 52 ? 'wrong-client' : 'ok';
    const token = `${run}-${i}`;
    const clientId = `${run}-c${i}`;
    plan.push({ kind, token, clientId });
    // Each answer admits only its own client ID, so a result given to the wrong connection is refused.
    if (kind === 'ok') answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${clientId}`)))], { principalId: `p${i}` }));
    if (kind === 'wrong-client') answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${clientId}-other`)))]));
    if (kind === 'throws') answers.set(token, { throw: 'token revoked' });
    if (kind === 'hangs') answers.set(token, { hang: true });
  }
  const attempts = await Promise.all(
    plan.map((p, i) =>
      attemptConnect(s, withCredentials(s, i % 2 === 0 ? 'tcp' : 'ws', { [NAME_KEY]: 'ByToken', token: p.token }, { clientId: p.clientId, protocolVersion: 5 })),
    ),
  );
  for (const [i, p] of plan.entries()) {
    const a = attempts[i]!;
    if (p.kind === 'ok') assert.equal(a.accepted, true, `${p.clientId}: ${JSON.stringify(a.connack)}`);
    else assert.equal(a.accepted, false, `${p.clientId} (${p.kind}) was admitted`);
    if (p.kind === 'throws' || p.kind === 'hangs' || p.kind === 'wrong-client') assert.equal(connackCode(a), 0x87, `${p.clientId} (${p.kind})`);
    if (p.kind === 'unknown') assert.equal(connackCode(a), 0x86, `${p.clientId} (${p.kind})`);
    // The authorizer ran once for every connection (no result cache).
    assert.equal(answers.calls(p.token), 1, `${p.token} calls`);
  }
  for (const a of attempts) a.client.end(true);
});
