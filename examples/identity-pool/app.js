// The page's script: unchanged AWS browser code, with the endpoint pointed at Switchboard.
//  1. fromCognitoIdentityPool (@aws-sdk/credential-providers) calls GetId and
//     GetCredentialsForIdentity and caches the identity id in localStorage, as on AWS.
//  2. @smithy/signature-v4 presigns wss://host/mqtt for the service `iotdevicegateway`; the
//     session token is appended after signing, as AWS IoT's documentation asks (Switchboard also
//     accepts it signed).
//  3. MQTT.js connects to the signed URL. The identity pool's unauthenticated policy decides what
//     the connection may do.
// Bundle it for the browser (see index.html):
//   npx esbuild examples/identity-pool/app.js --bundle --format=esm --platform=browser --outfile=examples/identity-pool/app.bundle.js
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import mqtt from 'mqtt';

const params = new URLSearchParams(location.search);
/** Switchboard's HTTP listener: the Cognito endpoint and the MQTT WebSocket. */
const endpoint = new URL(params.get('endpoint') ?? 'http://localhost:8080');
const identityPoolId = params.get('pool') ?? 'us-east-1:7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a10';
const region = identityPoolId.split(':')[0];

const credentials = fromCognitoIdentityPool({
  identityPoolId,
  clientConfig: { region, endpoint: endpoint.origin },
});

/** A presigned MQTT-over-WebSocket URL for the current credentials. */
async function signedUrl() {
  const { accessKeyId, secretAccessKey, sessionToken } = await credentials();
  const signer = new SignatureV4({ service: 'iotdevicegateway', region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const secure = endpoint.protocol === 'https:';
  const signed = await signer.presign(
    { method: 'GET', protocol: secure ? 'wss:' : 'ws:', hostname: endpoint.hostname, port: endpoint.port ? Number(endpoint.port) : undefined, path: '/mqtt', query: {}, headers: { host: endpoint.host } },
    { expiresIn: 300 },
  );
  const query = Object.entries(signed.query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (sessionToken) query.push(`X-Amz-Security-Token=${encodeURIComponent(sessionToken)}`);
  return `${secure ? 'wss' : 'ws'}://${endpoint.host}/mqtt?${query.join('&')}`;
}

const lines = [];
function log(line) {
  lines.push(line);
  const out = document.getElementById('log');
  if (out) out.textContent += line + '\n';
}

let client = null;

/** What the page can do; test/e2e/identity-pool.test.ts calls these (window.demo). */
window.demo = {
  lines,
  async connect(clientId) {
    let url;
    try {
      url = await signedUrl();
    } catch (err) {
      log(`credentials: ${err.name}: ${err.message}`);
      return { ok: false, error: err.name };
    }
    return new Promise((resolve) => {
      client = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
      client.once('connect', () => {
        log(`connected as ${clientId}`);
        resolve({ ok: true, code: 0 });
      });
      client.once('error', (err) => {
        log(`refused: ${err.message}`);
        resolve({ ok: false, code: typeof err.code === 'number' ? err.code : null });
      });
      client.on('message', (topic, payload) => log(`message ${topic}: ${payload.toString()}`));
    });
  },
  /** Resolves with the SUBACK's reason codes (1 granted QoS 1; 0x87 not authorized). */
  async subscribe(filter) {
    const codes = await new Promise((resolve) => {
      const onPacket = (packet) => {
        if (packet.cmd !== 'suback') return;
        client.off('packetreceive', onPacket);
        resolve(packet.granted);
      };
      client.on('packetreceive', onPacket);
      // The callback's error repeats what the SUBACK says; the codes are read from the packet.
      client.subscribe(filter, { qos: 1 }, () => {});
    });
    log(`subscribe ${filter}: ${codes.join(',')}`);
    return codes;
  },
  async publish(topic, text) {
    await client.publishAsync(topic, text, { qos: 1 });
    log(`published ${topic}`);
  },
  async end() {
    await client?.endAsync();
    client = null;
  },
};

document.getElementById('connect')?.addEventListener('click', () => window.demo.connect(document.getElementById('clientId').value));
document.getElementById('subscribe')?.addEventListener('click', () => window.demo.subscribe(document.getElementById('filter').value));
document.getElementById('publish')?.addEventListener('click', () =>
  window.demo.publish(document.getElementById('topic').value, document.getElementById('payload').value),
);
