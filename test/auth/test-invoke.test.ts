import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import type { AuthorizerDefinition, AuthorizerEvent } from '../../src/auth/authorizer.js';
import { FunctionPool } from '../../src/functions/function-pool.js';
import { invokeAuthorizer, testInvokeAuthorizer, TestInvokeError, type TestInvokeInput } from '../../src/auth/test-invoke.js';

const fixturesDir = fileURLToPath(new URL('../fixtures/authorizers/', import.meta.url));
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signature = (token: string) => sign('sha256', Buffer.from(token), privateKey).toString('base64');

const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] };

function definition(overrides: Partial<AuthorizerDefinition>): AuthorizerDefinition {
  return { name: 'Test', type: 'function', status: 'ACTIVE', signingDisabled: true, timeoutMs: 10_000, ...overrides };
}

async function apiError(promise: Promise<unknown>): Promise<TestInvokeError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof TestInvokeError, `expected TestInvokeError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('testInvokeAuthorizer', () => {
  const pool = new FunctionPool({ size: 1 });
  let server: Server;
  let url: string;
  let lastEvent: AuthorizerEvent | undefined;
  let answer: unknown;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        lastEvent = JSON.parse(Buffer.concat(chunks).toString()) as AuthorizerEvent;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authorize`;
  });
  after(async () => {
    await pool.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const http = () => definition({ type: 'http', url });
  const allowWith = (documents: unknown[]) => ({
    isAuthenticated: true,
    principalId: 'abc123',
    disconnectAfterInSeconds: 3600,
    refreshAfterInSeconds: 600,
    policyDocuments: documents,
    extra: 'dropped',
  });

  test('the AWS output shape, policy documents as JSON strings', async () => {
    answer = allowWith([policy, JSON.stringify(policy, null, 2)]);
    const out = await testInvokeAuthorizer(http(), { token: 'allow' }, { pool });
    assert.deepEqual(out, {
      isAuthenticated: true,
      principalId: 'abc123',
      policyDocuments: [JSON.stringify(policy), JSON.stringify(policy, null, 2)],
      refreshAfterInSeconds: 600,
      disconnectAfterInSeconds: 3600,
    });
    assert.deepEqual(Object.keys(out), ['isAuthenticated', 'principalId', 'policyDocuments', 'refreshAfterInSeconds', 'disconnectAfterInSeconds']);
  });

  test('a token alone: no protocolData, no protocols', async () => {
    answer = allowWith([]);
    await testInvokeAuthorizer(http(), { token: 'allow' }, { pool });
    assert.ok(lastEvent);
    assert.deepEqual({ ...lastEvent, connectionMetadata: undefined }, {
      token: 'allow',
      signatureVerified: false,
      protocols: [],
      connectionMetadata: undefined,
    });
    assert.match(lastEvent.connectionMetadata.id, /^[0-9a-f-]{36}$/);
  });

  test('contexts become protocols and protocolData', async () => {
    answer = allowWith([]);
    const input: TestInvokeInput = {
      token: 't',
      httpContext: { headers: { 'X-Request-ID': 'abc123' }, queryString: '?foo=bar' },
      mqttContext: { username: 'myUserName', password: 'bXlQYXNzd29yZA==', clientId: 'myClientId' },
      tlsContext: { serverName: 'iot.example.com' },
    };
    await testInvokeAuthorizer(http(), input, { pool });
    assert.deepEqual({ ...lastEvent, connectionMetadata: undefined }, {
      token: 't',
      signatureVerified: false,
      protocols: ['tls', 'http', 'mqtt'],
      protocolData: {
        tls: { serverName: 'iot.example.com' },
        http: { headers: { 'X-Request-ID': 'abc123' }, queryString: '?foo=bar' },
        mqtt: { username: 'myUserName', password: 'bXlQYXNzd29yZA==', clientId: 'myClientId' },
      },
      connectionMetadata: undefined,
    });
  });

  test('a function authorizer through the pool; a relative handler resolves against baseDir', async () => {
    const out = await testInvokeAuthorizer(
      definition({ handler: 'blog-style.cjs' }),
      { mqttContext: { username: 'alice', password: Buffer.from('secret').toString('base64'), clientId: 'dev1' } },
      { pool, baseDir: fixturesDir },
    );
    assert.equal(out.isAuthenticated, true);
    assert.equal(out.principalId, 'alice');
    assert.equal(out.policyDocuments.length, 1);
    assert.equal(typeof out.policyDocuments[0], 'string');
    assert.match(out.policyDocuments[0] ?? '', /client\/dev1/);
  });

  test('a deny is a normal answer', async () => {
    const out = await testInvokeAuthorizer(
      definition({ handler: `${fixturesDir}blog-style.cjs` }),
      { mqttContext: { username: 'alice', password: Buffer.from('wrong').toString('base64') } },
      { pool },
    );
    assert.deepEqual(out, { isAuthenticated: false, principalId: 'nobody', policyDocuments: [], refreshAfterInSeconds: 300, disconnectAfterInSeconds: 3600 });
  });

  describe('signing enabled', () => {
    const signed = () => definition({ type: 'http', url, signingDisabled: false, tokenKeyName: 'token', tokenSigningPublicKeys: { k: pem } });

    test('a good tokenSignature verifies: signatureVerified true', async () => {
      answer = allowWith([]);
      await testInvokeAuthorizer(signed(), { token: 'allow', tokenSignature: signature('allow') }, { pool });
      assert.equal(lastEvent?.signatureVerified, true);
    });

    test('token and signature may come from the contexts, as on a connection', async () => {
      answer = allowWith([]);
      const sig = encodeURIComponent(signature('tk'));
      await testInvokeAuthorizer(signed(), { mqttContext: { username: `u?token=tk&x-amz-customauthorizer-signature=${sig}` } }, { pool });
      assert.equal(lastEvent?.token, 'tk');
      assert.equal(lastEvent?.signatureVerified, true);
    });

    test('missing or wrong signatures are InvalidRequestException', async () => {
      for (const [input, message] of [
        [{ tokenSignature: signature('allow') }, /a token is required/],
        [{ token: 'allow' }, /a tokenSignature is required/],
        [{ token: 'allow', tokenSignature: signature('other') }, /does not verify/],
      ] as const) {
        const e = await apiError(testInvokeAuthorizer(signed(), input, { pool }));
        assert.equal(e.name, 'InvalidRequestException');
        assert.equal(e.statusCode, 400);
        assert.match(e.message, message);
      }
    });
  });

  test('request constraints are InvalidRequestException', async () => {
    const bad: TestInvokeInput[] = [
      { token: '' },
      { token: 'x'.repeat(6145) },
      { tokenSignature: 'not base64!' },
      { mqttContext: { password: '***' } },
      { mqttContext: { username: '' } },
      { mqttContext: { clientId: '' } },
      { httpContext: { queryString: '' } },
      { httpContext: { headers: { a: 1 as unknown as string } } },
      { tlsContext: { serverName: '' } },
    ];
    for (const input of bad) {
      const e = await apiError(testInvokeAuthorizer(http(), input, { pool }));
      assert.equal(e.name, 'InvalidRequestException', JSON.stringify(input));
    }
  });

  test('an invalid response is InvalidResponseException naming the rule', async () => {
    const e = await apiError(testInvokeAuthorizer(definition({ handler: `${fixturesDir}invalid-response.mjs` }), { token: 't' }, { pool }));
    assert.equal(e.name, 'InvalidResponseException');
    assert.match(e.message, /returned an invalid response: principalId must be 1-128 alphanumeric characters/);
  });

  test('a handler that throws is InvalidResponseException with the cause', async () => {
    const e = await apiError(testInvokeAuthorizer(definition({ handler: `${fixturesDir}throws.cjs` }), { token: 't' }, { pool }));
    assert.equal(e.name, 'InvalidResponseException');
    assert.match(e.message, /token expired/);
  });

  test('a timeout is InvalidResponseException', async () => {
    const e = await apiError(testInvokeAuthorizer(definition({ handler: `${fixturesDir}hangs.mjs`, timeoutMs: 200 }), { token: 't' }, { pool }));
    assert.equal(e.name, 'InvalidResponseException');
    assert.match(e.message, /timed out after 200 ms/);
  });

  test('minSeconds relaxes the TTL floor, as for connections', async () => {
    answer = { ...allowWith([]), refreshAfterInSeconds: 1, disconnectAfterInSeconds: 2 };
    assert.equal((await apiError(testInvokeAuthorizer(http(), { token: 't' }, { pool }))).name, 'InvalidResponseException');
    const out = await testInvokeAuthorizer(http(), { token: 't' }, { pool, minSeconds: 1 });
    assert.equal(out.refreshAfterInSeconds, 1);
  });

  test('an incomplete definition is InvalidRequestException', async () => {
    const e = await apiError(testInvokeAuthorizer(definition({}), { token: 't' }, { pool }));
    assert.equal(e.name, 'InvalidRequestException');
    assert.match(e.message, /has no handler/);
  });
});

describe('invokeAuthorizer', () => {
  test('a function authorizer without a pool is MISCONFIGURED', async () => {
    await assert.rejects(invokeAuthorizer(definition({ handler: 'x.mjs' }), {} as AuthorizerEvent, {}), { code: 'MISCONFIGURED' });
    await assert.rejects(invokeAuthorizer(definition({ type: 'http' }), {} as AuthorizerEvent, {}), /has no url/);
  });

  test('a closed pool is ServiceUnavailableException in testInvokeAuthorizer', async () => {
    const pool = new FunctionPool({ size: 1 });
    await pool.close();
    const e = await apiError(testInvokeAuthorizer(definition({ handler: `${fixturesDir}echo.mjs` }), { token: 't' }, { pool }));
    assert.equal(e.name, 'ServiceUnavailableException');
    assert.equal(e.statusCode, 503);
  });
});
