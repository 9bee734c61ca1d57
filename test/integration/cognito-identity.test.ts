// Cognito identity pools with an unauthenticated role (auth.identityPools), driven by the AWS
// SDK's own clients: @aws-sdk/client-cognito-identity (GetId, GetCredentialsForIdentity) and
// @aws-sdk/credential-providers' fromCognitoIdentityPool with the endpoint pointed at Switchboard.
// The credentials sign WebSocket URLs and data-plane requests; the pool's unauthenticated policy
// decides. Unknown pools and identities, authenticated logins, forged and expired credentials
// and other operations get Cognito's errors; calls are rate-limited per address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectForCode } from '../helpers/auth.js';
import type { MqttClient } from 'mqtt';
import { CognitoIdentityClient, GetCredentialsForIdentityCommand, GetIdCommand } from '@aws-sdk/client-cognito-identity';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { presignMqttUrl, type Credentials } from '../helpers/sigv4.js';
import { COGNITO_REQUESTS_PER_WINDOW } from '../../src/api/cognito-identity.js';

const POOL = 'us-east-1:0f1e2d3c-0000-4000-8000-000000000001';
const SHORT_POOL = 'us-east-1:0f1e2d3c-0000-4000-8000-000000000002';
const ARN = 'arn:aws:iot:us-east-1:123456789012:';

/** The pool's unauthenticated role: read-only on public/, connect as web-*. */
const POOL_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}client/web-*` },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}topicfilter/public/*` },
    { Effect: 'Allow', Action: ['iot:Receive', 'iot:Publish'], Resource: `${ARN}topic/public/*` },
  ],
};
/** auth.unauthenticatedPolicy, which SHORT_POOL inherits. */
const DEFAULT_POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}client/short-*` }] };

describe('Cognito identity pools (unauthenticated role)', { timeout: 90_000 }, () => {
  let server: TestServer;
  let cognito: CognitoIdentityClient;
  const clients: MqttClient[] = [];

  /** Resolves with the CONNACK's code (0 = admitted); the client is closed after the suite. */
  const connect = (url: string, clientId: string) => connectForCode(url, clientId).then((r) => (clients.push(r.client), r));

  async function credentialsFor(poolId: string): Promise<Credentials & { expiration: Date }> {
    const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: poolId }));
    const { Credentials: c } = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
    return { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretKey!, sessionToken: c!.SessionToken!, expiration: c!.Expiration! };
  }

  const refusalLogged = (clientId: string, detail: RegExp) =>
    server.waitForLog((l) => l.msg === 'connection refused: not authorized' && l.clientId === clientId && detail.test(String(l.detail)), 5000);

  before(async () => {
    server = await startServer({
      auth: {
        anonymous: 'nobody',
        unauthenticatedPolicy: DEFAULT_POLICY,
        identityPools: [
          { id: POOL, unauthenticatedPolicy: POOL_POLICY },
          { id: SHORT_POOL, credentialsTtlSeconds: 2 },
        ],
      },
    });
    cognito = new CognitoIdentityClient({ endpoint: server.httpUrl, region: 'us-east-1', maxAttempts: 1 });
  });

  after(async () => {
    for (const c of clients) c.end(true);
    cognito?.destroy();
    await stopAllServers();
  });

  it('GetId and GetCredentialsForIdentity answer in AWS shape', async () => {
    const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: POOL, AccountId: '123456789012' }));
    assert.match(IdentityId!, /^us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const out = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
    assert.equal(out.IdentityId, IdentityId);
    assert.match(out.Credentials!.AccessKeyId!, /^ASIA[A-Z0-9]{16}$/);
    assert.equal(out.Credentials!.SecretKey!.length, 40);
    assert.ok(out.Credentials!.SessionToken!.length > 50);
    // Expiration is a JSON 1.1 timestamp (epoch seconds) the SDK turns into a Date: one hour by default.
    const left = out.Credentials!.Expiration!.getTime() - Date.now();
    assert.ok(left > 3590_000 && left <= 3600_000, `expires in ${left} ms`);
    // A second call for the same identity: new credentials, same identity.
    const again = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
    assert.notEqual(again.Credentials!.AccessKeyId, out.Credentials!.AccessKeyId);
  });

  it('fromCognitoIdentityPool credentials sign a WebSocket URL; the unauthenticated policy decides', async () => {
    const provider = fromCognitoIdentityPool({ identityPoolId: POOL, clientConfig: { region: 'us-east-1', endpoint: server.httpUrl, maxAttempts: 1 } });
    const creds = await provider();
    const url = await presignMqttUrl(server.httpPort, { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken! });
    const { code, client } = await connect(url, 'web-1');
    assert.equal(code, 0);
    await assert.rejects(client.subscribeAsync('private/x', { qos: 1 }), /Not authorized/);
    await client.subscribeAsync('public/x', { qos: 1 });
    const got = new Promise<string>((resolve) => client.on('message', (_t, payload) => resolve(payload.toString())));
    await client.publishAsync('public/x', 'hi', { qos: 1 });
    assert.equal(await Promise.race([got, new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no delivery')), 5000))]), 'hi');
    // iot:Connect only for web-*.
    assert.equal((await connect(await presignMqttUrl(server.httpPort, { ...creds, sessionToken: creds.sessionToken! }), 'device-1')).code, 0x87);
    // The same credentials sign data-plane requests (x-amz-security-token header).
    const data = new IoTDataPlaneClient({ endpoint: server.httpUrl, region: 'us-east-1', credentials: provider, maxAttempts: 1 });
    await data.send(new PublishCommand({ topic: 'public/y', payload: Buffer.from('1') }));
    await assert.rejects(data.send(new PublishCommand({ topic: 'private/y', payload: Buffer.from('1') })), { name: 'ForbiddenException' });
    data.destroy();
  });

  it('a pool without its own policy takes auth.unauthenticatedPolicy', async () => {
    const creds = await credentialsFor(SHORT_POOL);
    assert.equal((await connect(await presignMqttUrl(server.httpPort, creds), 'short-1')).code, 0);
    assert.equal((await connect(await presignMqttUrl(server.httpPort, creds), 'web-2')).code, 0x87);
  });

  it('unknown pool and identity: ResourceNotFoundException; logins: NotAuthorizedException; bad ids: InvalidParameterException', async () => {
    await assert.rejects(cognito.send(new GetIdCommand({ IdentityPoolId: 'us-east-1:0f1e2d3c-0000-4000-8000-0000000000ff' })), (err: Error) => {
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.message, "IdentityPool 'us-east-1:0f1e2d3c-0000-4000-8000-0000000000ff' not found.");
      return true;
    });
    // A well-formed identity id that no pool issued (the MAC half does not match).
    const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: POOL }));
    const forged = IdentityId!.slice(0, -4) + (IdentityId!.endsWith('0000') ? '1111' : '0000');
    await assert.rejects(cognito.send(new GetCredentialsForIdentityCommand({ IdentityId: forged })), { name: 'ResourceNotFoundException' });
    await assert.rejects(cognito.send(new GetIdCommand({ IdentityPoolId: POOL, Logins: { 'accounts.google.com': 'token' } })), { name: 'NotAuthorizedException' });
    await assert.rejects(cognito.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins: { 'graph.facebook.com': 'token' } })), { name: 'NotAuthorizedException' });
    await assert.rejects(cognito.send(new GetIdCommand({ IdentityPoolId: 'no colon' })), { name: 'InvalidParameterException' });
  });

  it('forged and expired credentials are refused at CONNECT with the reason logged', async () => {
    const creds = await credentialsFor(POOL);
    // The token names another access key id: refused even with a matching signature for that id.
    const other = await credentialsFor(POOL);
    assert.equal((await connect(await presignMqttUrl(server.httpPort, { ...creds, sessionToken: other.sessionToken }), 'web-swapped')).code, 0x87);
    await refusalLogged('web-swapped', /invalid-token/);
    const tampered = creds.sessionToken!.replace(/\.([A-Za-z0-9_-])/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`);
    assert.equal((await connect(await presignMqttUrl(server.httpPort, { ...creds, sessionToken: tampered }), 'web-tampered')).code, 0x87);
    await refusalLogged('web-tampered', /invalid-token/);
    const short = await credentialsFor(SHORT_POOL);
    while (Date.now() <= short.expiration.getTime()) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await connect(await presignMqttUrl(server.httpPort, short), 'short-expired')).code, 0x87);
    await refusalLogged('short-expired', /expired-token/);
  });

  it('other operations: UnknownOperationException in the AWS JSON 1.1 error shape', async () => {
    const res = await fetch(`${server.httpUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityService.ListIdentityPools' },
      body: '{"MaxResults":10}',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException');
    const body = (await res.json()) as { __type: string; message: string };
    assert.equal(body.__type, 'UnknownOperationException');
    // An unknown field is an error, not ignored.
    const extra = await fetch(`${server.httpUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL, Extra: 1 }),
    });
    assert.equal(((await extra.json()) as { __type: string }).__type, 'InvalidParameterException');
  });

  it('answers a browser from another origin: CORS preflight and Access-Control-Allow-Origin', async () => {
    const preflight = await fetch(`${server.httpUrl}/`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-amz-target,x-amz-user-agent' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type,x-amz-target,x-amz-user-agent');
    const res = await fetch(`${server.httpUrl}/`, {
      method: 'POST',
      headers: { origin: 'https://app.example', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1');
  });

  // Last: it uses up this address's allowance.
  it(`is rate-limited per client address (${COGNITO_REQUESTS_PER_WINDOW} calls a minute): TooManyRequestsException`, async () => {
    let throttled: Response | undefined;
    for (let i = 0; i <= COGNITO_REQUESTS_PER_WINDOW && throttled === undefined; i++) {
      const res = await fetch(`${server.httpUrl}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
        body: JSON.stringify({ IdentityPoolId: POOL }),
      });
      if (res.status !== 200) throttled = res;
      else await res.arrayBuffer();
    }
    assert.ok(throttled, 'never throttled');
    assert.equal(((await throttled.json()) as { __type: string }).__type, 'TooManyRequestsException');
    assert.ok(Number(throttled.headers.get('retry-after')) > 0);
    await assert.rejects(cognito.send(new GetIdCommand({ IdentityPoolId: POOL })), { name: 'TooManyRequestsException' });
  });
});
