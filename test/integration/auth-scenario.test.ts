// The custom-authorizer scenario from the issue, verbatim: the Lambda-style CommonJS handler
// examples/authorizers/unauthenticated.js registered as "Unauthenticated" — by the config file
// (examples/switchboard.yaml) and by `switchboard authorizers create` against a running node that
// has no authorizers in its config — and a client "client-1" that selects it over WebSocket
// (`/mqtt?x-amz-customauthorizer-name=Unauthenticated`) and TCP (the username's query string).
//
// Its policy: iot:Connect client/*, iot:Subscribe topicfilter/server, iot:Publish topic/client.
// So client-1 may publish to `client` but not `server`, and subscribe to `server` but not to
// `client` or `#`. An anonymous loopback observer (every right) checks what was delivered.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { IPubackPacket } from 'mqtt-packet';
import { COMBOS, connectClient, subscriber, uid, type ProtocolVersion, type Transport } from '../helpers/clients.js';
import { attemptConnect, NAME_KEY, packetsOf, refusalProblem, runCli, subscribeCodes, withCredentials } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';

installCleanup();

const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'switchboard.yaml');
/** A function name: the node looks it up in functions.dir (set to examples/authorizers below). */
const HANDLER = 'unauthenticated';
const CLIENT_ID = 'client-1';

async function connectClient1(server: TestServer, transport: Transport, version: ProtocolVersion) {
  const attempt = await attemptConnect(
    server,
    withCredentials(server, transport, { [NAME_KEY]: 'Unauthenticated' }, { clientId: CLIENT_ID, protocolVersion: version }),
  );
  assert.equal(attempt.accepted, true, `client-1 was refused: ${JSON.stringify(attempt.connack)} closed=${attempt.closed}`);
  return attempt;
}

/** The checks of the issue, for one transport and protocol version. */
function scenario(server: () => TestServer) {
  for (const { transport, version, name } of COMBOS) {
    test(`${name}: client-1 subscribes to server only, publishes to client only`, async () => {
      const s = server();
      // Observer: anonymous from loopback (no authorizer named), every right.
      const observer = await subscriber(s, ['client', 'server'], 1, { clientId: uid('observer') });
      const c1 = await connectClient1(s, transport, version);

      // One SUBSCRIBE, three filters: each is decided on its own [MQTT-3.9.3].
      const refused = version === 5 ? 0x87 : 0x80;
      const { codes } = await subscribeCodes(c1.client, ['server', 'client', '#'], { qos: 1 });
      assert.deepEqual(codes, [1, refused, refused], 'SUBACK for server, client, #');
      // Each alone, too (topicfilter/client and topicfilter/# are not granted).
      assert.deepEqual((await subscribeCodes(c1.client, '#', { qos: 0 })).codes, [refused]);
      assert.deepEqual((await subscribeCodes(c1.client, 'client', { qos: 0 })).codes, [refused]);
      assert.deepEqual((await subscribeCodes(c1.client, 'server', { qos: 0 })).codes, [0]);

      // Allowed: topic/client.
      await c1.client.publishAsync('client', 'hello from client-1', { qos: 1 });
      const got = await observer.inbox.waitFor(1, 3_000, (m) => m.topic === 'client');
      assert.equal(got[0]!.text, 'hello from client-1');

      // Refused: topic/server.
      if (version === 5) {
        await assert.rejects(c1.client.publishAsync('server', 'must not arrive', { qos: 1 }));
        const acks = packetsOf<IPubackPacket>(c1.packets, 'puback');
        assert.equal(acks.at(-1)!.reasonCode, 0x87, 'PUBACK 0x87 Not authorized');
        assert.equal(c1.inbox.closed, false, 'a refused v5 publish leaves the connection open');
        // Same publisher, later message: if `server` had been routed it would have come first.
        await c1.client.publishAsync('client', 'sentinel', { qos: 1 });
      } else {
        // v3.1.1 cannot refuse in a PUBACK; the connection is closed (as AWS IoT does).
        c1.client.publish('server', 'must not arrive', { qos: 1 });
        await c1.inbox.waitForClose(3_000);
        const pub = await connectClient(s, { clientId: uid('sentinel') });
        await pub.client.publishAsync('client', 'sentinel', { qos: 1 });
      }
      await observer.inbox.waitFor(1, 3_000, (m) => m.text === 'sentinel');
      assert.deepEqual(observer.inbox.texts((m) => m.topic === 'server'), []);
    });
  }

  test('client-1 over WebSocket with the authorizer name as a header instead of a query parameter', async () => {
    const s = server();
    const attempt = await attemptConnect(s, {
      transport: 'ws',
      clientId: CLIENT_ID,
      wsOptions: { headers: { [NAME_KEY]: 'Unauthenticated' } },
    });
    assert.equal(attempt.accepted, true, JSON.stringify(attempt.connack));
    assert.deepEqual((await subscribeCodes(attempt.client, ['server', 'client'], { qos: 1 })).codes, [1, 0x87]);
  });

  test('the AWS SDK metrics appended to the username (SDK=, Version=) are ignored', async () => {
    const s = server();
    const attempt = await attemptConnect(s, {
      transport: 'tcp',
      clientId: CLIENT_ID,
      username: `anything?${NAME_KEY}=Unauthenticated&SDK=JavaScript&Version=2.1.0`,
    });
    assert.equal(attempt.accepted, true, JSON.stringify(attempt.connack));
  });
}

describe('registered in the config file (examples/switchboard.yaml)', () => {
  let server: TestServer | undefined;
  before(async () => {
    // --anonymous loopback admits the observer; client-1 names the authorizer, so it is unaffected.
    server = await startServer({ configFile: EXAMPLE_CONFIG, args: ['--anonymous', 'loopback'] });
  });
  const get = () => {
    if (!server) throw new Error('server not started');
    return server;
  };

  test('the ready line lists the authorizer', async () => {
    const ready = await get().waitForLog((l) => l.msg === 'switchboard ready');
    assert.deepEqual(ready.authorizers, ['Unauthenticated']);
  });

  scenario(get);
});

describe('registered with `switchboard authorizers create` on a running node', () => {
  let server: TestServer | undefined;
  before(async () => {
    // No auth section at all: anonymous clients are admitted from loopback (the default).
    server = await startServer({ args: ['--set', `functions.dir=${join(REPO_ROOT, 'examples', 'authorizers')}`] });
  });
  const get = () => {
    if (!server) throw new Error('server not started');
    return server;
  };

  test('before registration the name is unknown and client-1 is refused', async () => {
    const attempt = await attemptConnect(
      get(),
      withCredentials(get(), 'ws', { [NAME_KEY]: 'Unauthenticated' }, { clientId: CLIENT_ID, protocolVersion: 5 }),
    );
    assert.equal(refusalProblem(attempt, 5), null);
  });

  test('authorizers create / list / describe', async () => {
    const endpoint = ['--endpoint', get().httpUrl];
    const created = await runCli([
      'authorizers', 'create', '--name', 'Unauthenticated', '--type', 'function',
      '--handler', HANDLER, '--signing-disabled', ...endpoint,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const out = JSON.parse(created.stdout) as { authorizerName: string; authorizerArn: string };
    assert.equal(out.authorizerName, 'Unauthenticated');
    assert.equal(out.authorizerArn, 'arn:aws:iot:us-east-1:123456789012:authorizer/Unauthenticated');

    const again = await runCli([
      'authorizers', 'create', '--name', 'Unauthenticated', '--type', 'function',
      '--handler', HANDLER, '--signing-disabled', ...endpoint,
    ]);
    assert.notEqual(again.code, 0, 'creating the same name twice fails');
    assert.match(again.stderr, /already exists/);

    const list = await runCli(['authorizers', 'list', ...endpoint]);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { authorizers: { authorizerName: string; status: string }[] };
    assert.deepEqual(listed.authorizers.map((a) => [a.authorizerName, a.status]), [['Unauthenticated', 'ACTIVE']]);

    const described = await runCli(['authorizers', 'describe', '--name', 'Unauthenticated', ...endpoint]);
    assert.equal(described.code, 0, described.stderr);
    const d = (JSON.parse(described.stdout) as { authorizerDescription: Record<string, unknown> }).authorizerDescription;
    assert.equal(d.authorizerName, 'Unauthenticated');
    assert.equal(d.signingDisabled, true);
    assert.equal(d.status, 'ACTIVE');
    // Printed as the AWS CLI prints JSON: 4-space indent.
    assert.equal(described.stdout, JSON.stringify(JSON.parse(described.stdout), null, 4) + '\n');
  });

  scenario(get);

  test('authorizers update --status INACTIVE refuses new clients; ACTIVE admits them again', async () => {
    const endpoint = ['--endpoint', get().httpUrl];
    const off = await runCli(['authorizers', 'update', '--name', 'Unauthenticated', '--status', 'INACTIVE', ...endpoint]);
    assert.equal(off.code, 0, off.stderr);
    try {
      for (const transport of ['ws', 'tcp'] as const) {
        const attempt = await attemptConnect(
          get(),
          withCredentials(get(), transport, { [NAME_KEY]: 'Unauthenticated' }, { clientId: CLIENT_ID, protocolVersion: 5 }),
        );
        assert.equal(refusalProblem(attempt, 5), null, transport);
      }
    } finally {
      const on = await runCli(['authorizers', 'update', '--name', 'Unauthenticated', '--status', 'ACTIVE', ...endpoint]);
      assert.equal(on.code, 0, on.stderr);
    }
    await connectClient1(get(), 'ws', 5);
  });
});
