import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  arnFor,
  compilePolicies,
  DEFAULT_VERDICT_CACHE_SIZE,
  IotAction,
  parsePolicyDocument,
  VerdictCache,
  type CompiledPolicy,
} from '../../src/policy/index.js';

const scope = { region: 'us-east-1', accountId: '123456789012' };
const topic = (name: string): string => arnFor(scope, 'topic', name);

function compile(statement: unknown): CompiledPolicy {
  const parsed = parsePolicyDocument({ Version: '2012-10-17', Statement: statement });
  assert.ok(parsed.ok);
  return compilePolicies([parsed.value], { clientId: 'c1' });
}

/** Counts evaluations reaching the policy, to observe hits and misses. */
function counting(policy: CompiledPolicy): { policy: CompiledPolicy; calls: () => number } {
  let calls = 0;
  const original = policy.evaluate.bind(policy);
  policy.evaluate = (action, resource) => {
    calls++;
    return original(action, resource);
  };
  return { policy, calls: () => calls };
}

const allowAB = [
  { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topic('a/*') },
  { Effect: 'Deny', Action: 'iot:Publish', Resource: topic('a/locked') },
];

describe('VerdictCache', () => {
  test('returns the same verdicts as the policy', () => {
    const policy = compile(allowAB);
    const cache = new VerdictCache(policy);
    for (const [action, name] of [
      [IotAction.Publish, 'a/x'],
      [IotAction.Publish, 'a/locked'],
      [IotAction.Receive, 'a/locked'],
      [IotAction.Publish, 'b'],
    ] as const) {
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(cache.evaluate(action, topic(name)), policy.evaluate(action, topic(name)));
      }
    }
  });

  test('caches per action: Publish and Receive on one topic are separate entries', () => {
    const { policy, calls } = counting(compile(allowAB));
    const cache = new VerdictCache(policy);
    assert.equal(cache.allows(IotAction.Publish, topic('a/locked')), false);
    assert.equal(cache.allows(IotAction.Receive, topic('a/locked')), true);
    assert.equal(cache.allows(IotAction.Publish, topic('a/locked')), false);
    assert.equal(calls(), 2);
    assert.equal(cache.size, 2);
  });

  test('default bound is 1,000 entries', () => {
    const cache = new VerdictCache(compile(allowAB));
    assert.equal(DEFAULT_VERDICT_CACHE_SIZE, 1000);
    assert.equal(cache.capacity, 1000);
    for (let i = 0; i < 5000; i++) cache.evaluate(IotAction.Receive, topic(`a/${i}`));
    assert.equal(cache.size, 1000);
  });

  test('never exceeds its bound and evicts the oldest entry first', () => {
    const { policy, calls } = counting(compile(allowAB));
    const cache = new VerdictCache(policy, 3);
    cache.evaluate(IotAction.Receive, topic('a/1'));
    cache.evaluate(IotAction.Receive, topic('a/2'));
    cache.evaluate(IotAction.Receive, topic('a/3'));
    cache.evaluate(IotAction.Receive, topic('a/1')); // hit
    assert.equal(calls(), 3);
    cache.evaluate(IotAction.Receive, topic('a/4')); // evicts a/1, the oldest
    assert.equal(cache.size, 3);
    cache.evaluate(IotAction.Receive, topic('a/2'));
    cache.evaluate(IotAction.Receive, topic('a/3'));
    cache.evaluate(IotAction.Receive, topic('a/4'));
    assert.equal(calls(), 4, 'a/2, a/3 and a/4 are cached');
    cache.evaluate(IotAction.Receive, topic('a/1'));
    assert.equal(calls(), 5, 'a/1 was evicted');
    assert.equal(cache.size, 3);
  });

  test('the bound is shared by all actions', () => {
    const { policy, calls } = counting(compile(allowAB));
    const cache = new VerdictCache(policy, 4);
    for (let i = 0; i < 4; i++) cache.evaluate(IotAction.Receive, topic(`a/${i}`));
    // Publish has no entries yet, so a Receive entry makes room.
    cache.evaluate(IotAction.Publish, topic('a/p'));
    assert.equal(cache.size, 4);
    for (let i = 0; i < 10; i++) cache.evaluate(i % 2 === 0 ? IotAction.Publish : IotAction.Receive, topic(`a/x${i}`));
    assert.equal(cache.size, 4);
    const before = calls();
    cache.evaluate(IotAction.Receive, topic('a/x9'));
    cache.evaluate(IotAction.Publish, topic('a/x8'));
    assert.equal(calls(), before, 'the most recent entries of both actions are cached');
  });

  test('clear empties; reset switches policy', () => {
    const cache = new VerdictCache(compile(allowAB));
    assert.equal(cache.allows(IotAction.Publish, topic('a/x')), true);
    cache.clear();
    assert.equal(cache.size, 0);
    cache.evaluate(IotAction.Publish, topic('a/x'));
    cache.reset(compile({ Effect: 'Deny', Action: '*', Resource: '*' }));
    assert.equal(cache.size, 0);
    assert.equal(cache.allows(IotAction.Publish, topic('a/x')), false);
  });

  for (const bad of [0, -1, 1.5, Number.NaN]) {
    test(`rejects maxEntries ${bad}`, () => {
      assert.throws(() => new VerdictCache(compile(allowAB), bad), RangeError);
    });
  }
});
