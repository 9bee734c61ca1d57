// Temporary access keys: the session token must match, the expiration must not have passed, and a
// permanent key takes no token; expired keys are swept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createAccessKey, MemoryAccessKeyStore, secretLookup } from '../../src/store/access-key-store.js';
import { createTemporaryAccessKey, sweepExpiredAccessKeys, TEMPORARY_ACCESS_KEY_ID_PATTERN } from '../../src/store/temporary-access-key.js';

const POLICY = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }];

describe('temporary access keys', () => {
  const sealingKey = randomBytes(32);
  const start = Date.UTC(2026, 0, 1);

  it('the secret is given only with the matching token and before the expiration', () => {
    let now = start;
    const store = new MemoryAccessKeyStore();
    const issued = createTemporaryAccessKey(POLICY, sealingKey, { expiresInSeconds: 60, now });
    assert.match(issued.record.accessKeyId, TEMPORARY_ACCESS_KEY_ID_PATTERN);
    assert.equal(issued.expiration, '2026-01-01T00:01:00Z');
    assert.ok(!JSON.stringify(issued.record).includes(issued.sessionToken), 'only a hash of the token is kept');
    store.put(issued.record);
    const lookup = secretLookup(store, sealingKey, () => now);
    const id = issued.record.accessKeyId;
    assert.equal(lookup(id, issued.sessionToken), issued.secretAccessKey);
    assert.deepEqual(lookup(id, undefined), { refused: 'invalid-token', message: 'The security token included in the request is invalid.' });
    assert.deepEqual(lookup(id, ''), { refused: 'invalid-token', message: 'The security token included in the request is invalid.' });
    assert.equal((lookup(id, issued.sessionToken + 'x') as { refused: string }).refused, 'invalid-token');
    now = start + 60_000;
    assert.equal((lookup(id, issued.sessionToken) as { refused: string }).refused, 'expired-token');
    // A wrong token is "invalid" even after expiry: "expired" is told only to the token's holder.
    assert.equal((lookup(id, 'guess') as { refused: string }).refused, 'invalid-token');
  });

  it('a permanent key refuses any session token', () => {
    const store = new MemoryAccessKeyStore();
    const { record, secretAccessKey } = createAccessKey(POLICY, sealingKey);
    store.put(record);
    const lookup = secretLookup(store, sealingKey);
    assert.equal(lookup(record.accessKeyId, undefined), secretAccessKey);
    assert.equal((lookup(record.accessKeyId, 'token') as { refused: string }).refused, 'invalid-token');
  });

  it('the sweep deletes expired temporary keys only and counts the live ones', () => {
    const store = new MemoryAccessKeyStore();
    const permanent = createAccessKey(POLICY, sealingKey).record;
    const old = createTemporaryAccessKey(POLICY, sealingKey, { expiresInSeconds: 10, now: start }).record;
    const live = createTemporaryAccessKey(POLICY, sealingKey, { expiresInSeconds: 100, now: start }).record;
    for (const r of [permanent, old, live]) store.put(r);
    assert.equal(sweepExpiredAccessKeys(store, start + 10_000), 1);
    assert.deepEqual(store.list().map((r) => r.accessKeyId).sort(), [permanent.accessKeyId, live.accessKeyId].sort());
  });
});
