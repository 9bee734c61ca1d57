// Temporary access keys (`switchboard keys create --expires-in SECONDS`, POST /api/keys with
// expiresInSeconds): STS-shaped credentials whose signatures must carry the session token —
// X-Amz-Security-Token in a presigned WebSocket URL (signed or appended after signing), the
// x-amz-security-token header on a signed data-plane request (the AWS SDK's IoT data-plane client).
// A missing or wrong token, a token sent with a permanent key, and an expired key are refused with
// the reason in the log and a connect_failed event; a live connection ends when its credential
// expires; expired keys are deleted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { removeTempFiles, runCli, tempFile, connectForCode } from '../helpers/auth.js';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { presignMqttUrl, type Credentials } from '../helpers/sigv4.js';

const POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/tmp-*' },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: 'arn:aws:iot:us-east-1:123456789012:topic/tmp/*' },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:us-east-1:123456789012:topicfilter/tmp/*' },
  ],
};

interface Issued extends Credentials {
  sessionToken: string;
  expiration: string;
}

describe('temporary access keys', { timeout: 90_000 }, () => {
  let server: TestServer;
  const clients: MqttClient[] = [];

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${server.httpUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, json: res.status === 204 ? null : await res.json() };
  }

  async function temporaryKey(expiresInSeconds: number): Promise<Issued> {
    const res = await api('POST', '/api/keys', { policyDocuments: [POLICY], expiresInSeconds });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json as Issued;
  }

  /** Resolves with the CONNACK's code (0 = admitted); the client is closed after the suite. */
  const connect = (url: string, clientId: string) => connectForCode(url, clientId).then((r) => (clients.push(r.client), r));

  const refusalLogged = (clientId: string, detail: RegExp) =>
    server.waitForLog((l) => l.msg === 'connection refused: not authorized' && l.clientId === clientId && detail.test(String(l.detail)), 5000);

  before(async () => {
    server = await startServer({ auth: { anonymous: 'nobody' } });
  });

  after(async () => {
    for (const c of clients) c.end(true);
    removeTempFiles();
    await stopAllServers();
  });

  it('keys create --expires-in prints STS-shaped credentials; keys list shows the expiration', async () => {
    const policy = tempFile('policy.json', JSON.stringify(POLICY));
    const r = await runCli(['keys', 'create', '--policy', policy, '--expires-in', '900', '--endpoint', server.httpUrl]);
    assert.equal(r.code, 0, r.stderr);
    const { Credentials: c } = JSON.parse(r.stdout) as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string } };
    assert.match(c.AccessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.equal(c.SecretAccessKey.length, 40);
    assert.ok(c.SessionToken.length >= 100);
    const expiresIn = Date.parse(c.Expiration) - Date.now();
    assert.ok(expiresIn > 880_000 && expiresIn <= 900_000, `Expiration ${c.Expiration}`);
    const listed = (await api('GET', '/api/keys')).json.keys.find((k: { accessKeyId: string }) => k.accessKeyId === c.AccessKeyId);
    assert.equal(listed.expiration, c.Expiration);
    assert.ok(!JSON.stringify(listed).includes(c.SessionToken), 'the session token is never shown again');
    // The key works: the token appended after signing, as the AWS IoT device SDKs send it.
    const url = await presignMqttUrl(server.httpPort, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken });
    assert.equal((await connect(url, 'tmp-cli')).code, 0);
    const bad = await runCli(['keys', 'create', '--policy', policy, '--expires-in', '200000', '--endpoint', server.httpUrl]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expiresInSeconds must be .* 129600/);
  });

  it('a temporary key is never an admin key: refused at creation and on update', async () => {
    const created = await api('POST', '/api/keys', { policyDocuments: [POLICY], expiresInSeconds: 600, admin: true });
    assert.equal(created.status, 400);
    assert.match(JSON.stringify(created.json), /cannot be an admin key/);
    const issued = await temporaryKey(600);
    const patched = await api('PATCH', `/api/keys/${issued.accessKeyId}`, { admin: true });
    assert.equal(patched.status, 400);
    const listed = (await api('GET', '/api/keys')).json.keys.find((k: { accessKeyId: string }) => k.accessKeyId === issued.accessKeyId);
    assert.equal(listed.admin, false);
    const cli = await runCli(['keys', 'create', '--admin', '--expires-in', '600', '--endpoint', server.httpUrl]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /cannot be combined/);
  });

  it('a WebSocket URL signed with a temporary key is admitted with the token signed or appended, and the key policy decides', async () => {
    const key = await temporaryKey(600);
    const { code, client } = await connect(await presignMqttUrl(server.httpPort, key, { token: 'signed' }), 'tmp-signed');
    assert.equal(code, 0);
    assert.equal((await connect(await presignMqttUrl(server.httpPort, key, { token: 'appended' }), 'tmp-appended')).code, 0);
    await assert.rejects(client.subscribeAsync('other/x', { qos: 1 }), /Not authorized/);
    await client.subscribeAsync('tmp/x', { qos: 1 });
    const got = new Promise<string>((resolve) => client.on('message', (_t, payload) => resolve(payload.toString())));
    await client.publishAsync('tmp/x', 'hello', { qos: 1 });
    assert.equal(await Promise.race([got, new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no delivery')), 5000))]), 'hello');
  });

  it('refuses a missing or wrong token and a token with a permanent key: reason logged, connect_failed published', async () => {
    const watcherKey = await temporaryKey(600);
    const watcher = await connect(await presignMqttUrl(server.httpPort, watcherKey), 'tmp-watcher');
    assert.equal(watcher.code, 0);
    // The watcher's policy does not cover $aws/events; an allow-all permanent key watches instead.
    const all = (await api('POST', '/api/keys', { policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }] })).json as Credentials;
    const events = await connect(await presignMqttUrl(server.httpPort, all), 'events-watcher');
    assert.equal(events.code, 0);
    const failed: string[] = [];
    events.client.on('message', (topic) => failed.push(topic.split('/').pop()!));
    await events.client.subscribeAsync('$aws/events/presence/connect_failed/+', { qos: 1 });

    const key = await temporaryKey(600);
    const { sessionToken: _dropped, ...withoutToken } = key;
    const cases: [string, string, RegExp][] = [
      ['tmp-no-token', await presignMqttUrl(server.httpPort, withoutToken), /invalid-token/],
      ['tmp-wrong-token', await presignMqttUrl(server.httpPort, { ...key, sessionToken: watcherKey.sessionToken }), /invalid-token/],
      ['tmp-wrong-token-signed', await presignMqttUrl(server.httpPort, { ...key, sessionToken: 'x' + key.sessionToken }, { token: 'signed' }), /invalid-token/],
      ['tmp-permanent-with-token', await presignMqttUrl(server.httpPort, { ...all, sessionToken: key.sessionToken }), /invalid-token/],
      ['tmp-wrong-secret', await presignMqttUrl(server.httpPort, { ...key, secretAccessKey: 'x'.repeat(40) }), /signature-mismatch/],
    ];
    for (const [clientId, url, detail] of cases) {
      assert.equal((await connect(url, clientId)).code, 0x87, `${clientId} was not refused`);
      await refusalLogged(clientId, detail);
    }
    const deadline = Date.now() + 5000;
    while (failed.length < cases.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(failed.sort(), cases.map(([id]) => id).sort());
  });

  it('a live connection ends when its credential expires; the key is then refused and deleted', async () => {
    const key = await temporaryKey(3);
    const { code, client } = await connect(await presignMqttUrl(server.httpPort, key), 'tmp-expiring');
    assert.equal(code, 0);
    const disconnected = await new Promise<number | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not disconnected at expiry')), 8000);
      client.once('disconnect', (packet) => {
        clearTimeout(timer);
        resolve(packet.reasonCode);
      });
    });
    assert.equal(disconnected, 0xa0, 'DISCONNECT 0xA0 Maximum connect time');
    assert.ok(Date.now() >= Date.parse(key.expiration) - 50, 'not before the expiration');
    assert.equal((await connect(await presignMqttUrl(server.httpPort, key), 'tmp-expired')).code, 0x87);
    await refusalLogged('tmp-expired', /expired-token/);
    // Creating a temporary key sweeps the expired ones (the server also sweeps every minute).
    await temporaryKey(600);
    const ids = (await api('GET', '/api/keys')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId);
    assert.ok(!ids.includes(key.accessKeyId), 'the expired key was deleted');
  });

  it('signed data-plane requests carry the token in x-amz-security-token (AWS SDK IoT data-plane client)', async () => {
    const key = await temporaryKey(600);
    // Only the three credential fields: the SDK reads `expiration` as a Date.
    const sdk = (c: Credentials) =>
      new IoTDataPlaneClient({
        endpoint: server.httpUrl,
        region: 'us-east-1',
        credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken !== undefined ? { sessionToken: c.sessionToken } : {}) },
        maxAttempts: 1,
      });
    await sdk(key).send(new PublishCommand({ topic: 'tmp/http', payload: Buffer.from('x') }));
    const { sessionToken: _t, ...withoutToken } = key;
    await assert.rejects(sdk(withoutToken).send(new PublishCommand({ topic: 'tmp/http', payload: Buffer.from('x') })), (err: Error) => {
      assert.equal(err.name, 'ForbiddenException');
      assert.match(err.message, /security token included in the request is invalid/);
      return true;
    });
    await assert.rejects(sdk({ ...key, sessionToken: 'nope' }).send(new PublishCommand({ topic: 'tmp/http', payload: Buffer.from('x') })), { name: 'ForbiddenException' });
    // Still the key's policy that decides.
    await assert.rejects(sdk(key).send(new PublishCommand({ topic: 'other/http', payload: Buffer.from('x') })), { name: 'ForbiddenException' });
    const short = await temporaryKey(1);
    while (Date.now() <= Date.parse(short.expiration)) await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(sdk(short).send(new PublishCommand({ topic: 'tmp/http', payload: Buffer.from('x') })), { name: 'ExpiredTokenException' });
  });
});
