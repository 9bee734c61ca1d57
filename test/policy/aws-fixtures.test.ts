// Decisions documented by AWS, one test per case of test/fixtures/aws-policy-cases.json (format in
// test/fixtures/aws-policy-cases.README.md), copied from the team's shared fixtures so a clone alone passes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { compilePolicies, describeVerdict, parsePolicyDocuments } from '../../src/policy/index.js';

interface FixtureCase {
  id: string;
  policies: unknown[];
  request: {
    action: string;
    resource: string;
    clientId: string;
    sourceIp?: string;
    connectAttributes?: string[];
    domainName?: string;
  };
  expected: 'Allow' | 'Deny';
  why: string;
  source: string;
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/aws-policy-cases.json', import.meta.url), 'utf8'),
) as FixtureCase[];

test('fixture file has cases with unique ids', () => {
  assert.ok(cases.length > 0);
  assert.equal(new Set(cases.map((c) => c.id)).size, cases.length);
});

for (const c of cases) {
  test(c.id, () => {
    const parsed = parsePolicyDocuments(c.policies);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
    const { request } = c;
    const policy = compilePolicies(parsed.value, {
      clientId: request.clientId,
      ...(request.sourceIp !== undefined && { sourceIp: request.sourceIp }),
      ...(request.domainName !== undefined && { domainName: request.domainName }),
      ...(request.connectAttributes !== undefined && { connectAttributes: request.connectAttributes }),
    });
    const verdict = policy.evaluate(request.action, request.resource);
    assert.equal(verdict.effect, c.expected, `${c.why} (got ${describeVerdict(verdict)})`);
  });
}
