import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compilePolicies, parseConditionOperator, parsePolicyDocument, type PolicyContext } from '../../src/policy/index.js';
import { cidrContains, parseCidr, parseIpAddress } from '../../src/policy/ip-address.js';

const RESOURCE = 'arn:aws:iot:us-east-1:123456789012:client/c1';

/** Whether an Allow statement with this Condition block applies to a connection with this context. */
function holds(condition: Record<string, unknown>, context: PolicyContext): boolean {
  const parsed = parsePolicyDocument({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: condition }],
  });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
  return compilePolicies([parsed.value], context).allows('iot:Connect', RESOURCE);
}

type Case = readonly [name: string, condition: Record<string, unknown>, context: PolicyContext, expected: boolean];

const c1: PolicyContext = { clientId: 'c1', sourceIp: '10.20.31.4', domainName: 'mqtt.acme.example' };

const cases: readonly Case[] = [
  // String operators
  ['StringEquals match', { StringEquals: { 'iot:ClientId': 'c1' } }, c1, true],
  ['StringEquals is case-sensitive', { StringEquals: { 'iot:ClientId': 'C1' } }, c1, false],
  ['StringEquals values are ORed', { StringEquals: { 'iot:ClientId': ['x', 'c1'] } }, c1, true],
  ['StringEquals key name is case-insensitive', { StringEquals: { 'IOT:CLIENTID': 'c1' } }, c1, true],
  ['StringEquals * is not a wildcard', { StringEquals: { 'iot:ClientId': 'c*' } }, c1, false],
  ['StringEquals missing key is false', { StringEquals: { 'iot:DomainName': 'x' } }, { clientId: 'c1' }, false],
  ['StringNotEquals differing', { StringNotEquals: { 'iot:ClientId': 'c2' } }, c1, true],
  ['StringNotEquals equal', { StringNotEquals: { 'iot:ClientId': 'c1' } }, c1, false],
  ['StringNotEquals values are NORed', { StringNotEquals: { 'iot:ClientId': ['c2', 'c1'] } }, c1, false],
  ['StringNotEquals missing key is true', { StringNotEquals: { 'iot:DomainName': 'x' } }, { clientId: 'c1' }, true],
  ['StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { 'iot:DomainName': 'MQTT.Acme.Example' } }, c1, true],
  ['StringEqualsIgnoreCase mismatch', { StringEqualsIgnoreCase: { 'iot:DomainName': 'other.example' } }, c1, false],
  ['StringNotEqualsIgnoreCase same but case', { StringNotEqualsIgnoreCase: { 'iot:DomainName': 'MQTT.ACME.EXAMPLE' } }, c1, false],
  ['StringNotEqualsIgnoreCase differing', { StringNotEqualsIgnoreCase: { 'iot:DomainName': 'x.example' } }, c1, true],
  ['StringLike *', { StringLike: { 'iot:DomainName': '*.acme.example' } }, c1, true],
  ['StringLike ?', { StringLike: { 'iot:ClientId': 'c?' } }, c1, true],
  ['StringLike ? needs one char', { StringLike: { 'iot:ClientId': 'c??' } }, c1, false],
  ['StringLike is case-sensitive', { StringLike: { 'iot:DomainName': '*.ACME.example' } }, c1, false],
  ['StringNotLike matching', { StringNotLike: { 'iot:ClientId': 'c*' } }, c1, false],
  ['StringNotLike not matching', { StringNotLike: { 'iot:ClientId': 'admin-*' } }, c1, true],
  ['StringNotLike missing key is true', { StringNotLike: { 'iot:DomainName': '*' } }, { clientId: 'c1' }, true],
  // Variables in condition values
  ['StringEquals with a variable', { StringEquals: { 'iot:DomainName': '${iot:ClientId}.example' } }, { clientId: 'c1', domainName: 'c1.example' }, true],
  ['StringLike with a variable (value literal)', { StringLike: { 'iot:DomainName': '${iot:ClientId}*' } }, { clientId: 'c*', domainName: 'cX' }, false],
  ['StringLike with a variable and wildcard', { StringLike: { 'iot:DomainName': '${iot:ClientId}.*' } }, { clientId: 'c1', domainName: 'c1.example' }, true],
  ['valueless variable never equals', { StringEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }, c1, false],
  ['valueless variable: NotEquals holds', { StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }, c1, true],
  ['escape in StringLike value is literal', { StringLike: { 'iot:ClientId': 'c${*}' } }, { clientId: 'c*' }, true],
  ['escape in StringLike does not wildcard', { StringLike: { 'iot:ClientId': 'c${*}' } }, { clientId: 'c1' }, false],
  // Numeric
  ['NumericEquals', { NumericEquals: { 'x:n': '5' } }, { conditionKeys: { 'x:n': '5.0' } }, true],
  ['NumericEquals JSON number', { NumericEquals: { 'x:n': 5 } }, { conditionKeys: { 'x:n': '5' } }, true],
  ['NumericNotEquals', { NumericNotEquals: { 'x:n': ['4', '6'] } }, { conditionKeys: { 'x:n': '5' } }, true],
  ['NumericNotEquals equal', { NumericNotEquals: { 'x:n': ['5', '6'] } }, { conditionKeys: { 'x:n': '5' } }, false],
  ['NumericLessThan', { NumericLessThan: { 'x:n': '10' } }, { conditionKeys: { 'x:n': '9.5' } }, true],
  ['NumericLessThan boundary', { NumericLessThan: { 'x:n': '10' } }, { conditionKeys: { 'x:n': '10' } }, false],
  ['NumericLessThanEquals boundary', { NumericLessThanEquals: { 'x:n': '10' } }, { conditionKeys: { 'x:n': '10' } }, true],
  ['NumericGreaterThan', { NumericGreaterThan: { 'x:n': '10' } }, { conditionKeys: { 'x:n': '11' } }, true],
  ['NumericGreaterThan boundary', { NumericGreaterThan: { 'x:n': '10' } }, { conditionKeys: { 'x:n': '10' } }, false],
  ['NumericGreaterThanEquals', { NumericGreaterThanEquals: { 'x:n': '-1e3' } }, { conditionKeys: { 'x:n': '-1000' } }, true],
  ['Numeric request value not a number', { NumericLessThan: { 'x:n': '10' } }, { conditionKeys: { 'x:n': 'abc' } }, false],
  // Bool
  ['Bool true', { Bool: { 'x:b': 'true' } }, { conditionKeys: { 'x:b': 'true' } }, true],
  ['Bool JSON boolean, case-insensitive request', { Bool: { 'x:b': true } }, { conditionKeys: { 'x:b': 'TRUE' } }, true],
  ['Bool mismatch', { Bool: { 'x:b': 'false' } }, { conditionKeys: { 'x:b': 'true' } }, false],
  ['Bool missing key is false', { Bool: { 'x:b': 'false' } }, {}, false],
  // IP address
  ['IpAddress inside', { IpAddress: { 'aws:SourceIp': '10.20.0.0/16' } }, c1, true],
  ['IpAddress outside', { IpAddress: { 'aws:SourceIp': '10.21.0.0/16' } }, c1, false],
  ['IpAddress list is ORed', { IpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '10.20.31.4'] } }, c1, true],
  ['IpAddress IPv4-mapped source', { IpAddress: { 'aws:SourceIp': '10.20.0.0/16' } }, { sourceIp: '::ffff:10.20.31.4' }, true],
  ['IpAddress IPv6', { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { sourceIp: '2001:db8:0:1::5' }, true],
  ['IpAddress IPv6 outside', { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { sourceIp: '2001:db9::5' }, false],
  ['IpAddress family mismatch', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, { sourceIp: '2001:db8::1' }, false],
  ['IpAddress missing key is false', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, {}, false],
  ['NotIpAddress outside', { NotIpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, { sourceIp: '203.0.113.5' }, true],
  ['NotIpAddress inside', { NotIpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, { sourceIp: '198.51.100.9' }, false],
  ['NotIpAddress missing key is true', { NotIpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, {}, true],
  // Null
  ['Null true, key absent', { Null: { 'iot:DomainName': 'true' } }, { clientId: 'c1' }, true],
  ['Null true, key present', { Null: { 'iot:DomainName': 'true' } }, c1, false],
  ['Null false, key present', { Null: { 'iot:DomainName': 'false' } }, c1, true],
  ['Null false, key absent', { Null: { 'iot:DomainName': false } }, {}, false],
  ['Null true, empty set counts as absent', { Null: { 'iot:ConnectAttributes': 'true' } }, { connectAttributes: [] }, true],
  // IfExists
  ['IfExists, key absent', { StringEqualsIfExists: { 'iot:DomainName': 'x' } }, { clientId: 'c1' }, true],
  ['IfExists, key present and matching', { StringEqualsIfExists: { 'iot:DomainName': 'mqtt.acme.example' } }, c1, true],
  ['IfExists, key present not matching', { StringEqualsIfExists: { 'iot:DomainName': 'x' } }, c1, false],
  ['IpAddressIfExists, key absent', { IpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } }, {}, true],
  ['NotIpAddressIfExists, inside', { NotIpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } }, c1, false],
  // Set qualifiers over iot:ConnectAttributes
  ['ForAnyValue one present', { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['PersistentConnect', 'LastWill'] }, true],
  ['ForAnyValue none present', { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['PersistentConnect'] }, false],
  ['ForAnyValue empty set is false', { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: [] }, false],
  ['ForAnyValue absent set is false', { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': 'LastWill' } }, {}, false],
  ['ForAnyValue...IfExists empty set is true', { 'ForAnyValue:StringEqualsIfExists': { 'iot:ConnectAttributes': 'LastWill' } }, {}, true],
  ['ForAnyValue:StringNotEquals one differs', { 'ForAnyValue:StringNotEquals': { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['LastWill', 'PersistentConnect'] }, true],
  ['ForAnyValue:StringNotEquals all listed', { 'ForAnyValue:StringNotEquals': { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['LastWill'] }, false],
  ['ForAllValues subset', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['LastWill', 'PersistentConnect'] } }, { connectAttributes: ['LastWill'] }, true],
  ['ForAllValues not subset', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] } }, { connectAttributes: ['LastWill', 'PersistentConnect'] }, false],
  ['ForAllValues empty set is true', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] } }, { connectAttributes: [] }, true],
  ['ForAllValues empty policy list, empty set', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': [] } }, {}, true],
  ['ForAllValues empty policy list, non-empty set', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': [] } }, { connectAttributes: ['LastWill'] }, false],
  ['ForAllValues:StringNotEquals none listed', { 'ForAllValues:StringNotEquals': { 'iot:ConnectAttributes': 'PersistentConnect' } }, { connectAttributes: ['LastWill'] }, true],
  ['ForAllValues:StringNotEquals one listed', { 'ForAllValues:StringNotEquals': { 'iot:ConnectAttributes': 'PersistentConnect' } }, { connectAttributes: ['LastWill', 'PersistentConnect'] }, false],
  ['ForAnyValue:StringLike', { 'ForAnyValue:StringLike': { 'iot:ConnectAttributes': 'Persist*' } }, { connectAttributes: ['PersistentConnect'] }, true],
  ['ForAllValues:StringLike', { 'ForAllValues:StringLike': { 'iot:ConnectAttributes': '*t' } }, { connectAttributes: ['PersistentConnect', 'LastWill'] }, false],
  ['qualifier on a single-valued key', { 'ForAnyValue:StringEquals': { 'iot:ClientId': ['a', 'c1'] } }, c1, true],
  // Unqualified operator on a set: positive = any member matches, negated = no member matches
  ['unqualified StringEquals on a set', { StringEquals: { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['PersistentConnect', 'LastWill'] }, true],
  ['unqualified StringNotEquals on a set', { StringNotEquals: { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: ['PersistentConnect', 'LastWill'] }, false],
  ['unqualified StringEquals on empty set', { StringEquals: { 'iot:ConnectAttributes': 'LastWill' } }, { connectAttributes: [] }, false],
  // Combination: operators ANDed, keys ANDed
  ['two operators both hold', { StringEquals: { 'iot:ClientId': 'c1' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, c1, true],
  ['two operators, one fails', { StringEquals: { 'iot:ClientId': 'c1' }, IpAddress: { 'aws:SourceIp': '192.168.0.0/16' } }, c1, false],
  ['two keys under one operator, one fails', { StringEquals: { 'iot:ClientId': 'c1', 'iot:DomainName': 'x' } }, c1, false],
  ['empty Condition block', {}, c1, true],
  ['unknown key behaves as absent', { StringEquals: { 'iot:NoSuchKey': 'x' } }, c1, false],
];

describe('condition operators', () => {
  for (const [name, condition, context, expected] of cases) {
    test(name, () => assert.equal(holds(condition, context), expected));
  }
});

describe('parseConditionOperator', () => {
  // [name, ok, base, qualifier, ifExists]
  const valid: ReadonlyArray<readonly [string, string, string | null, boolean]> = [
    ['StringEquals', 'StringEquals', null, false],
    ['StringLikeIfExists', 'StringLike', null, true],
    ['ForAnyValue:StringEquals', 'StringEquals', 'ForAnyValue', false],
    ['ForAllValues:StringNotEqualsIfExists', 'StringNotEquals', 'ForAllValues', true],
    ['NotIpAddress', 'NotIpAddress', null, false],
    ['Null', 'Null', null, false],
  ];
  for (const [name, base, qualifier, ifExists] of valid) {
    test(`${name} is valid`, () => {
      const parsed = parseConditionOperator(name);
      assert.ok(parsed.ok);
      assert.equal(parsed.operator.base, base);
      assert.equal(parsed.operator.qualifier, qualifier);
      assert.equal(parsed.operator.ifExists, ifExists);
    });
  }

  // [name, unsupported (known to IAM but not implemented)]
  const invalid: ReadonlyArray<readonly [string, boolean]> = [
    ['StringEqual', false],
    ['stringequals', false],
    ['ForSomeValues:StringEquals', false],
    ['NullIfExists', false],
    ['ForAnyValue:Null', false],
    ['IfExists', false],
    ['DateLessThan', true],
    ['ArnLikeIfExists', true],
    ['BinaryEquals', true],
  ];
  for (const [name, unsupported] of invalid) {
    test(`${name} is rejected${unsupported ? ' as unsupported' : ''}`, () => {
      const parsed = parseConditionOperator(name);
      assert.ok(!parsed.ok);
      assert.equal(parsed.unsupported, unsupported);
    });
  }

  test('a case slip suggests the right spelling', () => {
    const parsed = parseConditionOperator('stringLike');
    assert.ok(!parsed.ok);
    assert.match(parsed.detail, /did you mean "StringLike"/);
  });
});

describe('IP addresses and CIDR blocks', () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['10.20.0.0/16', '10.20.255.255', true],
    ['10.20.0.0/16', '10.21.0.0', false],
    ['10.20.1.0/16', '10.20.9.9', true], // host bits ignored
    ['203.0.113.7', '203.0.113.7', true],
    ['203.0.113.7', '203.0.113.8', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['2001:db8::/32', '2001:0db8:ffff::1', true],
    ['::/0', '::1', true],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:10.9.9.9', true],
    ['fe80::1:2:3:4', 'FE80:0:0:0:1:2:3:4', true],
  ];
  for (const [block, address, expected] of cases) {
    test(`${block} ${expected ? 'contains' : 'excludes'} ${address}`, () => {
      const b = parseCidr(block);
      const a = parseIpAddress(address);
      assert.ok(b !== null && a !== null);
      assert.equal(cidrContains(b, a), expected);
    });
  }

  for (const bad of ['10.0.0.256', '10.0.0', '010.0.0.1', '10.0.0.0/33', '10.0.0.0/', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', 'host', '::/129', '']) {
    test(`${JSON.stringify(bad)} is not a valid block`, () => assert.equal(parseCidr(bad), null));
  }
});
