// PolicyPermissions answers iot:Publish from a per-topic map (issue #18: no ARN built per
// PUBLISH); the answers must stay those of the policy, retain included, and follow a refresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PolicyPermissions } from '../../src/auth/policy-permissions.js';
import { arnFor, compilePolicies, parsePolicyDocument, type CompiledPolicy } from '../../src/policy/index.js';
import { ManualClock } from '../../src/shared/clock.js';

const scope = { region: 'us-east-1', accountId: '123456789012' };
const topic = (name: string): string => arnFor(scope, 'topic', name);

function compile(statement: unknown): CompiledPolicy {
  const parsed = parsePolicyDocument({ Version: '2012-10-17', Statement: statement });
  assert.ok(parsed.ok);
  return compilePolicies([parsed.value], { clientId: 'c1' });
}

const first = compile([
  { Effect: 'Allow', Action: 'iot:Publish', Resource: topic('a/*') },
  { Effect: 'Allow', Action: 'iot:RetainPublish', Resource: topic('a/keep') },
  { Effect: 'Deny', Action: 'iot:Publish', Resource: topic('a/locked') },
]);
const second = compile([{ Effect: 'Allow', Action: 'iot:Publish', Resource: topic('b/*') }]);

test('canPublish gives the policy\'s verdicts, asked again and again', () => {
  const p = new PolicyPermissions(first, scope);
  for (let round = 0; round < 3; round++) {
    assert.equal(p.canPublish('a/x', false), true);
    assert.equal(p.canPublish('a/x', true), false, 'iot:RetainPublish is not granted on a/x');
    assert.equal(p.canPublish('a/keep', true), true);
    assert.equal(p.canPublish('a/locked', false), false);
    assert.equal(p.canPublish('a/locked', true), false);
    assert.equal(p.canPublish('b/x', false), false);
  }
  // More distinct topics than the map holds: it is bounded, and the answers stay right.
  for (let i = 0; i < 2500; i++) assert.equal(p.canPublish(`a/n${i}`, false), true);
  assert.equal(p.canPublish('a/locked', false), false);
});

test('a refreshed policy replaces the remembered publish verdicts', async () => {
  const clock = new ManualClock(0);
  let applied = 0;
  const p = new PolicyPermissions(first, scope, {
    clock,
    refresh: { afterMs: 1000, run: async () => ({ policy: second, refreshAfterMs: 60_000 }), applied: () => applied++ },
  });
  p.start({ disconnect: () => assert.fail('not disconnected') });
  assert.equal(p.canPublish('a/x', false), true);
  assert.equal(p.canPublish('b/x', false), false);
  await clock.advanceAsync(1000);
  assert.equal(applied, 1);
  assert.equal(p.canPublish('a/x', false), false);
  assert.equal(p.canPublish('b/x', false), true);
  p.release();
});
