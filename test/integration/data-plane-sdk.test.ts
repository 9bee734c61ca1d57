// The HTTP data plane driven by the real AWS SDK v3 client, with access keys Switchboard manages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GetRetainedMessageCommand,
  IoTDataPlaneClient,
  ListRetainedMessagesCommand,
  PublishCommand,
} from '@aws-sdk/client-iot-data-plane';
import mqtt from 'mqtt';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/clients.js';

after(stopAllServers);

const ARN = 'arn:aws:iot:us-east-1:123456789012';

async function createKey(server: TestServer, actions: string[]): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const r = await fetch(`${server.httpUrl}/api/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] }] }),
  });
  assert.equal(r.status, 201);
  return (await r.json()) as { accessKeyId: string; secretAccessKey: string };
}

function sdk(server: TestServer, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new IoTDataPlaneClient({ endpoint: server.httpUrl, region: 'us-east-1', credentials, maxAttempts: 1 });
}

describe('AWS SDK v3 IoT data plane against Switchboard', () => {
  let server: TestServer;
  let full: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    // Nobody anonymous: every call must be signed (or use an authorizer).
    server = await startServer({ args: ['--anonymous', 'nobody'], auth: { anonymous: 'nobody', unauthenticatedPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] } } });
    full = await createKey(server, ['iot:Publish', 'iot:RetainPublish', 'iot:GetRetainedMessage', 'iot:ListRetainedMessages', 'iot:DeleteConnection']);
  });

  test('PublishCommand reaches an MQTT.js subscriber with payload, QoS, retain and v5 properties intact', async () => {
    const sub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-sub', protocolVersion: 5, reconnectPeriod: 0 });
    const got = new Promise<mqtt.IPublishPacket>((resolve) => sub.once('message', (_t, _p, packet) => resolve(packet)));
    await sub.subscribeAsync('sdk/a/b', { qos: 1, rap: true });
    const client = sdk(server, full);
    await client.send(
      new PublishCommand({
        topic: 'sdk/a/b',
        qos: 1,
        retain: true,
        payload: Buffer.from([0, 1, 2, 250, 255]),
        contentType: 'application/octet-stream',
        userProperties: JSON.stringify([{ deviceName: 'alpha' }, { deviceCnt: '45' }]),
        correlationData: Buffer.from('corr-1').toString('base64'),
        payloadFormatIndicator: 'UNSPECIFIED_BYTES',
        responseTopic: 'sdk/replies',
      }),
    );
    const packet = await got;
    assert.equal(packet.topic, 'sdk/a/b');
    assert.deepEqual([...(packet.payload as Buffer)], [0, 1, 2, 250, 255]);
    assert.equal(packet.qos, 1);
    assert.equal(packet.retain, true, 'retain-as-published keeps the flag');
    assert.equal(packet.properties?.contentType, 'application/octet-stream');
    assert.equal(packet.properties?.responseTopic, 'sdk/replies');
    assert.deepEqual({ ...packet.properties?.userProperties }, { deviceName: 'alpha', deviceCnt: '45' });
    assert.equal(Buffer.from(packet.properties?.correlationData ?? []).toString(), 'corr-1');
    await sub.endAsync();
  });

  test('GetRetainedMessageCommand and ListRetainedMessagesCommand return what MQTT clients retained', async () => {
    const pub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-retainer', protocolVersion: 5, reconnectPeriod: 0 });
    await pub.publishAsync('sdk/retained/x', 'kept value', { qos: 1, retain: true, properties: { userProperties: { origin: 'mqtt' } } });
    await pub.endAsync();
    const client = sdk(server, full);
    const one = await client.send(new GetRetainedMessageCommand({ topic: 'sdk/retained/x' }));
    assert.equal(one.topic, 'sdk/retained/x');
    assert.equal(Buffer.from(one.payload!).toString(), 'kept value');
    assert.equal(one.qos, 1);
    assert.ok(Math.abs(Number(one.lastModifiedTime) - Date.now()) < 60_000);
    assert.deepEqual(JSON.parse(Buffer.from(one.userProperties!).toString()), [{ origin: 'mqtt' }]);
    const list = await client.send(new ListRetainedMessagesCommand({ maxResults: 200 }));
    const topics = (list.retainedTopics ?? []).map((t) => t.topic);
    assert.ok(topics.includes('sdk/retained/x'));
    const entry = list.retainedTopics!.find((t) => t.topic === 'sdk/retained/x')!;
    assert.equal(entry.payloadSize, 'kept value'.length);
    await assert.rejects(client.send(new GetRetainedMessageCommand({ topic: 'sdk/none' })), { name: 'ResourceNotFoundException' });
  });

  test('DeleteConnectionCommand disconnects a client with API_INITIATED_DISCONNECT', async () => {
    const watcher = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-watcher', reconnectPeriod: 0 });
    const events: Record<string, unknown>[] = [];
    watcher.on('message', (_t, p) => events.push(JSON.parse(p.toString())));
    await watcher.subscribeAsync('$aws/events/presence/disconnected/+', { qos: 1 });
    const victim = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-victim', protocolVersion: 5, reconnectPeriod: 0 });
    const closed = new Promise<number | undefined>((resolve) => victim.once('disconnect', (p) => resolve(p.reasonCode)));
    await sdk(server, full).send(new DeleteConnectionCommand({ clientId: 'sdk-victim', preventWillMessage: true }));
    assert.equal(await closed, 0x98);
    await waitUntil(() => events.some((e) => e.clientId === 'sdk-victim'), 3_000, 'the disconnected event');
    assert.equal(events.find((e) => e.clientId === 'sdk-victim')?.disconnectReason, 'API_INITIATED_DISCONNECT');
    victim.end(true);
    await watcher.endAsync();
    await assert.rejects(sdk(server, full).send(new DeleteConnectionCommand({ clientId: 'nobody-here' })), { name: 'ResourceNotFoundException' });
  });

  test('GetConnectionCommand returns socket information (source and target) only with includeSocketInformation', async () => {
    const reader = sdk(server, await createKey(server, ['iot:GetConnection']));
    const tcp = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-socket-tcp', reconnectPeriod: 0 });
    const ws = await mqtt.connectAsync(server.wsUrl, { clientId: 'sdk-socket-ws', reconnectPeriod: 0 });
    try {
      for (const [client, clientId, targetPort] of [
        [tcp, 'sdk-socket-tcp', server.mqttPort],
        [ws, 'sdk-socket-ws', server.httpPort],
      ] as const) {
        const sourcePort = (client.stream as unknown as { localPort?: number; _socket?: { localPort?: number } }).localPort ?? (client.stream as unknown as { _socket?: { localPort?: number } })._socket?.localPort;
        const plain = await reader.send(new GetConnectionCommand({ clientId }));
        assert.equal(plain.connected, true, clientId);
        assert.equal(plain.clientId, clientId);
        // AWS: socket information is omitted unless asked for (the parameter defaults to false).
        for (const field of ['sourceIp', 'sourcePort', 'targetIp', 'targetPort'] as const) assert.equal(plain[field], undefined, `${clientId} ${field}`);
        const off = await reader.send(new GetConnectionCommand({ clientId, includeSocketInformation: false }));
        assert.equal(off.sourceIp, undefined);
        const on = await reader.send(new GetConnectionCommand({ clientId, includeSocketInformation: true }));
        assert.equal(on.connected, true);
        assert.equal(on.sourceIp, '127.0.0.1', clientId);
        if (sourcePort !== undefined) assert.equal(on.sourcePort, sourcePort, clientId);
        else assert.ok(Number(on.sourcePort) > 0);
        assert.equal(on.targetIp, '127.0.0.1', clientId);
        assert.equal(on.targetPort, targetPort, `${clientId}: the listener's port`);
      }
      const bad = await fetch(`${server.httpUrl}/connections/sdk-socket-tcp?includeSocketInformation=yes`);
      assert.equal(bad.status, 400);
    } finally {
      await tcp.endAsync();
      await ws.endAsync();
    }
  });

  test('a wrong secret, an unknown key and a key without iot:Publish are refused as AWS refuses them', async () => {
    const publish = new PublishCommand({ topic: 'sdk/denied', payload: Buffer.from('x') });
    await assert.rejects(sdk(server, { accessKeyId: full.accessKeyId, secretAccessKey: 'x'.repeat(40) }).send(publish), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'ForbiddenException');
      assert.equal(e.$metadata?.httpStatusCode, 403);
      return true;
    });
    await assert.rejects(sdk(server, { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: full.secretAccessKey }).send(publish), { name: 'ForbiddenException' });
    const readOnly = await createKey(server, ['iot:GetRetainedMessage']);
    const sub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'sdk-denied-sub', reconnectPeriod: 0 });
    const got: string[] = [];
    sub.on('message', (_topic, payload) => got.push(payload.toString()));
    await sub.subscribeAsync('sdk/denied', { qos: 1 });
    await assert.rejects(sdk(server, readOnly).send(publish), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'ForbiddenException');
      assert.equal(e.$metadata?.httpStatusCode, 403);
      return true;
    });
    // A sentinel on the same subscription, published after the refusals were answered, comes
    // after anything they would have published.
    await sub.publishAsync('sdk/denied', 'sentinel', { qos: 1 });
    await waitUntil(() => got.includes('sentinel'), 3_000, 'the sentinel');
    assert.deepEqual(got, ['sentinel'], 'nothing is published');
    await sub.endAsync();
  });

  test('an unsigned request with no authorizer and no anonymous access is refused with 401', async () => {
    const s2 = await startServer({ auth: { anonymous: 'nobody' } });
    const r = await fetch(`${s2.httpUrl}/topics/x`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-amzn-errortype'), 'UnauthorizedException');
    assert.match(((await r.json()) as { message: string }).message, /SigV4|authorizer/);
  });

  test('keys CLI-visible state: listing shows the keys without secrets', async () => {
    const r = await fetch(`${server.httpUrl}/api/keys`);
    const body = (await r.json()) as { keys: Record<string, unknown>[] };
    assert.ok(body.keys.some((k) => k.accessKeyId === full.accessKeyId));
    assert.ok(body.keys.every((k) => !('secretAccessKey' in k) && !('secretSealed' in k)));
  });
});

describe('HTTP callers through a custom authorizer and the admin token', () => {
  test('x-amz-customauthorizer-name with a token header authorizes a publish with the returned policy', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sb-http-auth-'));
    const handler = join(dir, 'http-auth.js');
    writeFileSync(
      handler,
      `exports.handler = async (event) => ({
        isAuthenticated: event.token === 'good' && event.protocols.includes('http') && !event.protocols.includes('mqtt'),
        principalId: 'httpCaller', disconnectAfterInSeconds: 300, refreshAfterInSeconds: 300,
        policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '${ARN}:topic/http/*' }] }] });`,
    );
    const server = await startServer({
      auth: { anonymous: 'nobody', authorizers: [{ name: 'HttpAuth', type: 'function', handler, signingDisabled: true, tokenKeyName: 'x-token' }] },
      args: ['--set', 'admin.token=0123456789abcdef0123'],
    });
    const post = (topic: string, headers: Record<string, string>) => fetch(`${server.httpUrl}/topics/${encodeURIComponent(topic)}`, { method: 'POST', headers, body: 'hi' });
    const auth = { 'x-amz-customauthorizer-name': 'HttpAuth', 'x-token': 'good' };
    assert.equal((await post('http/ok', auth)).status, 200);
    const denied = await post('elsewhere', auth);
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('x-amzn-errortype'), 'ForbiddenException');
    assert.equal((await post('http/ok', { ...auth, 'x-token': 'bad' })).status, 401);
    assert.equal((await post('anything', { authorization: 'Bearer 0123456789abcdef0123' })).status, 200, 'the admin token may publish');
    assert.equal((await post('anything', { authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
  });
});
