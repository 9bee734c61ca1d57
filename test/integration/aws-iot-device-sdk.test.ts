// AWS's own device SDKs, unmodified, over SigV4-signed WebSockets with keys from
// `switchboard keys create` (permanent and `--expires-in` temporary):
//   - aws-iot-device-sdk-v2 (aws-crt native): MQTT 3.1.1 through
//     AwsIotMqttConnectionConfigBuilder.new_with_websockets, MQTT 5 through
//     AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth, each with a static
//     credentials provider. The CRT always speaks TLS on a WebSocket, so the server gets a
//     self-signed certificate that the CRT is told to trust.
//   - aws-iot-device-sdk v1 with `protocol: 'wss'` and accessKeyId / secretKey / sessionToken.
// Each connects, subscribes and publishes, and is refused with a wrong secret, an expired
// temporary key and an inactive key, the reason in the server's log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auth, iot, mqtt as crtMqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import { runCli } from '../helpers/auth.js';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';

// aws-iot-device-sdk v1 is CommonJS without types.
const require = createRequire(import.meta.url);
const awsIotV1 = require('aws-iot-device-sdk') as { device(options: Record<string, unknown>): V1Device };
interface V1Device {
  on(event: 'connect' | 'close' | 'offline', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): void;
  subscribe(topic: string, options: { qos: 0 | 1 }, callback: (err: Error | null, granted: { qos: number }[]) => void): void;
  publish(topic: string, message: string, options: { qos: 0 | 1 }, callback: (err?: Error) => void): void;
  end(force: boolean, callback?: () => void): void;
}

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/dev-*' },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: 'arn:aws:iot:us-east-1:123456789012:topic/devices/*' },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:us-east-1:123456789012:topicfilter/devices/*' },
  ],
};

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('AWS IoT device SDKs over SigV4 WebSockets', { timeout: 120_000 }, () => {
  let dir: string;
  let ca: string;
  let server: TestServer;
  let endpoint: string;
  let permanent: Key;
  let temporary: Key;
  let expired: Key;
  let inactive: Key;

  async function cli(args: string[]): Promise<string> {
    const r = await runCli([...args, '--endpoint', endpoint], { env: { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') } });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  async function createKey(extra: string[] = []): Promise<Key & { expiration?: string }> {
    const out = JSON.parse(await cli(['keys', 'create', '--policy', join(dir, 'policy.json'), ...extra]));
    if (out.Credentials === undefined) return out as Key;
    const c = out.Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  }

  const refusalLogged = (clientId: string, detail: RegExp) =>
    server.waitForLog((l) => l.msg === 'connection refused: not authorized' && l.clientId === clientId && detail.test(String(l.detail)), 5000);

  /** The refusals every SDK must meet: [client ID suffix, credentials, reason in the log]. */
  const refusals = (): [string, Key, RegExp][] => [
    ['wrong-secret', { ...permanent, secretAccessKey: 'W'.repeat(40) }, /signature-mismatch/],
    ['expired', expired, /expired-token/],
    ['inactive', inactive, /unknown-key/],
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-devsdk-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
    const config = join(dir, 'switchboard.json');
    const tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    // Nobody is admitted anonymously: every connection here is judged by its signature.
    writeFileSync(config, JSON.stringify({ listeners: { http: { tls }, mqtt: false }, store: { type: 'memory' }, log: { level: 'info' }, auth: { anonymous: 'nobody' } }));
    server = await startServer({ configFile: config });
    endpoint = `https://localhost:${server.httpPort}`;
    // Each CLI run is a process of its own: create the keys at once.
    let short: Key & { expiration?: string };
    [permanent, temporary, short, inactive] = await Promise.all([createKey(), createKey(['--expires-in', '900']), createKey(['--expires-in', '1']), createKey()]);
    await cli(['keys', 'update', '--access-key-id', inactive.accessKeyId, '--status', 'Inactive']);
    while (Date.now() <= Date.parse(short.expiration!)) await new Promise((r) => setTimeout(r, 50));
    expired = short;
  });

  after(async () => {
    await stopAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('aws-iot-device-sdk-v2, MQTT 3.1.1 (new_with_websockets)', () => {
    function connection(key: Key, clientId: string) {
      const provider = auth.AwsCredentialsProvider.newStatic(key.accessKeyId, key.secretAccessKey, key.sessionToken);
      const config = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({ region: 'us-east-1', credentials_provider: provider })
        .with_endpoint('localhost')
        .with_port(server.httpPort)
        .with_client_id(clientId)
        .with_clean_session(true)
        .with_certificate_authority(ca)
        .build();
      return new crtMqtt.MqttClient().new_connection(config);
    }

    for (const [name, key] of [
      ['a key from keys create', () => permanent],
      ['a temporary key from keys create --expires-in', () => temporary],
    ] as const) {
      it(`connects, subscribes and publishes with ${name}`, async () => {
        const clientId = `dev-v2-311-${key().accessKeyId.slice(0, 4)}`;
        const conn = connection(key(), clientId);
        try {
          await within(conn.connect(), 10_000, 'connect');
          let resolveMessage!: (text: string) => void;
          const got = new Promise<string>((resolve) => (resolveMessage = resolve));
          await within(conn.subscribe('devices/v2-311', crtMqtt.QoS.AtLeastOnce, (_topic, payload) => resolveMessage(Buffer.from(payload).toString())), 5000, 'subscribe');
          await within(conn.publish('devices/v2-311', 'hello from v2', crtMqtt.QoS.AtLeastOnce), 5000, 'publish');
          assert.equal(await within(got, 5000, 'delivery'), 'hello from v2');
        } finally {
          await within(conn.disconnect(), 5000, 'disconnect');
        }
      });
    }

    it('is refused with a wrong secret', async () => {
      const conn = connection({ ...permanent, secretAccessKey: 'W'.repeat(40) }, 'dev-v2-311-wrong');
      await assert.rejects(within(conn.connect(), 10_000, 'connect'));
      await refusalLogged('dev-v2-311-wrong', /signature-mismatch/);
      await within(conn.disconnect().catch(() => undefined), 5000, 'disconnect');
    });
  });

  describe('aws-iot-device-sdk-v2, MQTT 5 (newWebsocketMqttBuilderWithSigv4Auth)', () => {
    /** Starts a client; resolves on connectionSuccess with the client, or with the CONNACK reason code on failure. */
    function start(key: Key, clientId: string): Promise<{ client: mqtt5.Mqtt5Client } | { refused: number | undefined }> {
      const provider = auth.AwsCredentialsProvider.newStatic(key.accessKeyId, key.secretAccessKey, key.sessionToken);
      const config = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth('localhost', { credentialsProvider: provider, region: 'us-east-1' })
        .withPort(server.httpPort)
        .withCertificateAuthority(ca)
        .withConnectProperties({ keepAliveIntervalSeconds: 60, clientId })
        .build();
      const client = new mqtt5.Mqtt5Client(config);
      return within(
        new Promise((resolve) => {
          client.once('connectionSuccess', () => resolve({ client }));
          client.once('connectionFailure', (event) => {
            // Stop before the client retries; close() frees the native client once stopped.
            client.once('stopped', () => client.close());
            client.stop();
            resolve({ refused: event.connack?.reasonCode });
          });
          client.start();
        }),
        10_000,
        `MQTT 5 connect as ${clientId}`,
      );
    }

    function stop(client: mqtt5.Mqtt5Client): Promise<void> {
      return within(
        new Promise<void>((resolve) => {
          client.once('stopped', () => {
            client.close();
            resolve();
          });
          client.stop();
        }),
        5000,
        'stop',
      );
    }

    it('connects, subscribes and publishes with a temporary key; the key policy decides', async () => {
      const started = await start(temporary, 'dev-v2-5');
      assert.ok('client' in started, `refused with ${'refused' in started ? started.refused : ''}`);
      const { client } = started;
      try {
        const got = new Promise<string>((resolve) => client.on('messageReceived', (e) => resolve(Buffer.from(e.message.payload as ArrayBuffer).toString())));
        const suback = await within(client.subscribe({ subscriptions: [{ topicFilter: 'devices/v2-5', qos: mqtt5.QoS.AtLeastOnce }] }), 5000, 'subscribe');
        assert.equal(suback.reasonCodes[0], mqtt5.SubackReasonCode.GrantedQoS1);
        const denied = await within(client.subscribe({ subscriptions: [{ topicFilter: 'elsewhere/x', qos: mqtt5.QoS.AtLeastOnce }] }), 5000, 'subscribe');
        assert.equal(denied.reasonCodes[0], mqtt5.SubackReasonCode.NotAuthorized);
        await within(client.publish({ topicName: 'devices/v2-5', qos: mqtt5.QoS.AtLeastOnce, payload: 'hello over 5' }), 5000, 'publish');
        assert.equal(await within(got, 5000, 'delivery'), 'hello over 5');
      } finally {
        await stop(client);
      }
    });

    it('connects with a key from keys create', async () => {
      const started = await start(permanent, 'dev-v2-5-permanent');
      assert.ok('client' in started);
      await stop(started.client);
    });

    it('is refused (CONNACK 0x87) with a wrong secret, an expired temporary key and an inactive key', async () => {
      for (const [suffix, key, reason] of refusals()) {
        const clientId = `dev-v2-5-${suffix}`;
        assert.deepEqual(await start(key, clientId), { refused: 0x87 }, clientId);
        await refusalLogged(clientId, reason);
      }
    });
  });

  describe("aws-iot-device-sdk v1, protocol: 'wss'", () => {
    function device(key: Key, clientId: string): V1Device {
      return awsIotV1.device({
        protocol: 'wss',
        host: 'localhost',
        port: server.httpPort,
        region: 'us-east-1',
        clientId,
        accessKeyId: key.accessKeyId,
        secretKey: key.secretAccessKey,
        ...(key.sessionToken !== undefined ? { sessionToken: key.sessionToken } : {}),
        // Passed to the WebSocket (ws) as TLS options: trust the test certificate.
        websocketOptions: { ca },
        // No reconnect within a test (the SDK checks base <= minimumConnectionTime <= maximum).
        baseReconnectTimeMs: 30_000,
        minimumConnectionTimeMs: 30_000,
        maximumReconnectTimeMs: 60_000,
        keepalive: 60,
      });
    }

    /** Resolves 'connect', or the error a refused CONNECT raises; the device is ended on refusal. */
    function outcome(d: V1Device): Promise<'connect' | Error> {
      return within(
        new Promise((resolve) => {
          d.on('connect', () => resolve('connect'));
          d.on('error', (err) => {
            d.end(true);
            resolve(err);
          });
        }),
        10_000,
        'v1 connect',
      );
    }

    for (const [name, key] of [
      ['a key from keys create', () => permanent],
      ['a temporary key (sessionToken)', () => temporary],
    ] as const) {
      it(`connects, subscribes and publishes with ${name}`, async () => {
        const d = device(key(), `dev-v1-${key().accessKeyId.slice(0, 4)}`);
        try {
          assert.equal(await outcome(d), 'connect');
          const granted = await within(new Promise<{ qos: number }[]>((resolve, reject) => d.subscribe('devices/v1', { qos: 1 }, (err, g) => (err ? reject(err) : resolve(g)))), 5000, 'subscribe');
          assert.equal(granted[0]!.qos, 1);
          const got = new Promise<string>((resolve) => d.on('message', (_topic, payload) => resolve(payload.toString())));
          await within(new Promise<void>((resolve, reject) => d.publish('devices/v1', 'hello from v1', { qos: 1 }, (err) => (err ? reject(err) : resolve()))), 5000, 'publish');
          assert.equal(await within(got, 5000, 'delivery'), 'hello from v1');
        } finally {
          await within(new Promise<void>((resolve) => d.end(false, resolve)), 5000, 'end');
        }
      });
    }

    it('is refused (not authorized) with a wrong secret, an expired temporary key and an inactive key', async () => {
      for (const [suffix, key, reason] of refusals()) {
        const clientId = `dev-v1-${suffix}`;
        const result = await outcome(device(key, clientId));
        assert.ok(result instanceof Error, `${clientId} connected`);
        assert.match(result.message, /Not authorized/i);
        await refusalLogged(clientId, reason);
      }
    });
  });
});
