// The control plane's pure parts: recognising an AWS IoT operation by its REST shape, and Lambda
// function ARNs naming functions in functions.dir.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsupportedOperations } from '../../src/api/control-plane/unsupported.js';
import { SUPPORTED_OPERATIONS } from '../../src/api/control-plane/index.js';
import { IOT_OPERATIONS } from '../../src/api/control-plane/iot-operations.js';
import { functionArnOf, functionNameOf } from '../../src/api/control-plane/lambda-arn.js';
import { FunctionDirectory } from '../../src/functions/function-directory.js';
import { ApiError } from '../../src/api/errors.js';

describe('UnsupportedOperations', () => {
  const unsupported = new UnsupportedOperations(SUPPORTED_OPERATIONS);

  test('every supported operation is in the model table, and none is ever named unsupported', () => {
    const names = new Set(IOT_OPERATIONS.map(([name]) => name));
    for (const name of SUPPORTED_OPERATIONS) assert.ok(names.has(name), `${name} is not an AWS IoT operation`);
    for (const [name, method, path] of IOT_OPERATIONS) {
      if (!SUPPORTED_OPERATIONS.has(name)) continue;
      const concrete = path.replace(/\{[^}]+\}/g, 'x1');
      assert.equal(unsupported.match(method, concrete), undefined, `${name} ${method} ${concrete}`);
    }
  });

  test('operations are recognised by method and path, the most literal template first', () => {
    const cases: [string, string, string | undefined][] = [
      ['GET', '/things', 'ListThings'],
      ['POST', '/things/thermostat', 'CreateThing'],
      ['GET', '/things/thermostat', 'DescribeThing'],
      ['POST', '/policies/p', 'CreatePolicy'],
      ['PUT', '/target-policies/p', 'AttachPolicy'],
      ['POST', '/keys-and-certificate', 'CreateKeysAndCertificate'],
      ['PUT', '/thing-groups/addThingToThingGroup', 'AddThingToThingGroup'],
      ['GET', '/certificate-providers', 'ListCertificateProviders'],
      ['GET', '/certificate-providers/', 'ListCertificateProviders'],
      ['GET', '/destinations/arn%3Aaws%3Ax/y', 'GetTopicRuleDestination'],
      ['GET', '/not-an-iot-path', undefined],
      ['PATCH', '/things', undefined],
      ['GET', '/api/keys', undefined],
    ];
    for (const [method, path, name] of cases) assert.equal(unsupported.match(method, path), name, `${method} ${path}`);
  });
});

describe('Lambda function ARNs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-arn-'));
  mkdirSync(join(dir, 'functions'));
  writeFileSync(join(dir, 'functions', 'MyAuthorizer.mjs'), 'export const handler = async () => ({});\n');
  const functions = new FunctionDirectory('functions', dir);

  test('name a function in functions.dir whatever the region, account and qualifier', () => {
    for (const arn of [
      'arn:aws:lambda:us-east-1:123456789012:function:MyAuthorizer',
      'arn:aws:lambda:eu-west-1:210987654321:function:MyAuthorizer:prod',
      'arn:aws-cn:lambda:cn-north-1:123456789012:function:MyAuthorizer:$LATEST',
    ]) {
      assert.equal(functionNameOf(arn, 'authorizerFunctionArn', functions), 'MyAuthorizer', arn);
    }
  });

  test('anything else is an InvalidRequestException naming the field (and the function)', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /authorizerFunctionArn is required/],
      ['MyAuthorizer', /must be a Lambda function ARN/],
      ['arn:aws:lambda:us-east-1:1234:function:MyAuthorizer', /must be a Lambda function ARN/],
      ['arn:aws:iot:us-east-1:123456789012:authorizer/MyAuthorizer', /must be a Lambda function ARN/],
      ['arn:aws:lambda:us-east-1:123456789012:function:../../etc/passwd', /must be a Lambda function ARN/],
      ['arn:aws:lambda:us-east-1:123456789012:function:Ghost', /names function Ghost.*no function named Ghost/],
    ];
    for (const [arn, message] of cases) {
      assert.throws(
        () => functionNameOf(arn, 'authorizerFunctionArn', functions),
        (err: unknown) => err instanceof ApiError && err.name === 'InvalidRequestException' && err.statusCode === 400 && message.test(err.message) && err.message.includes('authorizerFunctionArn'),
        String(arn),
      );
    }
  });

  test('a handler is reported as an ARN in the configured region and account', () => {
    const scope = { region: 'eu-central-1', accountId: '111122223333' };
    assert.equal(functionArnOf('MyAuthorizer', scope), 'arn:aws:lambda:eu-central-1:111122223333:function:MyAuthorizer');
    assert.equal(functionArnOf('/srv/authorizers/users.mjs', scope), 'arn:aws:lambda:eu-central-1:111122223333:function:users');
  });
});
