// The auth commands of the CLI, run as a child process: `switchboard policy check` (Allow/Deny,
// the deciding statement, exit 0/3) and `switchboard test-invoke-authorizer`, which prints what
// AWS's TestInvokeAuthorizer prints (AWS CLI JSON, 4-space indent; policyDocuments as JSON
// strings; reference §1.8), both locally (--config FILE) and against a running node (--endpoint).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { allow, arn, deny, doc, removeTempFiles, runCli, tempFile } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';

installCleanup();
after(removeTempFiles);

const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'switchboard.yaml');

/** The documents examples/authorizers/unauthenticated.js answers with (the policy). */
const UNAUTHENTICATED_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/*' },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: ['arn:aws:iot:us-east-1:123456789012:client/*', 'arn:aws:iot:us-east-1:123456789012:topicfilter/server'],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Publish',
      Resource: ['arn:aws:iot:us-east-1:123456789012:client/*', 'arn:aws:iot:us-east-1:123456789012:topic/client'],
    },
  ],
};

/** Checks stdout against TestInvokeAuthorizer's output for the Unauthenticated example. */
function assertTestInvokeOutput(stdout: string) {
  const out = JSON.parse(stdout) as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(out),
    ['isAuthenticated', 'principalId', 'policyDocuments', 'refreshAfterInSeconds', 'disconnectAfterInSeconds'],
    'the fields of TestInvokeAuthorizer, in its order',
  );
  assert.equal(stdout, JSON.stringify(out, null, 4) + '\n', 'AWS CLI JSON: 4-space indent, one trailing newline');
  assert.equal(out.isAuthenticated, true);
  assert.equal(out.principalId, 'Unauthenticated');
  assert.equal(out.refreshAfterInSeconds, 300);
  assert.equal(out.disconnectAfterInSeconds, 3600);
  const docs = out.policyDocuments as unknown[];
  assert.equal(docs.length, 1);
  assert.equal(typeof docs[0], 'string', 'policy documents are JSON strings, as AWS returns them');
  assert.deepEqual(JSON.parse(docs[0] as string), UNAUTHENTICATED_POLICY);
}

describe('switchboard policy check', () => {
  let policyFile = '';
  before(() => {
    policyFile = tempFile(
      'policy.json',
      JSON.stringify(
        doc(
          { Sid: 'ConnectOwnId', Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/${iot:ClientId}') },
          { Sid: 'PublishAnything', Effect: 'Allow', Action: 'iot:Publish', Resource: arn('topic/*') },
          { Sid: 'NoAdmin', Effect: 'Deny', Action: 'iot:Publish', Resource: arn('topic/admin/*') },
          { Sid: 'OwnFilters', Effect: 'Allow', Action: 'iot:Subscribe', Resource: arn('topicfilter/devices/${iot:ClientId}/*') },
        ),
        null,
        2,
      ),
    );
  });

  test('Allow: prints Allow and the deciding statement, exit 0', async () => {
    const r = await runCli(['policy', 'check', '--policy', policyFile, '--action', 'iot:Publish', '--resource', 'topic/x']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Allow\b/);
    assert.match(r.stdout, /PublishAnything/, 'names the statement that decided');
    assert.match(r.stdout, /arn:aws:iot:us-east-1:123456789012:topic\/x/, 'shows the full resource ARN');
  });

  test('explicit Deny: prints Deny and the Deny statement, exit 3', async () => {
    const r = await runCli(['policy', 'check', '--policy', policyFile, '--action', 'iot:Publish', '--resource', 'topic/admin/reboot']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^Deny\b/);
    assert.match(r.stdout, /NoAdmin/);
    assert.match(r.stdout, /explicit/i);
  });

  test('implicit Deny: no statement allows it, exit 3', async () => {
    const r = await runCli(['policy', 'check', '--policy', policyFile, '--action', 'iot:Receive', '--resource', 'topic/x']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^Deny\b/);
    assert.match(r.stdout, /implicit/i);
  });

  test('--client-id fills ${iot:ClientId}', async () => {
    const allowed = await runCli(['policy', 'check', '--policy', policyFile, '--action', 'iot:Connect', '--resource', 'client/dev-1', '--client-id', 'dev-1']);
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /ConnectOwnId/);
    const other = await runCli(['policy', 'check', '--policy', policyFile, '--action', 'iot:Connect', '--resource', 'client/dev-2', '--client-id', 'dev-1']);
    assert.equal(other.code, 3);
    const filter = await runCli([
      'policy', 'check', '--policy', policyFile, '--action', 'iot:Subscribe', '--resource', 'topicfilter/devices/dev-1/#', '--client-id', 'dev-1',
    ]);
    assert.equal(filter.code, 0, filter.stdout);
    assert.match(filter.stdout, /OwnFilters/);
  });

  test('the issue\'s policy: Publish topic/client allowed, topic/server denied; Subscribe topicfilter/server allowed, # denied', async () => {
    const file = tempFile('unauthenticated.json', JSON.stringify(UNAUTHENTICATED_POLICY));
    const check = (action: string, resource: string) =>
      runCli(['policy', 'check', '--policy', file, '--action', action, '--resource', resource, '--client-id', 'client-1']);
    assert.equal((await check('iot:Connect', 'client/client-1')).code, 0);
    assert.equal((await check('iot:Publish', 'topic/client')).code, 0);
    assert.equal((await check('iot:Publish', 'topic/server')).code, 3);
    assert.equal((await check('iot:Subscribe', 'topicfilter/server')).code, 0);
    assert.equal((await check('iot:Subscribe', 'topicfilter/#')).code, 3);
    assert.equal((await check('iot:Subscribe', 'topicfilter/client')).code, 3);
  });

  test('a full ARN as --resource, and several documents in one file', async () => {
    const file = tempFile('docs.json', JSON.stringify([doc(allow('iot:Publish', arn('topic/a'))), doc(deny('iot:Publish', arn('topic/a')))]));
    const r = await runCli(['policy', 'check', '--policy', file, '--action', 'iot:Publish', '--resource', `${arn('topic/a')[0]}`]);
    assert.equal(r.code, 3, 'a Deny in any document wins');
    assert.match(r.stdout, /document 1/);
  });

  test('--connect-attribute (repeatable) sets iot:ConnectAttributes for conditions', async () => {
    // Persistent sessions only, and never with a will (AWS's iot:ConnectAttributes examples).
    const file = tempFile('connect-attributes.json', JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/*'), Condition: { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] } } },
        { Sid: 'NoWill', Effect: 'Deny', Action: 'iot:Connect', Resource: arn('client/*'), Condition: { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] } } },
      ],
    }));
    const check = (...attributes: string[]) =>
      runCli(['policy', 'check', '--policy', file, '--action', 'iot:Connect', '--resource', 'client/d1', ...attributes.flatMap((a) => ['--connect-attribute', a])]);
    const none = await check();
    assert.equal(none.code, 3, `no attributes: a clean connection is not allowed\n${none.stdout}${none.stderr}`);
    const persistent = await check('PersistentConnect');
    assert.equal(persistent.code, 0, persistent.stdout + persistent.stderr);
    assert.match(persistent.stdout, /^Allow/);
    const withWill = await check('PersistentConnect', 'LastWill');
    assert.equal(withWill.code, 3, withWill.stdout + withWill.stderr);
    assert.match(withWill.stdout, /NoWill/);
    const bogus = await check('Persistent');
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /--connect-attribute Persistent is not one of PersistentConnect, LastWill/);
  });

  test('an invalid policy or missing flags exit 2 with a message', async () => {
    const bad = tempFile('bad.json', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'iot:*', Resource: '*' }] }));
    const r = await runCli(['policy', 'check', '--policy', bad, '--action', 'iot:Publish', '--resource', 'topic/x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid policy/i);
    const missing = await runCli(['policy', 'check', '--policy', bad]);
    assert.equal(missing.code, 2);
  });
});

describe('switchboard test-invoke-authorizer', () => {
  test('--config FILE: runs the handler locally and prints TestInvokeAuthorizer\'s output', async () => {
    const r = await runCli(['test-invoke-authorizer', '--config', EXAMPLE_CONFIG, '--authorizer-name', 'Unauthenticated', '--http-context', '{}']);
    assert.equal(r.code, 0, r.stderr);
    assertTestInvokeOutput(r.stdout);
  });

  test('--config FILE with an unknown authorizer fails with ResourceNotFoundException', async () => {
    const r = await runCli(['test-invoke-authorizer', '--config', EXAMPLE_CONFIG, '--authorizer-name', 'Nope', '--http-context', '{}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ResourceNotFoundException/);
    assert.equal(r.stdout, '');
  });

  test('invalid --http-context JSON fails naming the flag', async () => {
    const r = await runCli(['test-invoke-authorizer', '--config', EXAMPLE_CONFIG, '--authorizer-name', 'Unauthenticated', '--http-context', '{oops']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /http-context/);
  });

  describe('--endpoint: against a running node', () => {
    let server: TestServer | undefined;
    before(async () => {
      server = await startServer({ configFile: EXAMPLE_CONFIG });
    });

    test('prints the same output as the local run', async () => {
      const r = await runCli([
        'test-invoke-authorizer', '--endpoint', server!.httpUrl, '--authorizer-name', 'Unauthenticated', '--http-context', '{}',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assertTestInvokeOutput(r.stdout);
      const local = await runCli(['test-invoke-authorizer', '--config', EXAMPLE_CONFIG, '--authorizer-name', 'Unauthenticated', '--http-context', '{}']);
      assert.equal(r.stdout, local.stdout);
    });

    test('with --mqtt-context and --token as well', async () => {
      const r = await runCli([
        'test-invoke-authorizer', '--endpoint', server!.httpUrl, '--authorizer-name', 'Unauthenticated',
        '--token', 'abc', '--mqtt-context', JSON.stringify({ username: 'u', password: Buffer.from('p').toString('base64'), clientId: 'client-1' }),
        '--tls-context', JSON.stringify({ serverName: 'localhost' }),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assertTestInvokeOutput(r.stdout);
    });

    test('an unknown authorizer: ResourceNotFoundException, non-zero exit', async () => {
      const r = await runCli(['test-invoke-authorizer', '--endpoint', server!.httpUrl, '--authorizer-name', 'Nope', '--http-context', '{}']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ResourceNotFoundException/);
    });

    test('an unreachable endpoint fails with a message, bounded', async () => {
      const r = await runCli(['test-invoke-authorizer', '--endpoint', 'http://127.0.0.1:1', '--authorizer-name', 'Unauthenticated', '--http-context', '{}']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /cannot reach/);
    });
  });
});
