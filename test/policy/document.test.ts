import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  checkPolicyDocumentSize,
  parsePolicyDocument,
  parsePolicyDocuments,
  policyDocumentSize,
  POLICY_DOCUMENT_MAX_SIZE,
  POLICY_ERROR_SUMMARIES,
  type PolicyErrorCode,
} from '../../src/policy/index.js';

const TOPIC = 'arn:aws:iot:us-east-1:123456789012:topic/a';
const good = { Effect: 'Allow', Action: 'iot:Publish', Resource: TOPIC };

function doc(statement: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Version: '2012-10-17', Statement: statement, ...extra };
}

describe('valid documents', () => {
  test('normalizes strings to lists and Statement object to a list', () => {
    const parsed = parsePolicyDocument(doc({ ...good, Sid: 'One' }, { Id: 'p1' }));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, {
      version: '2012-10-17',
      id: 'p1',
      statements: [
        { sid: 'One', effect: 'Allow', actions: ['iot:Publish'], notAction: false, resources: [TOPIC], notResource: false, conditions: [] },
      ],
    });
  });

  test('accepts a JSON string', () => {
    const parsed = parsePolicyDocument(JSON.stringify(doc([good, { ...good, Effect: 'Deny' }]), null, 2));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.statements.length, 2);
  });

  test('NotAction and NotResource', () => {
    const parsed = parsePolicyDocument(doc({ Effect: 'Deny', NotAction: ['iot:Receive'], NotResource: TOPIC }));
    assert.ok(parsed.ok);
    const [s] = parsed.value.statements;
    assert.ok(s !== undefined && s.notAction && s.notResource);
  });

  test('no Version means the 2008-10-17 language', () => {
    const parsed = parsePolicyDocument({ Statement: good });
    assert.ok(parsed.ok);
    assert.equal(parsed.value.version, '2008-10-17');
  });

  test('condition values: numbers and booleans become strings, empty lists are kept', () => {
    const parsed = parsePolicyDocument(
      doc({ ...good, Condition: { NumericLessThan: { 'x:n': 5 }, Bool: { 'x:b': true }, 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': [] } } }),
    );
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.value.statements[0]?.conditions.map((c) => [c.operator.name, c.key, c.values]),
      [
        ['NumericLessThan', 'x:n', ['5']],
        ['Bool', 'x:b', ['true']],
        ['ForAllValues:StringEquals', 'iot:ConnectAttributes', []],
      ],
    );
  });

  for (const action of ['*', 'iot:*', 'iot:Pub*', 'IOT:publish', 'iot:?eceive', 'greengrass:*']) {
    test(`action ${action} is valid`, () => assert.ok(parsePolicyDocument(doc({ ...good, Action: action })).ok));
  }
  test('an empty Statement list is valid and grants nothing', () => {
    assert.ok(parsePolicyDocument(doc([])).ok);
  });
});

describe('invalid documents', () => {
  // [name, input, code, path]
  const cases: ReadonlyArray<readonly [string, unknown, PolicyErrorCode, string]> = [
    ['broken JSON', '{"Version": ', 'POLICY_INVALID_JSON', ''],
    ['JSON array', '[]', 'POLICY_NOT_AN_OBJECT', ''],
    ['null', null, 'POLICY_NOT_AN_OBJECT', ''],
    ['number', 42, 'POLICY_NOT_AN_OBJECT', ''],
    ['bad Version', doc(good, { Version: '2012-10-18' }), 'POLICY_INVALID_VERSION', 'Version'],
    ['numeric Version', doc(good, { Version: 2012 }), 'POLICY_INVALID_VERSION', 'Version'],
    ['no Statement', { Version: '2012-10-17' }, 'POLICY_MISSING_STATEMENT', 'Statement'],
    ['Statement a string', doc('Allow all'), 'POLICY_INVALID_STATEMENT', 'Statement'],
    ['statement not an object', doc([good, 'x']), 'POLICY_INVALID_STATEMENT', 'Statement[1]'],
    ['unknown top-level element', doc(good, { Statements: [] }), 'POLICY_UNKNOWN_ELEMENT', 'Statements'],
    ['unknown statement element', doc([{ ...good, Actions: 'iot:*' }]), 'POLICY_UNKNOWN_ELEMENT', 'Statement[0].Actions'],
    ['Principal', doc([{ ...good, Principal: '*' }]), 'POLICY_UNSUPPORTED_ELEMENT', 'Statement[0].Principal'],
    ['Sid a number', doc([{ ...good, Sid: 1 }]), 'POLICY_INVALID_SID', 'Statement[0].Sid'],
    ['Effect lower case', doc([{ ...good, Effect: 'allow' }]), 'POLICY_INVALID_EFFECT', 'Statement[0].Effect'],
    ['Effect missing', doc([{ Action: 'iot:*', Resource: '*' }]), 'POLICY_INVALID_EFFECT', 'Statement[0].Effect'],
    ['no Action', doc([{ Effect: 'Allow', Resource: '*' }]), 'POLICY_MISSING_ACTION', 'Statement[0]'],
    ['Action and NotAction', doc([{ ...good, NotAction: 'iot:Receive' }]), 'POLICY_CONFLICTING_ELEMENTS', 'Statement[0]'],
    ['empty Action list', doc([{ ...good, Action: [] }]), 'POLICY_INVALID_ACTION', 'Statement[0].Action'],
    ['Action not a string', doc([{ ...good, Action: ['iot:Publish', 7] }]), 'POLICY_INVALID_ACTION', 'Statement[0].Action[1]'],
    ['Action without service', doc([{ ...good, Action: 'Publish' }]), 'POLICY_INVALID_ACTION', 'Statement[0].Action[0]'],
    ['Action with empty name', doc([{ ...good, Action: 'iot:' }]), 'POLICY_INVALID_ACTION', 'Statement[0].Action[0]'],
    ['Action with a space', doc([{ ...good, Action: 'iot:Pub lish' }]), 'POLICY_INVALID_ACTION', 'Statement[0].Action[0]'],
    ['no Resource', doc([{ Effect: 'Allow', Action: 'iot:*' }]), 'POLICY_MISSING_RESOURCE', 'Statement[0]'],
    ['Resource and NotResource', doc([{ ...good, NotResource: '*' }]), 'POLICY_CONFLICTING_ELEMENTS', 'Statement[0]'],
    ['Resource not an ARN', doc([{ ...good, Resource: 'topic/a' }]), 'POLICY_INVALID_RESOURCE', 'Statement[0].Resource[0]'],
    ['Resource an object', doc([{ ...good, Resource: { arn: TOPIC } }]), 'POLICY_INVALID_RESOURCE', 'Statement[0].Resource'],
    ['empty NotResource list', doc([{ Effect: 'Allow', Action: 'iot:*', NotResource: [] }]), 'POLICY_INVALID_RESOURCE', 'Statement[0].NotResource'],
    ['Condition an array', doc([{ ...good, Condition: [] }]), 'POLICY_INVALID_CONDITION', 'Statement[0].Condition'],
    ['unknown operator', doc([{ ...good, Condition: { StringEqual: { 'iot:ClientId': 'a' } } }]), 'POLICY_UNKNOWN_CONDITION_OPERATOR', 'Statement[0].Condition.StringEqual'],
    ['unsupported operator', doc([{ ...good, Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } }]), 'POLICY_UNSUPPORTED_CONDITION_OPERATOR', 'Statement[0].Condition.DateLessThan'],
    ['operator block not an object', doc([{ ...good, Condition: { StringEquals: 'a' } }]), 'POLICY_INVALID_CONDITION', 'Statement[0].Condition.StringEquals'],
    ['value an object', doc([{ ...good, Condition: { StringEquals: { 'iot:ClientId': { a: 1 } } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.StringEquals.iot:ClientId'],
    ['value null in a list', doc([{ ...good, Condition: { StringEquals: { 'iot:ClientId': ['a', null] } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.StringEquals.iot:ClientId[1]'],
    ['bad CIDR', doc([{ ...good, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/40' } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.IpAddress.aws:SourceIp'],
    ['variable in IpAddress', doc([{ ...good, Condition: { IpAddress: { 'aws:SourceIp': '${aws:SourceIp}' } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.IpAddress.aws:SourceIp'],
    ['bad number', doc([{ ...good, Condition: { NumericEquals: { 'x:n': 'five' } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.NumericEquals.x:n'],
    ['bad Bool', doc([{ ...good, Condition: { Bool: { 'x:b': 'yes' } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.Bool.x:b'],
    ['bad Null', doc([{ ...good, Condition: { Null: { 'x:b': 1 } } }]), 'POLICY_INVALID_CONDITION_VALUE', 'Statement[0].Condition.Null.x:b'],
    ['single Statement object path', doc({ ...good, Effect: 'Permit' }), 'POLICY_INVALID_EFFECT', 'Statement.Effect'],
  ];
  for (const [name, input, code, path] of cases) {
    test(`${name} -> ${code}`, () => {
      const parsed = parsePolicyDocument(input);
      assert.ok(!parsed.ok, 'expected a validation error');
      assert.equal(parsed.error.code, code, parsed.error.message);
      assert.equal(parsed.error.path, path);
      assert.ok(parsed.error.message.includes(POLICY_ERROR_SUMMARIES[code]), parsed.error.message);
      if (path !== '') assert.ok(parsed.error.message.startsWith(`${path}: `), parsed.error.message);
    });
  }

  test('the message names what was found', () => {
    const parsed = parsePolicyDocument(doc([{ ...good, Effect: 'allow' }]));
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.message, 'Statement[0].Effect: Effect must be "Allow" or "Deny": got "allow"');
  });

  test('parsePolicyDocuments names the document that failed', () => {
    const parsed = parsePolicyDocuments([doc(good), doc(good), doc({ ...good, Effect: 'Maybe' })]);
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.documentIndex, 2);
    assert.match(parsed.error.message, /^policy document 2: Statement\.Effect: /);
  });

  test('parsePolicyDocuments returns all documents in order', () => {
    const parsed = parsePolicyDocuments([doc(good), JSON.stringify(doc({ ...good, Sid: 'second' }))]);
    assert.ok(parsed.ok);
    assert.equal(parsed.value[1]?.statements[0]?.sid, 'second');
  });
});

describe('size limit', () => {
  const big = doc([{ ...good, Resource: `${TOPIC}/${'x'.repeat(2100)}` }]);

  test('not applied unless asked', () => {
    assert.ok(parsePolicyDocument(big).ok);
  });

  test('applied when asked, as a value', () => {
    const parsed = parsePolicyDocument(big, { maxSize: POLICY_DOCUMENT_MAX_SIZE });
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.code, 'POLICY_TOO_LARGE');
    assert.match(parsed.error.message, /limit 2048/);
  });

  test('whitespace between JSON tokens does not count, whitespace inside strings does', () => {
    const compact = JSON.stringify(doc({ ...good, Sid: 'a b' }));
    const pretty = JSON.stringify(doc({ ...good, Sid: 'a b' }), null, 4);
    assert.equal(policyDocumentSize(pretty), compact.length);
    assert.equal(policyDocumentSize(doc({ ...good, Sid: 'a b' })), compact.length);
    assert.equal(policyDocumentSize('{"a": "x\\" y"}'), '{"a":"x\\" y"}'.length);
  });

  test('checkPolicyDocumentSize', () => {
    const exact = '{"Statement":[]}';
    assert.equal(checkPolicyDocumentSize(exact, exact.length), null);
    assert.equal(checkPolicyDocumentSize(exact, exact.length - 1)?.code, 'POLICY_TOO_LARGE');
    assert.equal(checkPolicyDocumentSize(big)?.code, 'POLICY_TOO_LARGE');
  });
});
