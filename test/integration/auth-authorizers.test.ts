// Custom authorizers at CONNECT, on real sockets with MQTT.js (TCP: credentials in the username's
// query string; WebSocket: in the /mqtt query string): failures deny (throwing, hanging past
// timeoutMs, invalid answers), token signatures are checked before the handler runs, HTTP
// authorizers, INACTIVE and unknown names, the default authorizer, the unauthenticated policy,
// anonymous clients, and client-ID takeover. AWS behaviour: reference §1.2-1.7.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPubackPacket } from 'mqtt-packet';
import { COMBOS, sleep, uid, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import {
  allow,
  answer,
  arn,
  attemptConnect,
  closeHttpAuthorizers,
  doc,
  fixture,
  NAME_KEY,
  packetsOf,
  refusalProblem,
  SIGNATURE_KEY,
  signingKeys,
  startHttpAuthorizer,
  subscribeCodes,
  TokenAnswers,
  withCredentials,
  type HttpAuthorizer,
  type SigningKeys,
} from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { startServer, type TestServer } from '../helpers/server.js';

installCleanup();

/** Connect + pub/sub on `t/<clientId>/...` for `clientId`, as an authorizer answer. */
const rightsFor = (clientId: string) =>
  answer([
    doc(
      allow('iot:Connect', arn(`client/${clientId}`)),
      allow(['iot:Publish', 'iot:Receive'], arn(`topic/t/${clientId}/*`)),
      allow('iot:Subscribe', arn(`topicfilter/t/${clientId}/*`)),
    ),
  ]);

const answers = new TokenAnswers();
let keys: SigningKeys;
let otherKeys: SigningKeys;
let httpAuth: HttpAuthorizer;
/** token -> what the HTTP authorizer answers. */
const httpAnswers = new Map<string, unknown>();

let server: TestServer | undefined;
const s = () => {
  if (!server) throw new Error('server not started');
  return server;
};

before(async () => {
  keys = signingKeys();
  otherKeys = signingKeys();
  httpAuth = await startHttpAuthorizer((event) => {
    const token = String(event.token ?? '');
    if (token.startsWith('http-hang')) return new Promise(() => undefined);
    return httpAnswers.get(token) ?? answer([], { isAuthenticated: false });
  });
  const byToken = { type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' };
  server = await startServer({
    env: answers.env,
    auth: {
      authorizers: [
        { name: 'ByToken', ...byToken },
        { name: 'Throws', type: 'function', handler: fixture('e2e-throws.js'), signingDisabled: true },
        { name: 'Hangs', type: 'function', handler: fixture('e2e-hangs.js'), signingDisabled: true, timeoutMs: 300 },
        { name: 'BusyLoop', type: 'function', handler: fixture('e2e-busy-loop.js'), signingDisabled: true, timeoutMs: 300 },
        { name: 'Callback', type: 'function', handler: fixture('e2e-callback.js'), signingDisabled: true },
        { name: 'Inactive', ...byToken, status: 'INACTIVE' },
        {
          name: 'Signed',
          type: 'function',
          handler: fixture('e2e-by-token.js'),
          signingDisabled: false,
          tokenKeyName: 'token',
          tokenSigningPublicKeys: { k1: keys.publicKey },
        },
        { name: 'Http', type: 'http', url: httpAuth.url, signingDisabled: true, tokenKeyName: 'token', timeoutMs: 1000 },
        {
          name: 'HttpSigned',
          type: 'http',
          url: httpAuth.url,
          signingDisabled: false,
          tokenKeyName: 'token',
          tokenSigningPublicKeys: { k1: keys.publicKey },
        },
      ],
    },
  });
});

after(async () => {
  await closeHttpAuthorizers();
  answers.remove();
});

/** Connects naming `authorizer` with `token` (and optional extra params) on `transport`. */
function attempt(
  transport: Transport,
  version: ProtocolVersion,
  params: Record<string, string | undefined>,
  clientId = uid('c'),
  extra: Record<string, unknown> = {},
) {
  return attemptConnect(s(), withCredentials(s(), transport, params, { clientId, protocolVersion: version, ...extra }));
}

async function assertRefused(transport: Transport, version: ProtocolVersion, params: Record<string, string | undefined>, what: string) {
  const a = await attempt(transport, version, params);
  assert.equal(refusalProblem(a, version), null, `${what} over ${transport} v${version}`);
  return a;
}

/** A fresh token whose ByToken answer allows its client; returns [token, clientId]. */
function allowedToken(): [string, string] {
  const token = uid('tok');
  const clientId = uid('c');
  answers.set(token, rightsFor(clientId));
  return [token, clientId];
}

async function assertServesByToken(times = 1) {
  for (let i = 0; i < times; i++) {
    const [token, clientId] = allowedToken();
    const a = await attempt('tcp', 5, { [NAME_KEY]: 'ByToken', token }, clientId);
    const log = s().logs.filter((l) => /authorizer|worker/.test(l)).slice(-6).join('\n');
    assert.equal(a.accepted, true, `ByToken answer ${i} after a failure: ${JSON.stringify(a.connack)}\n${log}`);
    a.client.end(true);
  }
}

describe('an authorizer that works', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: its policy is applied`, async () => {
      const [token, clientId] = allowedToken();
      const a = await attempt(transport, version, { [NAME_KEY]: 'ByToken', token }, clientId);
      assert.equal(a.accepted, true, JSON.stringify(a.connack));
      const { codes } = await subscribeCodes(a.client, [`t/${clientId}/#`, 'elsewhere/#'], { qos: 1 });
      assert.deepEqual(codes, [1, version === 5 ? 0x87 : 0x80]);
      await a.client.publishAsync(`t/${clientId}/x`, 'mine', { qos: 1 });
      const got = await a.inbox.waitFor(1, 3_000);
      assert.equal(got[0]!.text, 'mine');
      assert.equal(answers.calls(token), 1, 'the handler ran once for this CONNECT');
    });
  }

  test('the event carries what AWS sends: token, protocols, protocolData, connectionMetadata', async () => {
    const [wsToken, wsClient] = allowedToken();
    const ws = await attempt('ws', 5, { [NAME_KEY]: 'ByToken', token: wsToken }, wsClient, { username: 'user-ws', password: Buffer.from('p@ss') });
    assert.equal(ws.accepted, true);
    const [tcpToken, tcpClient] = allowedToken();
    const tcp = await attempt('tcp', 4, { [NAME_KEY]: 'ByToken', token: tcpToken }, tcpClient, { password: Buffer.from([0, 1, 2, 255]) });
    assert.equal(tcp.accepted, true);

    const wsEvent = answers.events(wsToken)[0] as Record<string, any>;
    assert.equal(wsEvent.token, wsToken);
    assert.equal(wsEvent.signatureVerified, false);
    assert.ok(wsEvent.protocols.includes('http') && wsEvent.protocols.includes('mqtt'), JSON.stringify(wsEvent.protocols));
    assert.match(wsEvent.protocolData.http.queryString, /^\?/, 'queryString keeps its leading ?');
    assert.match(wsEvent.protocolData.http.queryString, new RegExp(`${NAME_KEY}=ByToken`));
    assert.equal(typeof wsEvent.protocolData.http.headers, 'object');
    assert.equal(wsEvent.protocolData.mqtt.clientId, wsClient);
    assert.equal(wsEvent.protocolData.mqtt.username, 'user-ws');
    assert.equal(wsEvent.protocolData.mqtt.password, Buffer.from('p@ss').toString('base64'), 'password is base64 of the raw bytes');
    assert.match(wsEvent.connectionMetadata.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const tcpEvent = answers.events(tcpToken)[0] as Record<string, any>;
    assert.equal(tcpEvent.token, tcpToken);
    assert.ok(tcpEvent.protocols.includes('mqtt') && !tcpEvent.protocols.includes('http'), JSON.stringify(tcpEvent.protocols));
    assert.equal(tcpEvent.protocolData.mqtt.clientId, tcpClient);
    assert.match(tcpEvent.protocolData.mqtt.username, /^anything/);
    assert.equal(tcpEvent.protocolData.mqtt.password, Buffer.from([0, 1, 2, 255]).toString('base64'));
    assert.notEqual(tcpEvent.connectionMetadata.id, wsEvent.connectionMetadata.id);
  });

  test('a Lambda callback-style handler answering with policy documents as JSON strings', async () => {
    const a = await attempt('ws', 5, { [NAME_KEY]: 'Callback' });
    assert.equal(a.accepted, true, JSON.stringify(a.connack));
    assert.deepEqual((await subscribeCodes(a.client, ['cb/#', 'other'], { qos: 1 })).codes, [1, 0x87]);
  });
});

describe('failing authorizers deny', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: a throwing handler`, async () => {
      await assertRefused(transport, version, { [NAME_KEY]: 'Throws' }, 'Throws');
    });

    test(`${name}: a handler that never answers (timeoutMs 300)`, async () => {
      const started = Date.now();
      await assertRefused(transport, version, { [NAME_KEY]: 'Hangs' }, 'Hangs');
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2_500, `refused after ${took} ms; the authorizer's timeoutMs is 300`);
    });

    test(`${name}: an invalid answer (principalId not alphanumeric)`, async () => {
      const token = uid('tok');
      answers.set(token, answer([doc(allow('iot:*', '*'))], { principalId: 'user@example.com' }));
      await assertRefused(transport, version, { [NAME_KEY]: 'ByToken', token }, 'bad principalId');
      assert.equal(answers.calls(token), 1);
    });

    test(`${name}: isAuthenticated false`, async () => {
      const token = uid('tok');
      answers.set(token, answer([doc(allow('iot:*', '*'))], { isAuthenticated: false }));
      await assertRefused(transport, version, { [NAME_KEY]: 'ByToken', token }, 'isAuthenticated false');
    });
  }

  const everything = doc(allow('iot:*', '*'));
  const invalid: [string, unknown][] = [
    ['not an object', 'hello'],
    ['null', null],
    ['isAuthenticated missing', (({ isAuthenticated: _, ...rest }) => rest)(answer([everything]))],
    ['isAuthenticated a string', answer([everything], { isAuthenticated: 'true' as never })],
    ['principalId longer than 128', answer([everything], { principalId: 'a'.repeat(129) })],
    ['principalId empty', answer([everything], { principalId: '' })],
    ['policyDocuments not an array', answer(everything as never)],
    ['11 policy documents', answer(Array.from({ length: 11 }, () => everything))],
    ['a policy document over 2,048 characters', answer([doc(allow('iot:*', '*'), { Effect: 'Allow', Action: 'iot:Publish', Resource: arn('topic/' + 'x'.repeat(2100)) })])],
    ['a policy document string that is not JSON', answer(['{"Version": '])],
    ['a policy document with an unknown Effect', answer([{ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 'iot:*', Resource: '*' }] }])],
    ['refreshAfterInSeconds below 300', answer([everything], { refreshAfterInSeconds: 299 })],
    ['refreshAfterInSeconds above 86,400', answer([everything], { refreshAfterInSeconds: 86401 })],
    ['disconnectAfterInSeconds below 300', answer([everything], { disconnectAfterInSeconds: 1 })],
    ['disconnectAfterInSeconds above 86,400', answer([everything], { disconnectAfterInSeconds: 86401 })],
  ];
  for (const [what, value] of invalid) {
    test(`an invalid answer: ${what}`, async () => {
      const token = uid('tok');
      answers.set(token, value);
      await assertRefused('ws', 5, { [NAME_KEY]: 'ByToken', token }, what);
      assert.equal(answers.calls(token), 1, 'the handler did run');
    });
  }

  test('after timeouts and a handler that blocks its thread, authorizers still answer', async () => {
    const started = Date.now();
    await assertRefused('tcp', 5, { [NAME_KEY]: 'BusyLoop' }, 'BusyLoop');
    await assertRefused('tcp', 5, { [NAME_KEY]: 'BusyLoop' }, 'BusyLoop again');
    assert.ok(Date.now() - started < 5_000, 'each refused near its 300 ms timeout');
    // More calls than there are workers: a worker stuck in the loop must have been replaced.
    await assertServesByToken(4);
  });
});

describe('a blocked worker does not take innocent invocations down with it', () => {
  test('functionWorkers 1: a handler blocks after a slow init; the next client of another authorizer still connects', async () => {
    const other = await startServer({
      env: answers.env,
      auth: {
        functionWorkers: 1,
        authorizers: [
          { name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' },
          { name: 'SlowInitBusy', type: 'function', handler: fixture('e2e-slow-init-busy-loop.js'), signingDisabled: true, timeoutMs: 300 },
        ],
      },
    });
    try {
      const busy = await attemptConnect(other, withCredentials(other, 'tcp', { [NAME_KEY]: 'SlowInitBusy' }, { protocolVersion: 5 }));
      assert.equal(refusalProblem(busy, 5), null);
      await sleep(400); // its module has loaded by now and the handler holds the thread
      const [token, clientId] = allowedToken();
      const a = await attemptConnect(other, withCredentials(other, 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 5 }));
      const log = other.logs.filter((l) => /authorizer|worker/.test(l)).slice(-3).join('\n');
      assert.equal(a.accepted, true, `ByToken (5 s timeout) was refused: ${JSON.stringify(a.connack)}\n${log}`);
    } finally {
      await other.stop();
    }
  });
});

describe('token signing (signingDisabled: false)', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: a good signature connects; the handler sees signatureVerified`, async () => {
      const [token, clientId] = allowedToken();
      const a = await attempt(transport, version, { [NAME_KEY]: 'Signed', token, [SIGNATURE_KEY]: keys.sign(token) }, clientId);
      assert.equal(a.accepted, true, JSON.stringify(a.connack));
      const events = answers.events(token);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.signatureVerified, true);
      assert.equal(events[0]!.token, token);
    });

    test(`${name}: a bad signature is refused without invoking the handler`, async () => {
      const [token] = allowedToken();
      await assertRefused(transport, version, { [NAME_KEY]: 'Signed', token, [SIGNATURE_KEY]: keys.sign(token + 'x') }, 'signature of another token');
      assert.equal(answers.calls(token), 0, 'the handler must not run when the signature fails');
    });
  }

  const cases: [string, (token: string) => string | undefined][] = [
    ['no signature', () => undefined],
    ['signed with a key that is not registered', (t) => otherKeys.sign(t)],
    ['not base64', () => '!!!not-base64!!!'],
    ['a truncated signature', (t) => keys.sign(t).slice(0, 100)],
  ];
  for (const [what, sign] of cases) {
    test(`refused without invoking the handler: ${what}`, async () => {
      const [token] = allowedToken();
      await assertRefused('ws', 5, { [NAME_KEY]: 'Signed', token, [SIGNATURE_KEY]: sign(token) }, what);
      assert.equal(answers.calls(token), 0);
    });
  }

  test('no token at all is refused without invoking the handler', async () => {
    const before = answers.calls('no-token');
    await assertRefused('tcp', 5, { [NAME_KEY]: 'Signed' }, 'no token');
    assert.equal(answers.calls('no-token'), before);
  });

  test('the signature as a WebSocket header, token in the query string', async () => {
    const [token, clientId] = allowedToken();
    const a = await attemptConnect(s(), {
      transport: 'ws',
      url: `${s().wsUrl}?${NAME_KEY}=Signed&token=${token}`,
      clientId,
      wsOptions: { headers: { [SIGNATURE_KEY]: keys.sign(token) } },
    });
    assert.equal(a.accepted, true, JSON.stringify(a.connack));
  });

  test('an HTTP authorizer with signing: a bad signature never reaches it', async () => {
    const token = uid('tok');
    const clientId = uid('c');
    httpAnswers.set(token, rightsFor(clientId));
    const before = httpAuth.events.length;
    await assertRefused('tcp', 5, { [NAME_KEY]: 'HttpSigned', token, [SIGNATURE_KEY]: otherKeys.sign(token) }, 'bad signature');
    assert.equal(httpAuth.events.length, before, 'no request reached the HTTP authorizer');
    const ok = await attempt('tcp', 5, { [NAME_KEY]: 'HttpSigned', token, [SIGNATURE_KEY]: keys.sign(token) }, clientId);
    assert.equal(ok.accepted, true, JSON.stringify(ok.connack));
    assert.equal(httpAuth.events.length, before + 1);
  });
});

describe('an HTTP authorizer (a real node:http server)', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: its answer decides and its policy applies`, async () => {
      const token = uid('http');
      const clientId = uid('c');
      httpAnswers.set(token, rightsFor(clientId));
      const a = await attempt(transport, version, { [NAME_KEY]: 'Http', token }, clientId);
      assert.equal(a.accepted, true, JSON.stringify(a.connack));
      const event = httpAuth.events.find((e) => e.token === token) as Record<string, any> | undefined;
      assert.ok(event, 'the HTTP authorizer received the event');
      assert.equal(event.protocolData.mqtt.clientId, clientId);
      await a.client.publishAsync(`t/${clientId}/x`, 'ok', { qos: 1 });
      if (version === 5) {
        await assert.rejects(a.client.publishAsync('not/mine', 'no', { qos: 1 }));
        assert.equal(packetsOf<IPubackPacket>(a.packets, 'puback').at(-1)!.reasonCode, 0x87);
      }
    });
  }

  test('isAuthenticated false, an error status, a body that is not JSON and no answer within timeoutMs all deny', async () => {
    const denied = uid('http');
    httpAnswers.set(denied, answer([doc(allow('iot:*', '*'))], { isAuthenticated: false }));
    await assertRefused('ws', 5, { [NAME_KEY]: 'Http', token: denied }, 'isAuthenticated false');

    const status = uid('http');
    httpAnswers.set(status, { __http: { status: 500, body: JSON.stringify(answer([doc(allow('iot:*', '*'))])) } });
    await assertRefused('tcp', 4, { [NAME_KEY]: 'Http', token: status }, 'HTTP 500');

    const garbage = uid('http');
    httpAnswers.set(garbage, { __http: { status: 200, body: 'this is not JSON' } });
    await assertRefused('ws', 4, { [NAME_KEY]: 'Http', token: garbage }, 'not JSON');

    const started = Date.now();
    await assertRefused('tcp', 5, { [NAME_KEY]: 'Http', token: uid('http-hang') }, 'no answer');
    assert.ok(Date.now() - started < 4_000, 'refused near the 1 s timeoutMs');
  });

  test('an unreachable HTTP authorizer denies', async () => {
    const dead = await startHttpAuthorizer(() => answer([doc(allow('iot:*', '*'))]));
    const url = dead.url;
    await dead.close();
    const other = await startServer({
      auth: { authorizers: [{ name: 'Dead', type: 'http', url, signingDisabled: true, timeoutMs: 1000 }] },
    });
    try {
      const a = await attemptConnect(other, withCredentials(other, 'ws', { [NAME_KEY]: 'Dead' }, { protocolVersion: 5 }));
      assert.equal(refusalProblem(a, 5), null);
    } finally {
      await other.stop();
    }
  });
});

describe('authorizer selection', () => {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: an INACTIVE authorizer refuses without running`, async () => {
      const [token] = allowedToken();
      await assertRefused(transport, version, { [NAME_KEY]: 'Inactive', token }, 'INACTIVE');
      assert.equal(answers.calls(token), 0);
    });

    test(`${name}: an unknown authorizer name refuses`, async () => {
      await assertRefused(transport, version, { [NAME_KEY]: 'NoSuchAuthorizer', token: uid('tok') }, 'unknown name');
    });

    test(`${name}: with authorizers and no unauthenticated policy, a client naming none is refused`, async () => {
      const a = await attemptConnect(s(), { transport, protocolVersion: version, clientId: uid('anon') });
      assert.equal(refusalProblem(a, version), null);
    });
  }

  test('the ready line reports anonymous: nobody once authorizers are configured', async () => {
    const ready = await s().waitForLog((l) => l.msg === 'switchboard ready');
    assert.equal(ready.anonymous, 'nobody');
  });

  test('authorizer names are case-sensitive', async () => {
    const [token, clientId] = allowedToken();
    const a = await attempt('ws', 5, { [NAME_KEY]: 'bytoken', token }, clientId);
    assert.equal(refusalProblem(a, 5), null);
    assert.equal(answers.calls(token), 0);
  });

  // AWS's device SDK v1 README writes `?X-Amz-CustomAuthorizer-Name=…`; the parameter names are
  // matched case-insensitively (the token key name is matched exactly, docs/compatibility.md).
  test('X-Amz-CustomAuthorizer-Name and -Signature in mixed case (WebSocket query): the named authorizer admits', async () => {
    const [token, clientId] = allowedToken();
    const url = `${s().wsUrl}?X-Amz-CustomAuthorizer-Name=Signed&token=${token}&X-Amz-CustomAuthorizer-Signature=${encodeURIComponent(keys.sign(token))}`;
    const a = await attemptConnect(s(), { transport: 'ws', url, clientId, protocolVersion: 5 });
    assert.equal(a.accepted, true, JSON.stringify(a.connack));
    assert.equal(answers.events(token)[0]?.signatureVerified, true);
  });

  test('X-Amz-CustomAuthorizer-Name in mixed case in the TCP username query: the named authorizer admits', async () => {
    const [token, clientId] = allowedToken();
    const a = await attemptConnect(s(), { transport: 'tcp', username: `u?X-Amz-CustomAuthorizer-Name=ByToken&token=${token}`, clientId });
    assert.equal(a.accepted, true, JSON.stringify(a.connack));
    assert.equal(answers.calls(token), 1);
  });

  test('the token key name is matched exactly in the query: Token= is not token=', async () => {
    const [token, clientId] = allowedToken();
    const a = await attemptConnect(s(), { transport: 'ws', url: `${s().wsUrl}?${NAME_KEY}=Signed&Token=${token}&${SIGNATURE_KEY}=${encodeURIComponent(keys.sign(token))}`, clientId });
    assert.equal(refusalProblem(a, 5), null);
    assert.equal(answers.calls(token), 0);
  });
});

describe('takeover: documents that allow client/a cannot connect as b', () => {
  for (const { transport, version, name } of COMBOS) {
    test(name, async () => {
      const a = uid('a');
      const b = uid('b');
      const victimToken = uid('tok');
      answers.set(victimToken, rightsFor(b));
      const victim = await attempt(transport, version, { [NAME_KEY]: 'ByToken', token: victimToken }, b);
      assert.equal(victim.accepted, true, 'b connects with its own credentials');

      const attackerToken = uid('tok');
      answers.set(attackerToken, rightsFor(a));
      const attacker = await attempt(transport, version, { [NAME_KEY]: 'ByToken', token: attackerToken }, b);
      assert.equal(refusalProblem(attacker, version), null, 'credentials for client/a are refused as b');

      // The refused attempt did not take b's session over.
      assert.equal(victim.inbox.closed, false, 'b is still connected');
      assert.deepEqual(victim.inbox.disconnects, []);
      await victim.client.publishAsync(`t/${b}/still-here`, 'yes', { qos: 1 });

      // The same credentials as a succeed.
      const asA = await attempt(transport, version, { [NAME_KEY]: 'ByToken', token: attackerToken }, a);
      assert.equal(asA.accepted, true);
    });
  }
});

describe('a default authorizer', () => {
  let other: TestServer | undefined;
  before(async () => {
    other = await startServer({
      env: answers.env,
      auth: {
        defaultAuthorizer: 'ByToken',
        authorizers: [
          { name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' },
          { name: 'Throws', type: 'function', handler: fixture('e2e-throws.js'), signingDisabled: true },
        ],
      },
    });
  });
  after(() => other?.stop());
  const o = () => other!;

  for (const { transport, version, name } of COMBOS) {
    test(`${name}: runs for a client that names none`, async () => {
      const [token, clientId] = allowedToken();
      const a = await attemptConnect(o(), withCredentials(o(), transport, { token }, { clientId, protocolVersion: version }));
      assert.equal(a.accepted, true, JSON.stringify(a.connack));
      assert.equal(answers.calls(token), 1, 'the default authorizer ran');
      assert.deepEqual((await subscribeCodes(a.client, [`t/${clientId}/#`, 'x/#'], { qos: 1 })).codes, [1, version === 5 ? 0x87 : 0x80]);
    });
  }

  test('its refusal refuses (no token: not authenticated)', async () => {
    const a = await attemptConnect(o(), { transport: 'tcp', protocolVersion: 5, clientId: uid('c') });
    assert.equal(refusalProblem(a, 5), null);
  });

  test('a client naming another authorizer gets that one, not the default', async () => {
    const [token, clientId] = allowedToken();
    const a = await attemptConnect(o(), withCredentials(o(), 'ws', { [NAME_KEY]: 'Throws', token }, { clientId, protocolVersion: 5 }));
    assert.equal(refusalProblem(a, 5), null);
    assert.equal(answers.calls(token), 0);
  });

  test('the ready line names the default authorizer', async () => {
    const ready = await o().waitForLog((l) => l.msg === 'switchboard ready');
    assert.equal(ready.defaultAuthorizer, 'ByToken');
  });
});

describe('an unauthenticated policy', () => {
  let other: TestServer | undefined;
  before(async () => {
    other = await startServer({
      env: answers.env,
      auth: {
        unauthenticatedPolicy: doc(
          allow('iot:Connect', arn('client/guest-*')),
          allow(['iot:Publish', 'iot:Receive'], arn('topic/public/*')),
          allow('iot:Subscribe', arn('topicfilter/public/*')),
        ),
        authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
      },
    });
  });
  after(() => other?.stop());
  const o = () => other!;

  for (const { transport, version, name } of COMBOS) {
    test(`${name}: applies to a client that names no authorizer`, async () => {
      const a = await attemptConnect(o(), { transport, protocolVersion: version, clientId: uid('guest') });
      assert.equal(a.accepted, true, JSON.stringify(a.connack));
      const refused = version === 5 ? 0x87 : 0x80;
      assert.deepEqual((await subscribeCodes(a.client, ['public/#', 'private/#'], { qos: 1 })).codes, [1, refused]);
      await a.client.publishAsync('public/news', 'hi', { qos: 1 });
      assert.equal((await a.inbox.waitFor(1, 3_000))[0]!.text, 'hi');
      if (version === 5) {
        await assert.rejects(a.client.publishAsync('private/x', 'no', { qos: 1 }));
        assert.equal(packetsOf<IPubackPacket>(a.packets, 'puback').at(-1)!.reasonCode, 0x87);
      } else {
        a.client.publish('private/x', 'no', { qos: 1 });
        await a.inbox.waitForClose(3_000);
      }
    });

    test(`${name}: its iot:Connect decides which client IDs may connect`, async () => {
      const a = await attemptConnect(o(), { transport, protocolVersion: version, clientId: uid('intruder') });
      assert.equal(refusalProblem(a, version), null);
    });
  }

  test('a client naming an authorizer gets that authorizer\'s policy instead', async () => {
    const [token, clientId] = allowedToken();
    const a = await attemptConnect(o(), withCredentials(o(), 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 5 }));
    assert.equal(a.accepted, true, JSON.stringify(a.connack));
    assert.deepEqual((await subscribeCodes(a.client, [`t/${clientId}/#`, 'public/#'], { qos: 1 })).codes, [1, 0x87]);
  });

  test('a client naming an authorizer that refuses is not admitted with the unauthenticated policy', async () => {
    const a = await attemptConnect(o(), withCredentials(o(), 'ws', { [NAME_KEY]: 'ByToken', token: uid('unknown') }, { clientId: uid('guest'), protocolVersion: 5 }));
    assert.equal(refusalProblem(a, 5), null);
  });
});
