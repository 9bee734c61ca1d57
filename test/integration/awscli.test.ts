// Debian's AWS CLI (`awscli`, scripts/install-test-deps.sh) against a running Switchboard, with
// --endpoint-url and a key from `switchboard keys create --admin`: `aws iot create-authorizer`,
// `aws iot test-invoke-authorizer`, `aws iot create-topic-rule`, then `aws iot-data publish` of a
// message the new rule republishes to an MQTT subscriber. Skipped, saying so, when `aws` is absent.
// boto3's client('iot') (the same botocore) once more, when python3 can import boto3.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';

after(stopAllServers);

/** IT_AWS_CLI (another CLI build, e.g. v1 from pip), else Debian's /usr/bin/aws, else `aws` on PATH. */
function findAws(): string | undefined {
  if (process.env.IT_AWS_CLI) return process.env.IT_AWS_CLI;
  if (existsSync('/usr/bin/aws')) return '/usr/bin/aws';
  try {
    return execFileSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const AWS = findAws();
const TOKEN = 'awscli-admin-token-0123456789abcdef';
const ACCOUNT = '123456789012';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('AWS CLI against Switchboard', { skip: AWS === undefined ? 'the AWS CLI (`aws`) is not installed: apt-get install awscli (scripts/install-test-deps.sh)' : false, timeout: 180_000 }, () => {
  let server: TestServer;
  let home: string;
  let version2 = false;
  let key: { accessKeyId: string; secretAccessKey: string };

  /** Runs `aws ARGS` with only this test's credentials and config (a private HOME, no profile files). */
  const aws = (args: string[], credentials = key): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        AWS!,
        [...args, '--endpoint-url', server.httpUrl, '--output', 'json'],
        {
          timeout: 60_000,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: home,
            AWS_CONFIG_FILE: join(home, 'no-config'),
            AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
            AWS_ACCESS_KEY_ID: credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
            AWS_DEFAULT_REGION: 'us-east-1',
            AWS_EC2_METADATA_DISABLED: 'true',
            AWS_PAGER: '',
            AWS_MAX_ATTEMPTS: '1',
          },
        },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
      );
    });

  const ok = async (args: string[]): Promise<unknown> => {
    const run = await aws(args);
    assert.equal(run.code, 0, `aws ${args.join(' ')} failed: ${run.stderr}`);
    return run.stdout.trim() === '' ? undefined : JSON.parse(run.stdout);
  };

  /** `switchboard keys create` through the project's own CLI (the admin API with the token). */
  const createKey = (extra: string[]): { accessKeyId: string; secretAccessKey: string } =>
    JSON.parse(execFileSync(process.execPath, ['bin/switchboard.js', 'keys', 'create', ...extra, '--endpoint', server.httpUrl, '--token', TOKEN], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 }));

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'switchboard-awscli-'));
    const functions = join(home, 'functions');
    mkdirSync(functions);
    writeFileSync(
      join(functions, 'MyAuthorizer.mjs'),
      `export const handler = async (event) => ({
        isAuthenticated: event.token === 'allow-me',
        principalId: 'cliUser',
        disconnectAfterInSeconds: 3600,
        refreshAfterInSeconds: 300,
        policyDocuments: [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:us-east-1:${ACCOUNT}:topic/cli/*' }] })],
      });\n`,
    );
    version2 = execFileSync(AWS!, ['--version'], { encoding: 'utf8' }).startsWith('aws-cli/2');
    server = await startServer({ args: ['--set', `functions.dir=${functions}`, '--set', `admin.token=${TOKEN}`] });
    // One admin key whose policy also lets it publish on the data plane.
    const policy = join(home, 'policy.json');
    writeFileSync(policy, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iot:Publish'], Resource: `arn:aws:iot:us-east-1:${ACCOUNT}:topic/*` }] }));
    key = createKey(['--admin', '--policy', policy, '--description', 'aws cli']);
  });

  test('aws iot create-authorizer and test-invoke-authorizer run the function in functions.dir', async () => {
    const created = (await ok([
      'iot',
      'create-authorizer',
      '--authorizer-name',
      'MyAuthorizer',
      '--authorizer-function-arn',
      `arn:aws:lambda:us-east-1:${ACCOUNT}:function:MyAuthorizer`,
      '--signing-disabled',
      '--status',
      'ACTIVE',
    ])) as { authorizerName: string; authorizerArn: string };
    assert.deepEqual(created, { authorizerName: 'MyAuthorizer', authorizerArn: `arn:aws:iot:us-east-1:${ACCOUNT}:authorizer/MyAuthorizer` });

    const invoked = (await ok(['iot', 'test-invoke-authorizer', '--authorizer-name', 'MyAuthorizer', '--token', 'allow-me'])) as {
      isAuthenticated: boolean;
      principalId: string;
      policyDocuments: string[];
    };
    assert.equal(invoked.isAuthenticated, true);
    assert.equal(invoked.principalId, 'cliUser');
    assert.deepEqual(JSON.parse(invoked.policyDocuments[0]!).Statement[0].Resource, `arn:aws:iot:us-east-1:${ACCOUNT}:topic/cli/*`);

    const described = (await ok(['iot', 'describe-authorizer', '--authorizer-name', 'MyAuthorizer'])) as { authorizerDescription: { authorizerFunctionArn: string } };
    assert.equal(described.authorizerDescription.authorizerFunctionArn, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:MyAuthorizer`);
    const listed = (await ok(['iot', 'list-authorizers'])) as { authorizers: { authorizerName: string }[] };
    assert.deepEqual(listed.authorizers.map((a) => a.authorizerName), ['MyAuthorizer']);

    const unknown = await aws(['iot', 'create-authorizer', '--authorizer-name', 'Ghost', '--authorizer-function-arn', `arn:aws:lambda:us-east-1:${ACCOUNT}:function:Ghost`, '--signing-disabled']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /\(InvalidRequestException\) when calling the CreateAuthorizer operation(?: \(reached max retries: \d+\))?: .*Ghost/);
  });

  test('aws iot create-topic-rule makes a rule that republishes what aws iot-data publish sends', async () => {
    const payload = {
      sql: "SELECT temperature FROM 'cli/+/data' WHERE temperature > 50",
      awsIotSqlVersion: '2016-03-23',
      ruleDisabled: false,
      actions: [{ republish: { roleArn: `arn:aws:iam::${ACCOUNT}:role/republisher`, topic: 'cli-alerts/${topic(2)}', qos: 1 } }],
    };
    assert.equal(await ok(['iot', 'create-topic-rule', '--rule-name', 'cli_hot', '--topic-rule-payload', JSON.stringify(payload)]), undefined);
    const rule = (await ok(['iot', 'get-topic-rule', '--rule-name', 'cli_hot'])) as { rule: { sql: string; actions: unknown[] } };
    assert.equal(rule.rule.sql, payload.sql);
    assert.deepEqual(rule.rule.actions, payload.actions);

    const sub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'cli-alerts', reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync('cli-alerts/#', { qos: 1 });
      const got = new Promise<{ topic: string; payload: string }>((resolve) => sub.once('message', (topic, p) => resolve({ topic, payload: p.toString() })));
      // CLI v2 reads blob arguments as base64 unless told otherwise; v1 sends them as given.
      const binary = version2 ? ['--cli-binary-format', 'raw-in-base64-out'] : [];
      await ok(['iot-data', 'publish', '--topic', 'cli/boiler/data', '--qos', '1', '--payload', JSON.stringify({ temperature: 90 }), ...binary]);
      assert.deepEqual(await got, { topic: 'cli-alerts/boiler', payload: JSON.stringify({ temperature: 90 }) });
    } finally {
      await sub.endAsync();
    }
  });

  test('an unsupported operation is named in the error; a non-admin key is refused', async () => {
    const things = await aws(['iot', 'list-things']);
    assert.notEqual(things.code, 0);
    assert.match(things.stderr, /\(UnsupportedOperationException\) when calling the ListThings operation(?: \(reached max retries: \d+\))?: ListThings is an AWS IoT operation that Switchboard does not support/);
    const policy = join(home, 'publish-only.json');
    writeFileSync(policy, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] }));
    const plain = createKey(['--policy', policy]);
    const refused = await aws(['iot', 'list-authorizers'], plain);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /\(UnauthorizedException\) when calling the ListAuthorizers operation(?: \(reached max retries: \d+\))?: .*not an admin key/);
  });
});

/** Why boto3 cannot run here, or false when it can. */
function boto3Unavailable(): string | false {
  try {
    execFileSync('python3', ['-c', 'import boto3'], { stdio: 'ignore', timeout: 30_000 });
    return false;
  } catch {
    return 'python3 with boto3 is not installed';
  }
}

describe("boto3 client('iot') against Switchboard", { skip: boto3Unavailable(), timeout: 120_000 }, () => {
  test('create_authorizer, list_authorizers, create_topic_rule, get_topic_rule; list_things is named unsupported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-boto3-'));
    mkdirSync(join(dir, 'functions'));
    writeFileSync(join(dir, 'functions', 'Auth.mjs'), 'export const handler = async () => ({ isAuthenticated: true, principalId: "p", policyDocuments: [] });\n');
    const server = await startServer({ args: ['--set', `functions.dir=${join(dir, 'functions')}`] });
    const r = await fetch(`${server.httpUrl}/api/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ admin: true }) });
    assert.equal(r.status, 201);
    const key = (await r.json()) as { accessKeyId: string; secretAccessKey: string };
    const script = [
      'import json, sys, boto3, botocore.exceptions',
      `iot = boto3.client('iot', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])`,
      `a = iot.create_authorizer(authorizerName='Auth', authorizerFunctionArn='arn:aws:lambda:us-east-1:${ACCOUNT}:function:Auth', signingDisabled=True)`,
      `names = [x['authorizerName'] for x in iot.list_authorizers()['authorizers']]`,
      `iot.create_topic_rule(ruleName='r1', topicRulePayload={'sql': "SELECT * FROM 'a/b'", 'actions': [{'republish': {'roleArn': 'arn:aws:iam::${ACCOUNT}:role/r', 'topic': 'c'}}]})`,
      `rule = iot.get_topic_rule(ruleName='r1')['rule']`,
      'try:',
      '    iot.list_things()',
      '    unsupported = None',
      'except botocore.exceptions.ClientError as e:',
      "    unsupported = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]",
      "print(json.dumps({'arn': a['authorizerArn'], 'names': names, 'topic': rule['actions'][0]['republish']['topic'], 'version': rule['awsIotSqlVersion'], 'unsupported': unsupported}))",
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'python3',
        ['-c', script, server.httpUrl, key.accessKeyId, key.secretAccessKey],
        { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true', AWS_MAX_ATTEMPTS: '1' } },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    assert.deepEqual(JSON.parse(out), {
      arn: `arn:aws:iot:us-east-1:${ACCOUNT}:authorizer/Auth`,
      names: ['Auth'],
      topic: 'c',
      version: '2015-10-08',
      unsupported: ['UnsupportedOperationException', 501],
    });
    await server.stop();
  });
});
