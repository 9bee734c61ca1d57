import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { validateAuthorizerResponse } from '../../src/auth/response.js';
import { compilePolicies } from '../../src/policy/index.js';

const policy = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/c1' }],
};
const policyString = JSON.stringify(policy, null, 2);

const valid = {
  isAuthenticated: true,
  principalId: 'TEST123',
  disconnectAfterInSeconds: 86400,
  refreshAfterInSeconds: 300,
  policyDocuments: [policy],
};

/** A document whose compact size is exactly `size` characters. */
function documentOfSize(size: number): Record<string, unknown> {
  const base = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:r:1:client/' }] };
  const pad = size - JSON.stringify(base).length;
  const doc = { ...base, Statement: [{ ...base.Statement[0], Resource: `arn:aws:iot:r:1:client/${'x'.repeat(pad)}` }] };
  assert.equal(JSON.stringify(doc).length, size);
  return doc;
}

describe('validateAuthorizerResponse: accepted', () => {
  test('the AWS documentation example, policy as an object', () => {
    const r = validateAuthorizerResponse(valid);
    assert.ok(r.ok);
    assert.equal(r.value.isAuthenticated, true);
    assert.equal(r.value.principalId, 'TEST123');
    assert.equal(r.value.policyDocuments.length, 1);
    assert.equal(r.value.policyDocuments[0]?.statements[0]?.effect, 'Allow');
    assert.deepEqual(r.value.rawPolicyDocuments, [JSON.stringify(policy)]);
    assert.equal(r.value.disconnectAfterInSeconds, 86400);
    assert.equal(r.value.refreshAfterInSeconds, 300);
  });

  test('policy as a JSON string is kept verbatim in rawPolicyDocuments', () => {
    const r = validateAuthorizerResponse({ ...valid, policyDocuments: [policyString, policy] });
    assert.ok(r.ok);
    assert.equal(r.value.policyDocuments.length, 2);
    assert.deepEqual(r.value.rawPolicyDocuments, [policyString, JSON.stringify(policy)]);
  });

  test('a deny with no documents; unknown fields are ignored', () => {
    const r = validateAuthorizerResponse({ ...valid, isAuthenticated: false, policyDocuments: [], context: { x: 1 } });
    assert.ok(r.ok);
    assert.equal(r.value.isAuthenticated, false);
  });

  test('limits inclusive: 10 documents, 2048 characters, 128-character principal, 300 and 86400 s', () => {
    const r = validateAuthorizerResponse({
      ...valid,
      principalId: 'a'.repeat(128),
      policyDocuments: [...Array.from({ length: 9 }, () => policy), documentOfSize(2048)],
      disconnectAfterInSeconds: 300,
      refreshAfterInSeconds: 86400,
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
  });

  test('whitespace in a string document does not count toward 2048', () => {
    const doc = JSON.stringify(documentOfSize(2048), null, 4);
    assert.ok(doc.length > 2048);
    assert.ok(validateAuthorizerResponse({ ...valid, policyDocuments: [doc] }).ok);
  });

  test('minSeconds relaxes the lower bound for tests', () => {
    const short = { ...valid, disconnectAfterInSeconds: 2, refreshAfterInSeconds: 1 };
    assert.equal(validateAuthorizerResponse(short).ok, false);
    assert.ok(validateAuthorizerResponse(short, { minSeconds: 1 }).ok);
    assert.match(errorOf(validateAuthorizerResponse({ ...short, refreshAfterInSeconds: 0 }, { minSeconds: 1 })), /from 1 to 86400, got number 0/);
  });
});

function errorOf(r: ReturnType<typeof validateAuthorizerResponse>): string {
  assert.equal(r.ok, false);
  return r.ok ? '' : r.error;
}

describe('validateAuthorizerResponse: rejected', () => {
  const cases: [name: string, value: unknown, error: RegExp][] = [
    ['not an object', 'ok', /must be a JSON object, got "ok"/],
    ['null', null, /must be a JSON object, got null/],
    ['an array', [valid], /must be a JSON object, got an array/],
    ['isAuthenticated missing', { ...valid, isAuthenticated: undefined }, /isAuthenticated must be a boolean, got nothing/],
    ['isAuthenticated a string', { ...valid, isAuthenticated: 'true' }, /isAuthenticated must be a boolean/],
    ['principalId missing', { ...valid, principalId: undefined }, /principalId must be 1-128 alphanumeric characters/],
    ['principalId empty', { ...valid, principalId: '' }, /principalId must be 1-128 alphanumeric characters, got ""/],
    ['principalId with a hyphen', { ...valid, principalId: 'user-1' }, /principalId must be 1-128 alphanumeric characters, got "user-1"/],
    ['principalId with non-ASCII letters', { ...valid, principalId: 'usér' }, /principalId/],
    ['principalId 129 characters', { ...valid, principalId: 'a'.repeat(129) }, /principalId/],
    ['principalId a number', { ...valid, principalId: 123 }, /principalId.*got number 123/],
    ['policyDocuments missing', { ...valid, policyDocuments: undefined }, /policyDocuments must be an array, got nothing/],
    ['policyDocuments an object', { ...valid, policyDocuments: policy }, /policyDocuments must be an array, got an object/],
    ['11 documents', { ...valid, policyDocuments: Array.from({ length: 11 }, () => policy) }, /at most 10 documents, got 11/],
    ['a document that is a number', { ...valid, policyDocuments: [policy, 5] }, /policyDocuments\[1\] must be a policy document object or a JSON string, got number 5/],
    ['a document that is an array', { ...valid, policyDocuments: [[policy]] }, /policyDocuments\[0\] must be a policy document/],
    ['a document over 2048 (object)', { ...valid, policyDocuments: [documentOfSize(2049)] }, /policyDocuments\[0\]: policy document is too large: 2049 characters, limit 2048/],
    ['a document over 2048 (string)', { ...valid, policyDocuments: [JSON.stringify(documentOfSize(2049))] }, /policyDocuments\[0\]: policy document is too large/],
    ['a string document that is not JSON', { ...valid, policyDocuments: ['{"Version":'] }, /policyDocuments\[0\]: policy document is not valid JSON/],
    ['a string document that is a JSON array', { ...valid, policyDocuments: ['[]'] }, /policyDocuments\[0\]: policy document must be a JSON object/],
    [
      'an invalid policy (object)',
      { ...valid, policyDocuments: [policy, { Version: '2012-10-17', Statement: [{ Effect: 'allow', Action: 'iot:*', Resource: '*' }] }] },
      /policyDocuments\[1\]: Statement\[0\]\.Effect: Effect must be "Allow" or "Deny"/,
    ],
    [
      'an invalid policy (string)',
      { ...valid, policyDocuments: [JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: 'topic/a' }] })] },
      /policyDocuments\[0\]: Statement\[0\]\.Resource\[0\]: invalid resource/,
    ],
    ['disconnectAfterInSeconds missing', { ...valid, disconnectAfterInSeconds: undefined }, /disconnectAfterInSeconds must be an integer from 300 to 86400, got nothing/],
    ['disconnectAfterInSeconds 299', { ...valid, disconnectAfterInSeconds: 299 }, /disconnectAfterInSeconds must be an integer from 300 to 86400, got number 299/],
    ['disconnectAfterInSeconds 86401', { ...valid, disconnectAfterInSeconds: 86401 }, /disconnectAfterInSeconds.*86401/],
    ['disconnectAfterInSeconds a string', { ...valid, disconnectAfterInSeconds: '3600' }, /disconnectAfterInSeconds.*got "3600"/],
    ['refreshAfterInSeconds 299', { ...valid, refreshAfterInSeconds: 299 }, /refreshAfterInSeconds must be an integer from 300 to 86400, got number 299/],
    ['refreshAfterInSeconds fractional', { ...valid, refreshAfterInSeconds: 300.5 }, /refreshAfterInSeconds.*300\.5/],
    ['refreshAfterInSeconds over the limit', { ...valid, refreshAfterInSeconds: 100000 }, /refreshAfterInSeconds/],
    ['a bare deny', { isAuthenticated: false }, /principalId/],
  ];
  for (const [name, value, error] of cases) {
    test(name, () => {
      assert.match(errorOf(validateAuthorizerResponse(value)), error);
    });
  }
});

describe('validateAuthorizerResponse: parsed documents reused across responses', () => {
  const okDocs = (r: ReturnType<typeof validateAuthorizerResponse>) => {
    assert.ok(r.ok, r.ok ? '' : r.error);
    return r.value.policyDocuments;
  };

  test('the same document text gives the same parsed documents, so one compiled policy serves every connection', () => {
    const a = okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [policyString] }));
    const b = okDocs(validateAuthorizerResponse({ ...valid, principalId: 'other', policyDocuments: [policyString] }));
    assert.equal(a, b);
    assert.equal(compilePolicies(a), compilePolicies(b));
    const c = okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [JSON.parse(policyString) as unknown] }));
    assert.equal(c, okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [JSON.parse(policyString) as unknown] })));
  });

  test('different documents are told apart, and an invalid one is refused every time', () => {
    const other = JSON.stringify({ ...policy, Statement: [{ ...policy.Statement[0], Effect: 'Deny' }] });
    const a = okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [policyString] }));
    const b = okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [other] }));
    assert.notEqual(a, b);
    assert.equal(b[0]?.statements[0]?.effect, 'Deny');
    // One string holding the JSON text of a two-document list is not that list.
    const both = JSON.stringify([policyString, other]);
    okDocs(validateAuthorizerResponse({ ...valid, policyDocuments: [policyString, other] }));
    for (let i = 0; i < 2; i++) assert.equal(validateAuthorizerResponse({ ...valid, policyDocuments: [both] }).ok, false);
  });
});
