// Values sent over the admin API are values, never paths: signing keys are PEM text, and a function
// authorizer or a rule's function action names a function in functions.dir. Reproductions of
// issue 13 (2): a key "path" of /etc/passwd read and echoed back, a rule running any .js file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';

const TOKEN = 'admin-token-for-api-no-paths';

describe('no file paths from the network', { timeout: 60_000 }, () => {
  let server: TestServer;
  let dir: string;
  let functions: string;
  let outside: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-no-paths-'));
    functions = join(dir, 'functions');
    outside = join(dir, 'outside');
    mkdirSync(functions);
    mkdirSync(outside);
    const allowAll = `exports.handler = async () => ({ isAuthenticated: true, principalId: 'named', disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 300,
      policyDocuments: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }] });`;
    writeFileSync(join(functions, 'allow.js'), allowAll);
    writeFileSync(join(functions, 'record.mjs'), `import { writeFileSync } from 'node:fs';\nexport const handler = async (event) => { writeFileSync(${JSON.stringify(join(dir, 'recorded.json'))}, JSON.stringify(event)); return {}; };`);
    writeFileSync(join(outside, 'evil.js'), `exports.handler = async () => { require('fs').writeFileSync(${JSON.stringify(join(dir, 'pwned'))}, 'x'); return {}; };`);
    symlinkSync(join(outside, 'evil.js'), join(functions, 'escape.js'));
    server = await startServer({ args: ['--set', `functions.dir=${functions}`, '--set', `admin.token=${TOKEN}`] });
  });

  after(async () => {
    await stopAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a signing key given as a path (/etc/passwd) is refused with 400 and nothing is stored', async () => {
    const created = await api('POST', '/api/authorizers', { name: 'Leak', type: 'http', url: 'http://127.0.0.1:9/x', tokenKeyName: 'token', tokenSigningPublicKeys: { p: '/etc/passwd' } });
    assert.equal(created.status, 400);
    assert.match(String(created.body.message), /tokenSigningPublicKeys\.p: must be the PEM text of a public key/);
    assert.equal((await api('GET', '/api/authorizers/Leak')).status, 404);
    const relative = await api('POST', '/api/authorizers', { name: 'Leak2', type: 'http', url: 'http://127.0.0.1:9/x', tokenKeyName: 'token', tokenSigningPublicKeys: { p: '../../../../etc/passwd' } });
    assert.equal(relative.status, 400);
    assert.equal((await api('GET', '/api/authorizers/Leak2')).status, 404);
  });

  test('a private key, or PEM-looking garbage, is not a public key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    for (const value of [privateKey, '-----BEGIN PUBLIC KEY-----\n/etc/passwd\n-----END PUBLIC KEY-----\n']) {
      const res = await api('POST', '/api/authorizers', { name: 'BadKey', type: 'http', url: 'http://127.0.0.1:9/x', tokenKeyName: 'token', tokenSigningPublicKeys: { k: value } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
    }
    assert.equal((await api('GET', '/api/authorizers/BadKey')).status, 404);
  });

  test('PEM text of a public key is accepted and described back', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const res = await api('POST', '/api/authorizers', { name: 'Signed', type: 'http', url: 'http://127.0.0.1:9/x', tokenKeyName: 'token', tokenSigningPublicKeys: { k: publicKey } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const described = (await api('GET', '/api/authorizers/Signed')).body.authorizerDescription as Record<string, unknown>;
    assert.deepEqual(described.tokenSigningPublicKeys, { k: publicKey });
    // PATCH with a path is refused too, and the stored key is unchanged.
    const patched = await api('PATCH', '/api/authorizers/Signed', { tokenSigningPublicKeys: { k: '/etc/passwd' } });
    assert.equal(patched.status, 400);
    const again = (await api('GET', '/api/authorizers/Signed')).body.authorizerDescription as Record<string, unknown>;
    assert.deepEqual(again.tokenSigningPublicKeys, { k: publicKey });
  });

  for (const handler of ['/tmp/evil.js', '../x', '../outside/evil', 'a/b', 'allow.js', 'escape', 'missing', '.hidden', '']) {
    test(`a function authorizer with handler ${JSON.stringify(handler)} is refused with 400 and not stored`, async () => {
      const res = await api('POST', '/api/authorizers', { name: 'Evil', type: 'function', handler, signingDisabled: true });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.message), /handler/);
      assert.equal((await api('GET', '/api/authorizers/Evil')).status, 404);
    });

    test(`a rule function action with handler ${JSON.stringify(handler)} is refused with 400 and not stored`, async () => {
      const rule = { name: 'evil', sql: "SELECT * FROM 'evil/#'", actions: [{ function: { handler } }] };
      const res = await api('POST', '/api/rules', rule);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.message), /actions\.0\.function\.handler/);
      assert.equal((await api('GET', '/api/rules/evil')).status, 404);
      const asError = await api('POST', '/api/rules', { name: 'evil', sql: "SELECT * FROM 'evil/#'", errorAction: { function: { handler } } });
      assert.equal(asError.status, 400);
      assert.equal((await api('GET', '/api/rules/evil')).status, 404);
    });
  }

  test('PATCH of an authorizer to a path handler is refused', async () => {
    assert.equal((await api('POST', '/api/authorizers', { name: 'Named2', type: 'function', handler: 'allow', signingDisabled: true })).status, 201);
    assert.equal((await api('PATCH', '/api/authorizers/Named2', { handler: '/tmp/evil.js' })).status, 400);
    const described = (await api('GET', '/api/authorizers/Named2')).body.authorizerDescription as Record<string, unknown>;
    assert.equal(described.handler, 'allow');
  });

  test('PUT of a rule to a path handler is refused', async () => {
    assert.equal((await api('POST', '/api/rules', { name: 'putme', sql: "SELECT * FROM 'put/#'", actions: [{ log: {} }] })).status, 201);
    assert.equal((await api('PUT', '/api/rules/putme', { sql: "SELECT * FROM 'put/#'", actions: [{ function: { handler: '/tmp/evil.js' } }] })).status, 400);
    const rule = (await api('GET', '/api/rules/putme')).body as { actions: unknown[] };
    assert.deepEqual(rule.actions, [{ log: { level: 'info' } }]);
  });

  test('a function authorizer named by a function in functions.dir admits a client', async () => {
    const res = await api('POST', '/api/authorizers', { name: 'Named', type: 'function', handler: 'allow', signingDisabled: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const described = (await api('GET', '/api/authorizers/Named')).body.authorizerDescription as Record<string, unknown>;
    assert.equal(described.handler, 'allow', 'the record keeps the name, so a restart looks it up again');
    const client = await mqtt.connectAsync(`${server.wsUrl}?x-amz-customauthorizer-name=Named`, { clientId: 'named-client', reconnectPeriod: 0, connectTimeout: 5000 });
    const granted = await client.subscribeAsync('any/#', { qos: 0 });
    assert.equal(granted[0]!.qos, 0);
    await client.endAsync();
  });

  test('a rule function action named by a function in functions.dir runs', async () => {
    const res = await api('POST', '/api/rules', { name: 'recorder', sql: "SELECT value FROM 'rec/+'", actions: [{ function: { handler: 'record' } }] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const publish = await fetch(`${server.httpUrl}/topics/rec%2Fa`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ value: 42 }) });
    assert.equal(publish.status, 200, await publish.text());
    const recorded = join(dir, 'recorded.json');
    const deadline = Date.now() + 10_000;
    while (!existsSync(recorded) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(JSON.parse(readFileSync(recorded, 'utf8')), { value: 42 });
  });
});
