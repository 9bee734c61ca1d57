// SigV4-presigned MQTT-over-WebSocket URLs (what AWS's browser and mobile SDKs send by default):
// a URL signed with an access key from POST /api/keys is admitted, and that key's policy
// documents decide iot:Connect, publish, subscribe and delivery. A presigned URL that does not
// verify is refused with CONNACK "not authorized" — even from loopback, where a client with no
// credentials at all is admitted anonymously by default — and the refusal reaches the
// connect_failed lifecycle event. URLs are presigned with @smithy/signature-v4 (the AWS SDK's signer).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectForCode } from '../helpers/auth.js';
import type { MqttClient } from 'mqtt';
import { buildQueryString, HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { RunningServer } from '../../src/server.js';
import { startInProcessServer } from '../helpers/in-process.js';

const TOKEN = 'admin-token-sigv4-websocket-0123';
const Sha256 = Hash.bind(null, 'sha256');

const POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/sig-*' },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: 'arn:aws:iot:us-east-1:123456789012:topic/allowed/*' },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:us-east-1:123456789012:topicfilter/allowed/*' },
  ],
};

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

interface PresignOptions {
  service?: string;
  secret?: string;
  accessKeyId?: string;
  expiresIn?: number;
  signingDate?: Date;
}

describe('SigV4-presigned WebSocket URLs', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let port: number;
  let key: Key;
  const clients: MqttClient[] = [];

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, json: res.status === 204 ? null : await res.json() };
  }

  async function createKey(): Promise<Key> {
    const res = await api('POST', '/api/keys', { policyDocuments: [POLICY] });
    assert.equal(res.status, 201);
    return res.json as Key;
  }

  async function presign(k: Key, opts: PresignOptions = {}): Promise<string> {
    const signer = new SignatureV4({
      service: opts.service ?? 'iotdevicegateway',
      region: 'us-east-1',
      credentials: { accessKeyId: opts.accessKeyId ?? k.accessKeyId, secretAccessKey: opts.secret ?? k.secretAccessKey },
      sha256: Sha256,
    });
    const host = `127.0.0.1:${port}`;
    const request = new HttpRequest({ method: 'GET', protocol: 'ws:', hostname: '127.0.0.1', port, path: '/mqtt', headers: { host } });
    const signed = await signer.presign(request, {
      expiresIn: opts.expiresIn ?? 300,
      ...(opts.signingDate ? { signingDate: opts.signingDate } : {}),
    });
    return `ws://${host}/mqtt?${buildQueryString(signed.query as Record<string, string>)}`;
  }

  /** Connects and resolves with the CONNACK's reason code (0 = admitted); bounded. */
  /** Resolves with the CONNACK's code (0 = admitted); the client is closed after the suite. */
  const connect = (url: string, clientId: string, protocolVersion: 4 | 5 = 5) =>
    connectForCode(url, clientId, protocolVersion).then((r) => (clients.push(r.client), r));

  before(async () => {
    server = await startInProcessServer({ admin: { username: 'admin', password: 'correct horse battery', token: TOKEN } });
    port = server.httpPort!;
    key = await createKey();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await server?.stop();
  });

  it('a client with no credentials from loopback is admitted anonymously (the default the refusals below must not fall back to)', async () => {
    const { code } = await connect(`ws://127.0.0.1:${port}/mqtt`, 'plain-anonymous');
    assert.equal(code, 0);
  });

  it('a presigned URL is admitted and the key policy decides publish, subscribe and delivery', async () => {
    const { code, client } = await connect(await presign(key), 'sig-one');
    assert.equal(code, 0);
    // SUBACK 0x87 outside the policy; MQTT.js rejects the subscribe with it.
    await assert.rejects(client.subscribeAsync('denied/x', { qos: 1 }), /Not authorized/);
    const granted = await client.subscribeAsync('allowed/x', { qos: 1 });
    assert.equal(granted[0]!.qos, 1);
    const got = new Promise<string>((resolve) => client.on('message', (topic, payload) => resolve(`${topic}:${payload.toString()}`)));
    await client.publishAsync('allowed/x', 'hello', { qos: 1 });
    const message = await Promise.race([got, new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no delivery')), 5000))]);
    assert.equal(message, 'allowed/x:hello');
  });

  it('iot:Connect is checked on the client ID', async () => {
    const { code } = await connect(await presign(key), 'other-client');
    assert.equal(code, 0x87);
  });

  it('X-Amz-Security-Token appended after signing (the AWS IoT device SDKs) is admitted with a temporary key, refused with a permanent one', async () => {
    const res = await api('POST', '/api/keys', { policyDocuments: [POLICY], expiresInSeconds: 600 });
    assert.equal(res.status, 201);
    const temporary = res.json as Key & { sessionToken: string };
    const url = `${await presign(temporary)}&X-Amz-Security-Token=${encodeURIComponent(temporary.sessionToken)}`;
    assert.equal((await connect(url, 'sig-token')).code, 0);
    // AWS refuses a session token sent with long-term credentials.
    const permanent = `${await presign(key)}&X-Amz-Security-Token=${encodeURIComponent('session/token+value=')}`;
    assert.equal((await connect(permanent, 'sig-token-permanent')).code, 0x87);
  });

  it('refuses a wrong secret, an expired URL, the wrong service and an unknown key; connect_failed is published', async () => {
    const watcher = await connect(`ws://127.0.0.1:${port}/mqtt`, 'watcher');
    assert.equal(watcher.code, 0);
    const failed: string[] = [];
    watcher.client.on('message', (topic) => failed.push(topic.split('/').pop()!));
    await watcher.client.subscribeAsync('$aws/events/presence/connect_failed/+', { qos: 1 });

    const cases: [string, string][] = [
      ['sig-wrong-secret', await presign(key, { secret: 'not-the-secret-0123456789abcdefghijklmn' })],
      ['sig-expired', await presign(key, { signingDate: new Date(Date.now() - 600_000), expiresIn: 60 })],
      ['sig-wrong-service', await presign(key, { service: 'iotdata' })],
      ['sig-unknown-key', await presign(key, { accessKeyId: 'AKIAUNKNOWNKEY000000' })],
      // Mis-cased parameter names are not a way around the signature either.
      ['sig-miscased', (await presign(key)).replace('X-Amz-Signature=', 'x-amz-signature=')],
    ];
    for (const [clientId, url] of cases) {
      const { code } = await connect(url, clientId);
      assert.equal(code, 0x87, `${clientId} was not refused`);
    }
    const deadline = Date.now() + 5000;
    while (failed.length < cases.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(failed.sort(), cases.map(([id]) => id).sort());
  });

  it('MQTT 3.1.1 over a presigned URL: admitted, and a wrong secret gets return code 5', async () => {
    assert.equal((await connect(await presign(key), 'sig-v311', 4)).code, 0);
    assert.equal((await connect(await presign(key, { secret: 'not-the-secret-0123456789abcdefghijklmn' }), 'sig-v311-bad', 4)).code, 5);
  });

  it('refuses a key once it is made Inactive, and admits it again when Active', async () => {
    const k = await createKey();
    assert.equal((await connect(await presign(k), 'sig-active')).code, 0);
    assert.equal((await api('PATCH', `/api/keys/${k.accessKeyId}`, { status: 'Inactive' })).status, 200);
    assert.equal((await connect(await presign(k), 'sig-inactive')).code, 0x87);
    assert.equal((await api('PATCH', `/api/keys/${k.accessKeyId}`, { status: 'Active' })).status, 200);
    assert.equal((await connect(await presign(k), 'sig-active-again')).code, 0);
  });
});
