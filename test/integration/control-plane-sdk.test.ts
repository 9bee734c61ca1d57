// The AWS IoT control plane driven by the real @aws-sdk/client-iot against a running Switchboard:
// every supported operation, signed with an admin access key (service `iot`); refused with a
// non-admin key, with an admin key signed for the data plane, and unsigned from a non-loopback
// address; TestInvokeAuthorizer running the real function; a rule made by CreateTopicRule acting
// on a published message; and other operations named as unsupported in AWS's error shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  CreateAuthorizerCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateTopicRuleCommand,
  DeleteAuthorizerCommand,
  DeleteTopicRuleCommand,
  DescribeAuthorizerCommand,
  DescribeDefaultAuthorizerCommand,
  DescribeEndpointCommand,
  DisableTopicRuleCommand,
  EnableTopicRuleCommand,
  GetTopicRuleCommand,
  IoTClient,
  ListAuthorizersCommand,
  ListThingsCommand,
  ListTopicRulesCommand,
  ReplaceTopicRuleCommand,
  SetDefaultAuthorizerCommand,
  TestInvokeAuthorizerCommand,
  UpdateAuthorizerCommand,
} from '@aws-sdk/client-iot';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/core/serde';
import mqtt from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { createNetns, httpStatusesFrom, netnsUnavailable, type Netns } from '../helpers/netns.js';

after(stopAllServers);

const TOKEN = 'control-plane-admin-token-0123456789';
const ACCOUNT = '123456789012';
const lambdaArn = (name: string, region = 'us-east-1') => `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] };

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

async function createKey(server: TestServer, body: object): Promise<Key> {
  const r = await fetch(`${server.httpUrl}/api/keys`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  assert.equal(r.status, 201, await r.clone().text());
  return (await r.json()) as Key;
}

function iot(server: TestServer, credentials: Key): IoTClient {
  return new IoTClient({ endpoint: server.httpUrl, region: 'us-east-1', credentials, maxAttempts: 1 });
}

/** The error an SDK call rejects with: its AWS error name, message and HTTP status. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  assert.fail('the call succeeded');
}

describe('@aws-sdk/client-iot against the control plane', { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: IoTClient;
  let plain: Key;
  let adminKey: Key;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cp-'));
    const functions = join(dir, 'functions');
    mkdirSync(functions);
    // A Lambda-style custom authorizer: the token decides; the policy names the principal.
    writeFileSync(
      join(functions, 'MyAuthorizer.mjs'),
      `export const handler = async (event) => ({
        isAuthenticated: event.token === 'allow-me',
        principalId: 'deviceOwner',
        disconnectAfterInSeconds: 3600,
        refreshAfterInSeconds: 600,
        policyDocuments: [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:${ACCOUNT}:client/' + (event.protocolData?.mqtt?.clientId ?? 'none') }] })],
      });\n`,
    );
    writeFileSync(join(functions, 'OtherAuthorizer.mjs'), `export const handler = async () => ({ isAuthenticated: false, principalId: 'x', policyDocuments: [] });\n`);
    writeFileSync(join(functions, 'sink.mjs'), `export const handler = async () => ({});\n`);
    server = await startServer({ args: ['--set', `functions.dir=${functions}`, '--set', `admin.token=${TOKEN}`, '--http-host', '0.0.0.0'] });
    adminKey = await createKey(server, { admin: true, description: 'control plane' });
    plain = await createKey(server, { policyDocuments: [POLICY] });
    admin = iot(server, adminKey);
  });

  test('authorizers: create, describe, list (paged), update, set and describe the default, delete', async () => {
    const created = await admin.send(
      new CreateAuthorizerCommand({ authorizerName: 'MyAuthorizer', authorizerFunctionArn: lambdaArn('MyAuthorizer'), signingDisabled: true, status: 'ACTIVE' }),
    );
    assert.deepEqual({ name: created.authorizerName, arn: created.authorizerArn }, { name: 'MyAuthorizer', arn: `arn:aws:iot:us-east-1:${ACCOUNT}:authorizer/MyAuthorizer` });
    // Another region, account or a qualifier still names the function by its name.
    await admin.send(new CreateAuthorizerCommand({ authorizerName: 'Other', authorizerFunctionArn: `arn:aws:lambda:eu-west-1:210987654321:function:OtherAuthorizer:prod`, signingDisabled: true }));

    const described = (await admin.send(new DescribeAuthorizerCommand({ authorizerName: 'MyAuthorizer' }))).authorizerDescription!;
    assert.equal(described.authorizerName, 'MyAuthorizer');
    assert.equal(described.authorizerFunctionArn, lambdaArn('MyAuthorizer'));
    assert.equal(described.status, 'ACTIVE');
    assert.equal(described.signingDisabled, true);
    assert.ok(described.creationDate instanceof Date && Math.abs(described.creationDate.getTime() - Date.now()) < 60_000, 'creationDate is a timestamp');

    const all = await admin.send(new ListAuthorizersCommand({}));
    assert.deepEqual(all.authorizers!.map((a) => a.authorizerName), ['MyAuthorizer', 'Other']);
    const first = await admin.send(new ListAuthorizersCommand({ pageSize: 1 }));
    assert.deepEqual(first.authorizers!.map((a) => a.authorizerName), ['MyAuthorizer']);
    assert.ok(first.nextMarker);
    const second = await admin.send(new ListAuthorizersCommand({ pageSize: 1, marker: first.nextMarker! }));
    assert.deepEqual(second.authorizers!.map((a) => a.authorizerName), ['Other']);
    assert.equal(second.nextMarker, undefined);
    const descending = await admin.send(new ListAuthorizersCommand({ ascendingOrder: false }));
    assert.deepEqual(descending.authorizers!.map((a) => a.authorizerName), ['Other', 'MyAuthorizer']);

    await admin.send(new UpdateAuthorizerCommand({ authorizerName: 'Other', status: 'INACTIVE' }));
    assert.equal((await admin.send(new DescribeAuthorizerCommand({ authorizerName: 'Other' }))).authorizerDescription!.status, 'INACTIVE');
    assert.deepEqual((await admin.send(new ListAuthorizersCommand({ status: 'INACTIVE' }))).authorizers!.map((a) => a.authorizerName), ['Other']);

    assert.equal((await failure(admin.send(new DescribeDefaultAuthorizerCommand({})))).name, 'ResourceNotFoundException');
    const set = await admin.send(new SetDefaultAuthorizerCommand({ authorizerName: 'MyAuthorizer' }));
    assert.equal(set.authorizerName, 'MyAuthorizer');
    assert.equal((await admin.send(new DescribeDefaultAuthorizerCommand({}))).authorizerDescription!.authorizerName, 'MyAuthorizer');

    // The /api/ front sees the same store: clearing the default there (AWS's ClearDefaultAuthorizer
    // is not served) lets the MQTT clients of the other tests in without an authorizer.
    const cleared = await fetch(`${server.httpUrl}/api/default-authorizer`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(cleared.status, 204);
    assert.equal((await failure(admin.send(new DescribeDefaultAuthorizerCommand({})))).name, 'ResourceNotFoundException');

    await admin.send(new DeleteAuthorizerCommand({ authorizerName: 'Other' }));
    const gone = await failure(admin.send(new DescribeAuthorizerCommand({ authorizerName: 'Other' })));
    assert.deepEqual([gone.name, gone.status], ['ResourceNotFoundException', 404]);
  });

  test('authorizer errors: unknown function, existing name, missing authorizer, unchangeable signing', async () => {
    const unknown = await failure(admin.send(new CreateAuthorizerCommand({ authorizerName: 'Nope', authorizerFunctionArn: lambdaArn('NoSuchFunction'), signingDisabled: true })));
    assert.equal(unknown.name, 'InvalidRequestException');
    assert.match(unknown.message, /NoSuchFunction/);
    const notArn = await failure(admin.send(new CreateAuthorizerCommand({ authorizerName: 'Nope', authorizerFunctionArn: '/tmp/evil.js', signingDisabled: true })));
    assert.equal(notArn.name, 'InvalidRequestException');
    assert.match(notArn.message, /Lambda function ARN/);
    await admin.send(new CreateAuthorizerCommand({ authorizerName: 'Twice', authorizerFunctionArn: lambdaArn('sink'), signingDisabled: true }));
    const twice = await failure(admin.send(new CreateAuthorizerCommand({ authorizerName: 'Twice', authorizerFunctionArn: lambdaArn('sink'), signingDisabled: true })));
    assert.deepEqual([twice.name, twice.status], ['ResourceAlreadyExistsException', 409]);
    // Signing on (AWS's default) needs a token key name and public keys.
    const signing = await failure(admin.send(new CreateAuthorizerCommand({ authorizerName: 'Signed', authorizerFunctionArn: lambdaArn('sink') })));
    assert.equal(signing.name, 'InvalidRequestException');
    assert.match(signing.message, /tokenKeyName/);
    assert.equal((await failure(admin.send(new UpdateAuthorizerCommand({ authorizerName: 'Missing', status: 'ACTIVE' })))).name, 'ResourceNotFoundException');
    assert.equal((await failure(admin.send(new DeleteAuthorizerCommand({ authorizerName: 'Missing' })))).name, 'ResourceNotFoundException');
    assert.equal((await failure(admin.send(new SetDefaultAuthorizerCommand({ authorizerName: 'Missing' })))).name, 'ResourceNotFoundException');
    const caching = await failure(admin.send(new CreateAuthorizerCommand({ authorizerName: 'Cached', authorizerFunctionArn: lambdaArn('sink'), signingDisabled: true, enableCachingForHttp: true })));
    assert.equal(caching.name, 'InvalidRequestException');
    await admin.send(new DeleteAuthorizerCommand({ authorizerName: 'Twice' }));
  });

  test('TestInvokeAuthorizer runs the function and returns its policy', async () => {
    const allowed = await admin.send(new TestInvokeAuthorizerCommand({ authorizerName: 'MyAuthorizer', token: 'allow-me', mqttContext: { clientId: 'thermostat-7', username: 'u' } }));
    assert.equal(allowed.isAuthenticated, true);
    assert.equal(allowed.principalId, 'deviceOwner');
    assert.equal(allowed.disconnectAfterInSeconds, 3600);
    assert.equal(allowed.refreshAfterInSeconds, 600);
    assert.deepEqual(
      allowed.policyDocuments!.map((d) => JSON.parse(d)),
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `arn:aws:iot:us-east-1:${ACCOUNT}:client/thermostat-7` }] }],
    );
    const denied = await admin.send(new TestInvokeAuthorizerCommand({ authorizerName: 'MyAuthorizer', token: 'wrong' }));
    assert.equal(denied.isAuthenticated, false);
    assert.equal((await failure(admin.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Missing', token: 'x' })))).name, 'ResourceNotFoundException');
  });

  test('topic rules: a rule made by CreateTopicRule republishes a published message; get, list, disable, enable, replace, delete', async () => {
    await admin.send(
      new CreateTopicRuleCommand({
        ruleName: 'hot_sensors',
        topicRulePayload: {
          sql: "SELECT temperature, topic(2) AS device FROM 'sensors/+/data' WHERE temperature > 50",
          description: 'alerts for hot sensors',
          awsIotSqlVersion: '2016-03-23',
          ruleDisabled: false,
          actions: [{ republish: { roleArn: `arn:aws:iam::${ACCOUNT}:role/iot-republish`, topic: 'alerts/${topic(2)}', qos: 1 } }],
        },
      }),
    );
    const sub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'cp-alerts', reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync('alerts/#', { qos: 1 });
      const got = new Promise<{ topic: string; payload: string }>((resolve) => sub.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })));
      const pub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'cp-sensor', reconnectPeriod: 0 });
      await pub.publishAsync('sensors/dev1/data', JSON.stringify({ temperature: 20 }), { qos: 1 });
      await pub.publishAsync('sensors/dev9/data', JSON.stringify({ temperature: 70 }), { qos: 1 });
      await pub.endAsync();
      // The cool reading matched no WHERE; the first alert is the hot one.
      assert.deepEqual(await got, { topic: 'alerts/dev9', payload: JSON.stringify({ temperature: 70, device: 'dev9' }) });
    } finally {
      await sub.endAsync();
    }

    const got = await admin.send(new GetTopicRuleCommand({ ruleName: 'hot_sensors' }));
    assert.equal(got.ruleArn, `arn:aws:iot:us-east-1:${ACCOUNT}:rule/hot_sensors`);
    assert.equal(got.rule!.ruleName, 'hot_sensors');
    assert.equal(got.rule!.description, 'alerts for hot sensors');
    assert.equal(got.rule!.awsIotSqlVersion, '2016-03-23');
    assert.equal(got.rule!.ruleDisabled, false);
    assert.ok(got.rule!.createdAt instanceof Date);
    assert.deepEqual(got.rule!.actions, [{ republish: { roleArn: `arn:aws:iam::${ACCOUNT}:role/iot-republish`, topic: 'alerts/${topic(2)}', qos: 1 } }]);

    const listed = await admin.send(new ListTopicRulesCommand({}));
    assert.deepEqual(
      listed.rules!.map((r) => ({ name: r.ruleName, topicPattern: r.topicPattern, disabled: r.ruleDisabled, arn: r.ruleArn })),
      [{ name: 'hot_sensors', topicPattern: 'sensors/+/data', disabled: false, arn: `arn:aws:iot:us-east-1:${ACCOUNT}:rule/hot_sensors` }],
    );
    assert.deepEqual((await admin.send(new ListTopicRulesCommand({ topic: 'other/#' }))).rules, []);

    await admin.send(new DisableTopicRuleCommand({ ruleName: 'hot_sensors' }));
    assert.equal((await admin.send(new GetTopicRuleCommand({ ruleName: 'hot_sensors' }))).rule!.ruleDisabled, true);
    assert.equal((await admin.send(new ListTopicRulesCommand({ ruleDisabled: true }))).rules!.length, 1);
    await admin.send(new EnableTopicRuleCommand({ ruleName: 'hot_sensors' }));
    assert.equal((await admin.send(new GetTopicRuleCommand({ ruleName: 'hot_sensors' }))).rule!.ruleDisabled, false);

    // Replace with a Lambda action (a function in functions.dir) and an error action; no version: AWS's default.
    await admin.send(
      new ReplaceTopicRuleCommand({
        ruleName: 'hot_sensors',
        topicRulePayload: {
          sql: "SELECT * FROM 'sensors/#'",
          actions: [{ lambda: { functionArn: lambdaArn('sink') } }],
          errorAction: { republish: { roleArn: `arn:aws:iam::${ACCOUNT}:role/r`, topic: 'errors' } },
        },
      }),
    );
    const replaced = (await admin.send(new GetTopicRuleCommand({ ruleName: 'hot_sensors' }))).rule!;
    assert.deepEqual(replaced.actions, [{ lambda: { functionArn: lambdaArn('sink') } }]);
    assert.equal(replaced.awsIotSqlVersion, '2015-10-08');
    assert.equal(replaced.errorAction?.republish?.topic, 'errors');

    await admin.send(new DeleteTopicRuleCommand({ ruleName: 'hot_sensors' }));
    assert.deepEqual((await admin.send(new ListTopicRulesCommand({}))).rules, []);
  });

  test('topic rule errors: AWS error types, unsupported actions named, unknown function named', async () => {
    const payload = { sql: "SELECT * FROM 'a'", actions: [] };
    await admin.send(new CreateTopicRuleCommand({ ruleName: 'dup', topicRulePayload: payload }));
    const dup = await failure(admin.send(new CreateTopicRuleCommand({ ruleName: 'dup', topicRulePayload: payload })));
    assert.deepEqual([dup.name, dup.status], ['ResourceAlreadyExistsException', 409]);
    const sql = await failure(admin.send(new CreateTopicRuleCommand({ ruleName: 'bad_sql', topicRulePayload: { sql: 'SELECT FROM WHERE', actions: [] } })));
    assert.deepEqual([sql.name, sql.status], ['SqlParseException', 400]);
    const dynamo = await failure(
      admin.send(new CreateTopicRuleCommand({ ruleName: 'dynamo', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ dynamoDBv2: { roleArn: 'arn:aws:iam::1:role/r', putItem: { tableName: 't' } } }] } })),
    );
    assert.equal(dynamo.name, 'InvalidRequestException');
    assert.match(dynamo.message, /dynamoDBv2 actions are not supported.*republish, lambda, http/);
    const lambda = await failure(
      admin.send(new CreateTopicRuleCommand({ ruleName: 'lambda', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ lambda: { functionArn: lambdaArn('Missing') } }] } })),
    );
    assert.equal(lambda.name, 'InvalidRequestException');
    assert.match(lambda.message, /Missing/);
    // AWS answers a rule that does not exist with UnauthorizedException.
    for (const call of [
      () => admin.send(new GetTopicRuleCommand({ ruleName: 'missing' })),
      () => admin.send(new ReplaceTopicRuleCommand({ ruleName: 'missing', topicRulePayload: payload })),
      () => admin.send(new DeleteTopicRuleCommand({ ruleName: 'missing' })),
      () => admin.send(new EnableTopicRuleCommand({ ruleName: 'missing' })),
      () => admin.send(new DisableTopicRuleCommand({ ruleName: 'missing' })),
    ]) {
      const e = await failure(call());
      assert.deepEqual([e.name, e.status], ['UnauthorizedException', 401]);
      assert.match(e.message, /topic rule 'missing'/);
    }
    await admin.send(new DeleteTopicRuleCommand({ ruleName: 'dup' }));
  });

  test('DescribeEndpoint names this listener', async () => {
    const port = new URL(server.httpUrl).port;
    assert.equal((await admin.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress, `127.0.0.1:${port}`);
    assert.equal((await admin.send(new DescribeEndpointCommand({}))).endpointAddress, `127.0.0.1:${port}`);
    assert.equal((await failure(admin.send(new DescribeEndpointCommand({ endpointType: 'iot:Jobs' })))).name, 'InvalidRequestException');
  });

  test('other control-plane operations are named as unsupported, in AWS error shape, not 404', async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ['ListThings', () => admin.send(new ListThingsCommand({}))],
      ['CreateThing', () => admin.send(new CreateThingCommand({ thingName: 'thermostat' }))],
      ['CreatePolicy', () => admin.send(new CreatePolicyCommand({ policyName: 'p', policyDocument: JSON.stringify(POLICY) }))],
      ['AttachPolicy', () => admin.send(new AttachPolicyCommand({ policyName: 'p', target: 'arn:aws:iot:us-east-1:123456789012:cert/abc' }))],
      ['CreateKeysAndCertificate', () => admin.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))],
    ];
    for (const [operation, call] of calls) {
      const e = await failure(call());
      assert.deepEqual([e.name, e.status], ['UnsupportedOperationException', 501], operation);
      assert.match(e.message, new RegExp(`^${operation} is an AWS IoT operation that Switchboard does not support`));
    }
  });

  test('a non-admin key is refused by every operation (UnauthorizedException), though its signature is good', async () => {
    const client = iot(server, plain);
    const payload = { sql: "SELECT * FROM 'a'", actions: [] };
    const calls = [
      new CreateAuthorizerCommand({ authorizerName: 'X', authorizerFunctionArn: lambdaArn('sink'), signingDisabled: true }),
      new DescribeAuthorizerCommand({ authorizerName: 'MyAuthorizer' }),
      new ListAuthorizersCommand({}),
      new UpdateAuthorizerCommand({ authorizerName: 'MyAuthorizer', status: 'INACTIVE' }),
      new DeleteAuthorizerCommand({ authorizerName: 'MyAuthorizer' }),
      new SetDefaultAuthorizerCommand({ authorizerName: 'MyAuthorizer' }),
      new DescribeDefaultAuthorizerCommand({}),
      new TestInvokeAuthorizerCommand({ authorizerName: 'MyAuthorizer', token: 'allow-me' }),
      new CreateTopicRuleCommand({ ruleName: 'x', topicRulePayload: payload }),
      new GetTopicRuleCommand({ ruleName: 'x' }),
      new ListTopicRulesCommand({}),
      new ReplaceTopicRuleCommand({ ruleName: 'x', topicRulePayload: payload }),
      new DeleteTopicRuleCommand({ ruleName: 'x' }),
      new EnableTopicRuleCommand({ ruleName: 'x' }),
      new DisableTopicRuleCommand({ ruleName: 'x' }),
      new DescribeEndpointCommand({}),
    ];
    assert.equal(calls.length, 16);
    for (const command of calls) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const e = await failure(client.send(command as any));
      assert.deepEqual([e.name, e.status], ['UnauthorizedException', 401], command.constructor.name);
      assert.match(e.message, /not an admin key/);
    }
    // Nothing changed.
    assert.equal((await admin.send(new DescribeAuthorizerCommand({ authorizerName: 'MyAuthorizer' }))).authorizerDescription!.status, 'ACTIVE');
  });

  test('an admin key signed for the data plane, a wrong secret, or a deactivated admin key is refused', async () => {
    const dataPlane = new IoTClient({ endpoint: server.httpUrl, region: 'us-east-1', credentials: adminKey, maxAttempts: 1, signingName: 'iotdata' } as NonNullable<ConstructorParameters<typeof IoTClient>[0]>);
    const scoped = await failure(dataPlane.send(new ListAuthorizersCommand({})));
    assert.deepEqual([scoped.name, scoped.status], ['InvalidSignatureException', 403]);
    const wrong = await failure(iot(server, { accessKeyId: adminKey.accessKeyId, secretAccessKey: 'x'.repeat(40) }).send(new ListAuthorizersCommand({})));
    assert.deepEqual([wrong.name, wrong.status], ['InvalidSignatureException', 403]);
    const other = await createKey(server, { admin: true });
    const patch = await fetch(`${server.httpUrl}/api/keys/${other.accessKeyId}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ status: 'Inactive' }) });
    assert.equal(patch.status, 200);
    const inactive = await failure(iot(server, other).send(new ListAuthorizersCommand({})));
    assert.deepEqual([inactive.name, inactive.status], ['UnrecognizedClientException', 403]);
  });

  test('admin-ness is granted only by an admin caller: a non-admin key cannot create an admin key', async () => {
    // The same SigV4 path the SDK uses, aimed at the key API (an admin route).
    const Sha256 = Hash.bind(null, 'sha256');
    const url = new URL(`${server.httpUrl}/api/keys`);
    const body = JSON.stringify({ admin: true });
    const signer = new SignatureV4({ service: 'iot', region: 'us-east-1', credentials: plain, sha256: Sha256 });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/json' }, body });
    const r = await fetch(url, { method: 'POST', headers: signed.headers, body });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-amzn-errortype'), 'UnauthorizedException');
    // The admin key, signed the same way, may.
    const adminSigner = new SignatureV4({ service: 'iot', region: 'us-east-1', credentials: adminKey, sha256: Sha256 });
    const ok = await adminSigner.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/json' }, body: JSON.stringify({ admin: true, description: 'made by an admin key' }) });
    const made = await fetch(url, { method: 'POST', headers: ok.headers, body: JSON.stringify({ admin: true, description: 'made by an admin key' }) });
    assert.equal(made.status, 201);
    assert.equal(((await made.json()) as { admin: boolean }).admin, true);
  });

  test('the signature covers the body: a body changed after signing is refused before it is parsed', async () => {
    const url = new URL(`${server.httpUrl}/rules/tampered`);
    // As the SDK signs for iot: no x-amz-content-sha256 header (with one, a changed body is a 400
    // payload-hash mismatch instead), so the signature itself must catch the change.
    const signer = new SignatureV4({ service: 'iot', region: 'us-east-1', credentials: adminKey, sha256: Hash.bind(null, 'sha256'), applyChecksum: false });
    const signedBody = JSON.stringify({ sql: "SELECT * FROM 'a'", actions: [] });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/json' }, body: signedBody });
    const forged = JSON.stringify({ sql: "SELECT * FROM '#'", actions: [] });
    const r = await fetch(url, { method: 'POST', headers: signed.headers, body: forged });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
    // Not even malformed JSON reaches a parser unsigned.
    const junk = await fetch(url, { method: 'POST', headers: signed.headers, body: '{not json' });
    assert.equal(junk.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
    assert.equal((await failure(admin.send(new GetTopicRuleCommand({ ruleName: 'tampered' })))).name, 'UnauthorizedException');
    // The bytes that were signed are what the route parses.
    const good = await fetch(url, { method: 'POST', headers: signed.headers, body: signedBody });
    assert.equal(good.status, 200, await good.clone().text());
    assert.equal((await admin.send(new GetTopicRuleCommand({ ruleName: 'tampered' }))).rule!.sql, "SELECT * FROM 'a'");
    await admin.send(new DeleteTopicRuleCommand({ ruleName: 'tampered' }));
  });

  test('a signed request by an unknown or non-admin key is refused from its headers, before its body is read', async () => {
    const plain = await createKey(server, { policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] }] });
    const url = new URL(`${server.httpUrl}/rules/precheck`);
    // Headers that announce a 900 KB body, and no body at all: an answer proves nothing waited for it.
    const answer = (accessKeyId: string) =>
      new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
        const req = http.request(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(900_000),
            'x-amz-date': '20260101T000000Z',
            authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
          },
        });
        const timer = setTimeout(() => { req.destroy(); reject(new Error(`no answer for ${accessKeyId} without its body`)); }, 5_000);
        req.on('response', (res) => {
          clearTimeout(timer);
          res.resume();
          resolve({ status: res.statusCode ?? 0, type: res.headers['x-amzn-errortype'] as string | undefined });
          req.destroy();
        });
        req.on('error', (err) => { clearTimeout(timer); reject(err); });
        req.flushHeaders();
      });
    assert.deepEqual(await answer('AKIAUNKNOWNKEY000000'), { status: 403, type: 'UnrecognizedClientException' });
    assert.deepEqual(await answer(plain.accessKeyId), { status: 401, type: 'UnauthorizedException' });
  });

  describe('from another address', { skip: netnsUnavailable() }, () => {
    let ns: Netns;
    before(async () => {
      ns = await createNetns();
    });
    after(async () => {
      await ns?.cleanup();
    });

    test('unsigned calls to every control-plane route are refused with 401; the admin token gets through', async () => {
      const routes: [string, string][] = [
        ['POST', '/authorizer/MyAuthorizer'],
        ['GET', '/authorizer/MyAuthorizer'],
        ['PUT', '/authorizer/MyAuthorizer'],
        ['DELETE', '/authorizer/MyAuthorizer'],
        ['GET', '/authorizers'],
        ['GET', '/authorizers/'],
        ['POST', '/default-authorizer'],
        ['GET', '/default-authorizer'],
        ['POST', '/authorizer/MyAuthorizer/test'],
        ['POST', '/rules/x'],
        ['GET', '/rules/x'],
        ['GET', '/rules'],
        ['PATCH', '/rules/x'],
        ['DELETE', '/rules/x'],
        ['POST', '/rules/x/enable'],
        ['POST', '/rules/x/disable'],
        ['GET', '/endpoint'],
      ];
      const port = new URL(server.httpUrl).port;
      const request = (method: string, path: string, headers: Record<string, string> = {}) => ({
        method,
        host: ns.hostAddress,
        port: Number(port),
        path,
        headers: method === 'GET' || method === 'DELETE' ? headers : { ...headers, 'content-type': 'application/json' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
      });
      const unsigned = await httpStatusesFrom(ns, routes.map(([m, p]) => request(m, p)));
      assert.deepEqual(unsigned, routes.map(() => 401));
      const token = await httpStatusesFrom(ns, [request('GET', '/authorizers/', { authorization: `Bearer ${TOKEN}` }), request('GET', '/endpoint', { authorization: `Bearer ${TOKEN}` })]);
      assert.deepEqual(token, [200, 200]);
    });

    test('the SDK signed with the admin key works from there; with a non-admin key it is refused', async () => {
      const endpoint = `http://${ns.hostAddress}:${new URL(server.httpUrl).port}`;
      const script = `
        import { IoTClient, ListAuthorizersCommand, DescribeEndpointCommand } from '@aws-sdk/client-iot';
        const call = async (credentials, command) => {
          const client = new IoTClient({ endpoint: ${JSON.stringify(endpoint)}, region: 'us-east-1', credentials, maxAttempts: 1 });
          try { return { ok: await client.send(command) }; } catch (e) { return { error: e.name, status: e.$metadata?.httpStatusCode }; }
        };
        const admin = ${JSON.stringify(adminKey)};
        const plain = ${JSON.stringify(plain)};
        const list = await call(admin, new ListAuthorizersCommand({}));
        const endpoint = await call(admin, new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
        const refused = await call(plain, new ListAuthorizersCommand({}));
        console.log(JSON.stringify({ names: list.ok?.authorizers?.map((a) => a.authorizerName), address: endpoint.ok?.endpointAddress, refused }));
      `;
      const out = JSON.parse(await ns.runNode(script, REPO_ROOT, 30_000)) as { names: string[]; address: string; refused: unknown };
      assert.ok(Array.isArray(out.names), JSON.stringify(out));
      assert.equal(out.address, new URL(endpoint).host);
      assert.deepEqual(out.refused, { error: 'UnauthorizedException', status: 401 });
    });
  });
});

describe('examples/control-plane/sdk.mjs', { timeout: 120_000 }, () => {
  test('runs against its own config: authorizer, TestInvokeAuthorizer, a rule acting on a data-plane publish', async () => {
    const server = await startServer({ configFile: join(REPO_ROOT, 'examples', 'control-plane', 'switchboard.yaml') });
    // From loopback the admin API needs no token (the example's own setup step).
    const r = await fetch(`${server.httpUrl}/api/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ admin: true, policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:us-east-1:123456789012:topic/sensors/*' }] }] }),
    });
    assert.equal(r.status, 201);
    const key = (await r.json()) as Key;
    const home = mkdtempSync(join(tmpdir(), 'switchboard-cp-example-'));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(REPO_ROOT, 'examples', 'control-plane', 'sdk.mjs')],
        {
          cwd: REPO_ROOT,
          timeout: 60_000,
          env: { PATH: process.env.PATH ?? '', HOME: home, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, ENDPOINT_URL: server.httpUrl, MQTT_URL: server.mqttUrl },
        },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    assert.match(out, /TestInvokeAuthorizer: true exampleUser/);
    assert.match(out, /the rule republished: alerts\/boiler \{"temperature":90,"device":"boiler"\}/);
    assert.match(out, /ListThings: UnsupportedOperationException: ListThings is an AWS IoT operation/);
    await server.stop();
  });
});
