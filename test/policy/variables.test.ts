import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compilePolicies, parsePolicyDocument, type PolicyContext } from '../../src/policy/index.js';
import { contextValues, parseTemplate, resolveToString } from '../../src/policy/variables.js';

const ARN = 'arn:aws:iot:us-east-1:123456789012:';

function allowOn(resource: string, options: { version?: string; not?: boolean } = {}): unknown {
  return {
    Version: options.version ?? '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:*', [options.not === true ? 'NotResource' : 'Resource']: resource }],
  };
}

function decide(document: unknown, context: PolicyContext, resource: string): 'Allow' | 'Deny' {
  const parsed = parsePolicyDocument(document);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
  return compilePolicies([parsed.value], context).evaluate('iot:Publish', ARN + resource).effect;
}

describe('resource variables', () => {
  // [name, resource pattern, context, requested resource, expected]
  const cases: ReadonlyArray<readonly [string, string, PolicyContext, string, 'Allow' | 'Deny']> = [
    ['client id substituted', 'topic/d/${iot:ClientId}', { clientId: 'dev-9' }, 'topic/d/dev-9', 'Allow'],
    ['other client id', 'topic/d/${iot:ClientId}', { clientId: 'dev-9' }, 'topic/d/dev-8', 'Deny'],
    ['key names are case-insensitive', 'topic/d/${IOT:clientid}', { clientId: 'dev-9' }, 'topic/d/dev-9', 'Allow'],
    ['value is literal: client id * is not a wildcard', 'topic/d/${iot:ClientId}/x', { clientId: '*' }, 'topic/d/other/x', 'Deny'],
    ['value is literal: client id * matches itself', 'topic/d/${iot:ClientId}/x', { clientId: '*' }, 'topic/d/*/x', 'Allow'],
    ['value is literal: client id ? is one literal ?', 'topic/d/${iot:ClientId}', { clientId: '?' }, 'topic/d/a', 'Deny'],
    ['wildcard after a variable still works', 'topic/d/${iot:ClientId}/*', { clientId: 'a' }, 'topic/d/a/b/c', 'Allow'],
    ['aws:SourceIp', 'topic/ip/${aws:SourceIp}', { sourceIp: '10.0.0.7' }, 'topic/ip/10.0.0.7', 'Allow'],
    ['aws:SourceIp IPv4-mapped reported as IPv4', 'topic/ip/${aws:SourceIp}', { sourceIp: '::ffff:10.0.0.7' }, 'topic/ip/10.0.0.7', 'Allow'],
    ['iot:DomainName', 'topic/${iot:DomainName}/x', { domainName: 'mqtt.example' }, 'topic/mqtt.example/x', 'Allow'],
    ['extra key from conditionKeys', 'topic/${iot:Custom}', { conditionKeys: { 'iot:custom': 'v' } }, 'topic/v', 'Allow'],
    ['thing name has no value: matches nothing', 'topic/${iot:Connection.Thing.ThingName}', { clientId: 'x' }, 'topic/x', 'Deny'],
    ['thing attribute has no value', 'topic/${iot:Connection.Thing.Attributes[room]}/*', { clientId: 'x' }, 'topic//a', 'Deny'],
    ['certificate variable has no value', 'topic/${iot:Certificate.Subject.CommonName}', {}, 'topic/', 'Deny'],
    ['missing client id has no value', 'topic/${iot:ClientId}', {}, 'topic/', 'Deny'],
    ['multi-valued key is never substituted', 'topic/${iot:ConnectAttributes}', { connectAttributes: ['LastWill'] }, 'topic/LastWill', 'Deny'],
    ['fallback used when no value', "topic/${iot:Connection.Thing.ThingName, 'none'}", {}, 'topic/none', 'Allow'],
    ['fallback not used when value exists', "topic/${iot:ClientId, 'none'}", { clientId: 'c' }, 'topic/c', 'Allow'],
    ['escape ${*} is a literal star', 'topic/${*}', {}, 'topic/*', 'Allow'],
    ['escape ${*} is not a wildcard', 'topic/${*}', {}, 'topic/abc', 'Deny'],
    ['escape ${?} is a literal ?', 'topic/a${?}', {}, 'topic/a?', 'Allow'],
    ['escape ${?} is not a wildcard', 'topic/a${?}', {}, 'topic/ab', 'Deny'],
    ['escape ${$} is a literal $', 'topic/${$}aws/x', {}, 'topic/$aws/x', 'Allow'],
    ['unclosed ${ is literal text', 'topic/${iot:ClientId', { clientId: 'c' }, 'topic/${iot:ClientId', 'Allow'],
  ];
  for (const [name, pattern, context, resource, expected] of cases) {
    test(name, () => assert.equal(decide(allowOn(ARN + pattern), context, resource), expected));
  }

  test('a valueless variable under NotResource excludes nothing', () => {
    const doc = allowOn(ARN + 'topic/${iot:Connection.Thing.ThingName}/*', { not: true });
    assert.equal(decide(doc, { clientId: 'c' }, 'topic/c/x'), 'Allow');
  });

  test('one valueless entry does not disable the other entries', () => {
    const doc = {
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: 'iot:Publish', Resource: [ARN + 'topic/${iot:Certificate.Id}', ARN + 'topic/open'] },
    };
    assert.equal(decide(doc, {}, 'topic/open'), 'Allow');
  });

  test('without Version 2012-10-17 variables are literal text (IAM)', () => {
    const doc = allowOn(ARN + 'topic/${iot:ClientId}', { version: '2008-10-17' });
    assert.equal(decide(doc, { clientId: 'c' }, 'topic/c'), 'Deny');
    assert.equal(decide(doc, { clientId: 'c' }, 'topic/${iot:ClientId}'), 'Allow');
    const noVersion = { Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: ARN + 'topic/${iot:ClientId}' }] };
    assert.equal(decide(noVersion, { clientId: 'c' }, 'topic/c'), 'Deny');
  });

  test('the same parsed document compiles differently per connection', () => {
    const parsed = parsePolicyDocument(allowOn(ARN + 'topic/${iot:ClientId}'));
    assert.ok(parsed.ok);
    const a = compilePolicies([parsed.value], { clientId: 'a' });
    const b = compilePolicies([parsed.value], { clientId: 'b' });
    assert.equal(a.allows('iot:Publish', ARN + 'topic/a'), true);
    assert.equal(a.allows('iot:Publish', ARN + 'topic/b'), false);
    assert.equal(b.allows('iot:Publish', ARN + 'topic/b'), true);
  });
});

describe('parseTemplate / resolveToString', () => {
  const values = contextValues({ clientId: 'c1', conditionKeys: { 'Custom:Key': 'v' } });
  const cases: ReadonlyArray<readonly [string, string | null]> = [
    ['plain', 'plain'],
    ['${iot:ClientId}', 'c1'],
    ['a-${iot:ClientId}-b', 'a-c1-b'],
    ['${custom:key}', 'v'],
    ['${iot:Nope}', null],
    ["${iot:Nope, 'dflt'}", 'dflt'],
    ["${iot:Nope,'dflt'}", 'dflt'],
    ['${*}${?}${$}', '*?$'],
    ['${}', '${}'],
    ['${not a variable}', '${not a variable}'],
    ['$', '$'],
  ];
  for (const [source, expected] of cases) {
    test(`${JSON.stringify(source)} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(resolveToString(parseTemplate(source, true), values), expected);
    });
  }

  test('substitution off keeps the text as written', () => {
    assert.equal(resolveToString(parseTemplate('${iot:ClientId}', false), values), '${iot:ClientId}');
  });

  test('named context fields win over conditionKeys of the same name', () => {
    const v = contextValues({ clientId: 'real', conditionKeys: { 'IOT:CLIENTID': 'spoof' } });
    assert.equal(v.get('iot:clientid'), 'real');
  });
});
