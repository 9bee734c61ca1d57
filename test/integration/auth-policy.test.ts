// Policy enforcement on a connection admitted by a custom authorizer (AWS reference §2): iot:Receive
// checked per delivery, what a refusal looks like per protocol version (v5 reason codes and, when
// the client asked for problem information, a reason string naming the action and resource;
// v3.1.1 SUBACK 0x80 per refused filter), iot:RetainPublish, the will at CONNECT, and
// ${iot:ClientId} in documents.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPubackPacket, ISubackPacket } from 'mqtt-packet';
import { uid, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import { textsBeforeSentinel } from '../helpers/sentinel.js';
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
  refusalProblem,
  subscribeCodes,
  TokenAnswers,
  withCredentials,
  type Statement,
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
      authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
    },
  });
});
after(() => answers.remove());

async function connectWith(
  transport: Transport,
  version: ProtocolVersion,
  clientId: string,
  statements: Statement[],
  extra: Record<string, unknown> = {},
) {
  const token = uid('tok');
  answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${clientId}`)), ...statements)]));
  const a = await attemptConnect(s(), withCredentials(s(), transport, { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: version, ...extra }));
  return a;
}

async function connected(transport: Transport, version: ProtocolVersion, clientId: string, statements: Statement[], extra: Record<string, unknown> = {}) {
  const a = await connectWith(transport, version, clientId, statements, extra);
  assert.equal(a.accepted, true, `CONNECT refused: ${JSON.stringify(a.connack)}`);
  return a;
}

describe('iot:Receive is checked on every delivery', () => {
  for (const transport of ['tcp', 'ws'] as const) {
    for (const version of [4, 5] as const) {
      test(`${transport} v${version}: Subscribe t/# allowed, Receive on t/secret denied`, async () => {
        const root = uid('r');
        const sub = await connected(transport, version, uid('sub'), [
          allow('iot:Subscribe', arn(`topicfilter/${root}/*`)),
          allow('iot:Receive', arn(`topic/${root}/*`)),
          deny('iot:Receive', arn(`topic/${root}/secret`)),
        ]);
        assert.deepEqual((await subscribeCodes(sub.client, `${root}/#`, { qos: 1 })).codes, [1]);
        const pub = await connected('tcp', 5, uid('pub'), [allow('iot:Publish', arn(`topic/${root}/*`))]);
        await pub.client.publishAsync(`${root}/secret`, 'secret', { qos: 1 });
        await pub.client.publishAsync(`${root}/secret`, 'secret qos0', { qos: 0 });
        await pub.client.publishAsync(`${root}/public`, 'public', { qos: 1 });
        // 'public' was published after the withheld ones on the same subscription: it is their sentinel.
        await sub.inbox.waitFor(1, 3_000, (m) => m.text === 'public');
        assert.deepEqual(sub.inbox.texts(), ['public']);
        assert.equal(sub.inbox.closed, false, 'a withheld delivery is silent');
      });
    }
  }

  test('a retained message on a topic without iot:Receive is not delivered on subscribe', async () => {
    const root = uid('r');
    const pub = await connected('tcp', 5, uid('pub'), [allow(['iot:Publish', 'iot:RetainPublish'], arn(`topic/${root}/*`))]);
    await pub.client.publishAsync(`${root}/secret`, 'retained secret', { qos: 1, retain: true });
    await pub.client.publishAsync(`${root}/public`, 'retained public', { qos: 1, retain: true });
    const sub = await connected('ws', 5, uid('sub'), [
      allow('iot:Subscribe', arn(`topicfilter/${root}/*`)),
      allow('iot:Receive', arn(`topic/${root}/public`)),
    ]);
    assert.deepEqual((await subscribeCodes(sub.client, [`${root}/secret`, `${root}/public`], { qos: 1 })).codes, [1, 1]);
    // Retained messages are sent right after the SUBACK: a sentinel published now comes after them.
    assert.deepEqual(await textsBeforeSentinel(pub.client, `${root}/public`, sub.inbox), ['retained public']);
    // Clean up the retained messages.
    await pub.client.publishAsync(`${root}/secret`, '', { qos: 1, retain: true });
    await pub.client.publishAsync(`${root}/public`, '', { qos: 1, retain: true });
  });
});

describe('refusals as each protocol version shows them', () => {
  const statements = (root: string) => [
    allow('iot:Publish', arn(`topic/${root}/ok`)),
    allow('iot:Subscribe', arn(`topicfilter/${root}/ok`)),
  ];

  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport} v5 with request problem information: PUBACK 0x87 and SUBACK 0x87 with reason strings`, async () => {
      const root = uid('r');
      const c = await connected(transport, 5, uid('c'), statements(root), { properties: { requestProblemInformation: true } });

      await assert.rejects(c.client.publishAsync(`${root}/denied`, 'x', { qos: 1 }));
      const puback = packetsOf<IPubackPacket>(c.packets, 'puback').at(-1)!;
      assert.equal(puback.reasonCode, 0x87);
      const pubReason = puback.properties?.reasonString ?? '';
      assert.match(pubReason, /iot:Publish/, `reason string names the action: ${pubReason}`);
      assert.match(pubReason, new RegExp(`topic/${root}/denied`), `reason string names the resource: ${pubReason}`);

      const { codes, packet } = await subscribeCodes(c.client, [`${root}/ok`, `${root}/#`], { qos: 1 });
      assert.deepEqual(codes, [1, 0x87]);
      const subReason = (packet as ISubackPacket).properties?.reasonString ?? '';
      assert.match(subReason, /iot:Subscribe/, `reason string names the action: ${subReason}`);
      assert.match(subReason, new RegExp(`topicfilter/${root}/#`), `reason string names the resource: ${subReason}`);
      assert.doesNotMatch(subReason, new RegExp(`topicfilter/${root}/ok\\b`), 'the granted filter is not reported');

      // Still connected, still working.
      await c.client.publishAsync(`${root}/ok`, 'fine', { qos: 1 });
      assert.equal(c.inbox.closed, false);
    });
  }

  test('v5 without request problem information: the same codes, no reason strings [MQTT-3.1.2-29]', async () => {
    const root = uid('r');
    const c = await connected('tcp', 5, uid('c'), statements(root), { properties: { requestProblemInformation: false } });
    await assert.rejects(c.client.publishAsync(`${root}/denied`, 'x', { qos: 1 }));
    const puback = packetsOf<IPubackPacket>(c.packets, 'puback').at(-1)!;
    assert.equal(puback.reasonCode, 0x87);
    assert.equal(puback.properties?.reasonString, undefined);
    const { codes, packet } = await subscribeCodes(c.client, [`${root}/#`], { qos: 1 });
    assert.deepEqual(codes, [0x87]);
    assert.equal((packet as ISubackPacket).properties?.reasonString, undefined);
  });

  test('v5: a refused QoS 0 publish is dropped and the connection stays open', async () => {
    const root = uid('r');
    const watcher = await connected('tcp', 5, uid('w'), [allow('iot:Subscribe', arn(`topicfilter/${root}/*`)), allow('iot:Receive', arn(`topic/${root}/*`))]);
    await subscribeCodes(watcher.client, `${root}/#`, { qos: 1 });
    const c = await connected('ws', 5, uid('c'), statements(root));
    await c.client.publishAsync(`${root}/denied`, 'dropped', { qos: 0 });
    await c.client.publishAsync(`${root}/ok`, 'sentinel', { qos: 1 });
    await watcher.inbox.waitFor(1, 3_000, (m) => m.text === 'sentinel');
    assert.deepEqual(watcher.inbox.texts(), ['sentinel']);
    assert.equal(c.inbox.closed, false);
  });

  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport} v3.1.1: a refused filter gets 0x80 while the others succeed`, async () => {
      const root = uid('r');
      const c = await connected(transport, 4, uid('c'), [
        ...statements(root),
        allow('iot:Subscribe', arn(`topicfilter/${root}/also-ok/+`)),
      ]);
      const { codes } = await subscribeCodes(
        c.client,
        { [`${root}/ok`]: { qos: 1 }, [`${root}/#`]: { qos: 1 }, [`${root}/also-ok/+`]: { qos: 0 }, '#': { qos: 0 } },
      );
      assert.deepEqual(codes, [1, 0x80, 0, 0x80]);
      assert.equal(c.inbox.closed, false, 'a refused filter does not close a v3.1.1 connection');
      await c.client.publishAsync(`${root}/ok`, 'fine', { qos: 1 });
    });

    test(`${transport} v3.1.1: a refused publish closes the connection (as AWS IoT does)`, async () => {
      const root = uid('r');
      const c = await connected(transport, 4, uid('c'), statements(root));
      c.client.publish(`${root}/denied`, 'x', { qos: 1 });
      await c.inbox.waitForClose(3_000);
    });
  }
});

describe('iot:RetainPublish, the will, policy variables', () => {
  test('v5: a retained publish needs iot:RetainPublish as well as iot:Publish', async () => {
    const root = uid('r');
    const c = await connected('tcp', 5, uid('c'), [allow('iot:Publish', arn(`topic/${root}/*`)), allow('iot:RetainPublish', arn(`topic/${root}/keep`))]);
    await c.client.publishAsync(`${root}/plain`, 'not retained', { qos: 1 });
    await assert.rejects(c.client.publishAsync(`${root}/plain`, 'retained', { qos: 1, retain: true }));
    const puback = packetsOf<IPubackPacket>(c.packets, 'puback').at(-1)!;
    assert.equal(puback.reasonCode, 0x87);
    assert.match(puback.properties?.reasonString ?? '', /iot:RetainPublish/);
    await c.client.publishAsync(`${root}/keep`, 'retained', { qos: 1, retain: true });
    await c.client.publishAsync(`${root}/keep`, '', { qos: 1, retain: true });
  });

  for (const version of [4, 5] as const) {
    test(`v${version}: a will on a topic without iot:Publish refuses the CONNECT`, async () => {
      const root = uid('r');
      const will = { topic: `${root}/will`, payload: Buffer.from('bye'), qos: 0 as const, retain: false };
      const refused = await connectWith('ws', version, uid('c'), [allow('iot:Publish', arn(`topic/${root}/other`))], { will });
      assert.equal(refusalProblem(refused, version), null);
      const ok = await connectWith('ws', version, uid('c'), [allow('iot:Publish', arn(`topic/${root}/will`))], { will });
      assert.equal(ok.accepted, true);
      // A retained will needs iot:RetainPublish too.
      const retained = await connectWith('tcp', version, uid('c'), [allow('iot:Publish', arn(`topic/${root}/will`))], { will: { ...will, retain: true } });
      assert.equal(refusalProblem(retained, version), null);
    });
  }

  test('${iot:ClientId} in a document is the connection\'s client ID', async () => {
    const id = uid('dev');
    const c = await connected('ws', 5, id, [
      allow('iot:Publish', arn('topic/devices/${iot:ClientId}/*')),
      allow('iot:Subscribe', arn('topicfilter/devices/${iot:ClientId}/*')),
    ]);
    await c.client.publishAsync(`devices/${id}/telemetry`, 'mine', { qos: 1 });
    await assert.rejects(c.client.publishAsync('devices/someone-else/telemetry', 'theirs', { qos: 1 }));
    assert.deepEqual((await subscribeCodes(c.client, [`devices/${id}/#`, 'devices/someone-else/#'], { qos: 1 })).codes, [1, 0x87]);
  });

  test('iot:Connect on client/a-* admits only matching client IDs', async () => {
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Connect', arn('client/a-*')))]));
    const ok = await attemptConnect(s(), withCredentials(s(), 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId: uid('a'), protocolVersion: 5 }));
    assert.equal(ok.accepted, true);
    const no = await attemptConnect(s(), withCredentials(s(), 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId: uid('b'), protocolVersion: 5 }));
    assert.equal(refusalProblem(no, 5), null);
  });
});

describe('refusals are logged as refusals, not as protocol violations', () => {
  /** The lines about `clientId` that call its end a protocol violation. */
  const violations = (clientId: string) => s().logLines().filter((l) => l.clientId === clientId && /protocol violation/.test(String(l.msg)));

  test('a CONNECT the policy refuses (iot:Connect): info "connection refused: not authorized" with the reason', async () => {
    const clientId = uid('b');
    const token = uid('tok');
    answers.set(token, answer([doc(deny('iot:Connect', arn(`client/${clientId}`)))]));
    const denied = await attemptConnect(s(), withCredentials(s(), 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 5 }));
    assert.equal(refusalProblem(denied, 5), null);
    const line = await s().waitForLog((l) => l.clientId === clientId && l.msg === 'connection refused: not authorized');
    assert.equal(line.level, 30, 'info');
    assert.equal(line.reason, 'not-authorized');
    assert.ok(typeof line.detail === 'string' && line.detail.length > 0, `the reason is logged: ${JSON.stringify(line)}`);
    assert.deepEqual(violations(clientId), []);
  });

  test('a CONNECT the authorizer refuses (isAuthenticated false) is logged the same way', async () => {
    const clientId = uid('c');
    const token = uid('tok');
    answers.set(token, answer([], { isAuthenticated: false }));
    const a = await attemptConnect(s(), withCredentials(s(), 'ws', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 4 }));
    assert.equal(refusalProblem(a, 4), null);
    await s().waitForLog((l) => l.clientId === clientId && l.msg === 'connection refused: not authorized');
    assert.deepEqual(violations(clientId), []);
  });

  test('a v3.1.1 publish the policy refuses: info "closing connection: not authorized"', async () => {
    const clientId = uid('c');
    const c = await connected('tcp', 4, clientId, []);
    c.client.publish('anywhere/denied', 'x', { qos: 1 });
    await c.inbox.waitForClose(3_000);
    const line = await s().waitForLog((l) => l.clientId === clientId && l.msg === 'closing connection: not authorized');
    assert.equal(line.level, 30, 'info');
    assert.match(String(line.detail), /iot:Publish/);
    assert.deepEqual(violations(clientId), []);
  });
});
