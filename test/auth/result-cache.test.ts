import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { AuthorizerEvent, AuthorizerResponse } from '../../src/auth/authorizer.js';
import { buildEvent } from '../../src/auth/request.js';
import { resultCacheKey, ResultCache } from '../../src/auth/result-cache.js';
import { ManualClock } from '../../src/shared/clock.js';

function response(isAuthenticated: boolean, refreshAfterInSeconds: number): AuthorizerResponse {
  return {
    isAuthenticated,
    principalId: 'p1',
    policyDocuments: [],
    rawPolicyDocuments: [],
    disconnectAfterInSeconds: 86400,
    refreshAfterInSeconds,
  };
}

function wsEvent(connectionId: string, headers: Record<string, string>, token = 'tok'): AuthorizerEvent {
  return buildEvent(
    { transport: 'wss', serverName: 'h', upgradeUrl: '/mqtt?token=x', headers, username: 'u', password: Buffer.from('pw') },
    { token, signatureVerified: true, connectionId },
  );
}


describe('resultCacheKey', () => {
  test('ignores the connection id, header order and sec-websocket-key', () => {
    const a = wsEvent('id-1', { host: 'h', 'x-a': '1', 'sec-websocket-key': 'AAA' });
    const b = wsEvent('id-2', { 'x-a': '1', host: 'h', 'sec-websocket-key': 'BBB' });
    assert.equal(resultCacheKey('A', a), resultCacheKey('A', b));
  });

  test('differs by authorizer, token, password, header values', () => {
    const base = wsEvent('id', { host: 'h' });
    const key = resultCacheKey('A', base);
    assert.notEqual(resultCacheKey('B', base), key);
    assert.notEqual(resultCacheKey('A', wsEvent('id', { host: 'h' }, 'other')), key);
    assert.notEqual(resultCacheKey('A', wsEvent('id', { host: 'h2' })), key);
    const otherPassword = buildEvent(
      { transport: 'wss', serverName: 'h', upgradeUrl: '/mqtt?token=x', headers: { host: 'h' }, username: 'u', password: Buffer.from('pw2') },
      { token: 'tok', signatureVerified: true, connectionId: 'id' },
    );
    assert.notEqual(resultCacheKey('A', otherPassword), key);
  });

  test('is a hash: no credential appears in it', () => {
    const key = resultCacheKey('A', wsEvent('id', { host: 'h' }, 'super-secret-token'));
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
  });
});

describe('ResultCache', () => {
  const event = wsEvent('id-1', { host: 'h' });
  const sameRequest = wsEvent('id-2', { host: 'h' });

  test('an allow is kept for refreshAfterInSeconds, for any connection with the same request', () => {
    const c = new ManualClock();
    const cache = new ResultCache({ clock: c });
    const r = response(true, 300);
    cache.set('A', event, r);
    assert.equal(cache.get('A', sameRequest), r);
    assert.equal(cache.get('B', sameRequest), undefined);
    c.advance(299_999);
    assert.equal(cache.get('A', event), r);
    c.advance(1);
    assert.equal(cache.get('A', event), undefined);
    assert.equal(cache.size, 0);
  });

  test('a deny is kept briefly: min(refreshAfterInSeconds, maxDenyTtlMs)', () => {
    const c = new ManualClock();
    const cache = new ResultCache({ clock: c, maxDenyTtlMs: 10_000 });
    cache.set('A', event, response(false, 300));
    c.advance(9_999);
    assert.ok(cache.get('A', event));
    c.advance(1);
    assert.equal(cache.get('A', event), undefined);

    cache.set('A', event, response(false, 1)); // test-only minimum: 1 s < 10 s
    c.advance(1_000);
    assert.equal(cache.get('A', event), undefined);
  });

  test('maxDenyTtlMs 0 disables caching denies', () => {
    const cache = new ResultCache({ maxDenyTtlMs: 0 });
    cache.set('A', event, response(false, 300));
    assert.equal(cache.size, 0);
  });

  test('bounded: the least recently used entry goes first', () => {
    const cache = new ResultCache({ maxEntries: 3 });
    const events = [0, 1, 2, 3].map((i) => wsEvent('id', { host: 'h' }, `t${i}`));
    const [e0, e1, e2, e3] = events as [AuthorizerEvent, AuthorizerEvent, AuthorizerEvent, AuthorizerEvent];
    cache.set('A', e0, response(true, 300));
    cache.set('A', e1, response(true, 300));
    cache.set('A', e2, response(true, 300));
    assert.ok(cache.get('A', e0)); // e0 is now the most recent; e1 the oldest
    cache.set('A', e3, response(true, 300));
    assert.equal(cache.size, 3);
    assert.equal(cache.get('A', e1), undefined);
    assert.ok(cache.get('A', e0));
    assert.ok(cache.get('A', e2));
    assert.ok(cache.get('A', e3));
  });

  test('default bound is 10,000 entries', () => {
    const cache = new ResultCache();
    for (let i = 0; i < 10_050; i++) cache.set('A', wsEvent('id', {}, `t${i}`), response(true, 300));
    assert.equal(cache.size, 10_000);
    assert.equal(cache.get('A', wsEvent('id', {}, 't0')), undefined);
    assert.ok(cache.get('A', wsEvent('id', {}, 't10049')));
  });

  test('options are validated', () => {
    assert.throws(() => new ResultCache({ maxEntries: 0 }), /maxEntries must be a positive integer/);
    assert.throws(() => new ResultCache({ maxDenyTtlMs: -1 }), /maxDenyTtlMs/);
  });

  test('delete and clear', () => {
    const cache = new ResultCache();
    cache.set('A', event, response(true, 300));
    cache.delete('A', sameRequest);
    assert.equal(cache.size, 0);
    cache.set('A', event, response(true, 300));
    cache.clear();
    assert.equal(cache.get('A', event), undefined);
  });

  test('lookup: concurrent identical requests share one invocation; the result is cached', async () => {
    const cache = new ResultCache();
    let calls = 0;
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const compute = async () => {
      calls++;
      await answered;
      return response(true, 300);
    };
    // Both lookups start while the first invocation is still pending.
    const both = Promise.all([cache.lookup('A', event, compute), cache.lookup('A', sameRequest, compute)]);
    answer();
    const [a, b] = await both;
    assert.equal(a, b);
    assert.equal(calls, 1);
    assert.equal(await cache.lookup('A', event, compute), a);
    assert.equal(calls, 1);
  });

  test('lookup: failures are shared but never cached', async () => {
    const cache = new ResultCache();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('timed out');
    };
    const results = await Promise.allSettled([cache.lookup('A', event, failing), cache.lookup('A', event, failing)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(calls, 1);
    assert.equal(cache.size, 0);
    await assert.rejects(cache.lookup('A', event, failing), /timed out/);
    assert.equal(calls, 2);
  });
});
