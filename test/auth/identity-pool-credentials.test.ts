// Identity-pool identities and credentials are signed, not stored: what one member issues, every
// member with the same sealing key recognises; nothing else verifies, and nothing outlives its
// expiry or its pool. Time comes from a ManualClock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { IdentityPools } from '../../src/auth/identity-pools.js';
import { ManualClock } from '../../src/shared/clock.js';
import { prng } from '../helpers/prng.js';

const A = 'us-east-1:00000000-0000-4000-8000-00000000000a';
const B = 'eu-west-1:00000000-0000-4000-8000-00000000000b';
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] };
const config = (pools: { id: string; credentialsTtlSeconds: number; unauthenticatedPolicy?: Record<string, unknown> }[]) => ({
  identityPools: pools,
  unauthenticatedPolicy: POLICY,
});

describe('IdentityPools', () => {
  const key = randomBytes(32);
  const clock = new ManualClock();
  const pools = new IdentityPools(config([{ id: A, credentialsTtlSeconds: 60 }, { id: B, credentialsTtlSeconds: 3600 }]), key, () => clock.now());

  it('identity ids are region:uuid v4, recognised for their own pool only', () => {
    const id = pools.newIdentity(pools.get(B)!);
    assert.match(id, /^eu-west-1:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(pools.poolOfIdentity(id)?.id, B);
    assert.equal(pools.credentials.isIdentityOf(A, id), false);
    assert.equal(pools.poolOfIdentity(id.replace(/.$/, (c) => (c === '0' ? '1' : '0'))), undefined);
    // Another sealing key (another deployment) does not recognise it.
    const stranger = new IdentityPools(config([{ id: B, credentialsTtlSeconds: 60 }]), randomBytes(32));
    assert.equal(stranger.poolOfIdentity(id), undefined);
  });

  it('credentials open with their own key id and token until they expire', () => {
    const pool = pools.get(A)!;
    const identity = pools.newIdentity(pool);
    const issued = pools.issue(pool, identity);
    const opened = pools.open(issued.accessKeyId, issued.sessionToken);
    assert.ok(opened && !('refused' in opened));
    assert.equal(opened.principal, identity);
    assert.equal(opened.secretKey, issued.secretKey);
    assert.equal(opened.expiresAt, issued.expiresAt);
    const other = pools.issue(pool, identity);
    assert.deepEqual(pools.open(issued.accessKeyId, other.sessionToken), { refused: 'invalid-token', message: 'The security token included in the request is invalid.' });
    assert.equal(pools.open(issued.accessKeyId, 'not ours'), undefined);
    clock.advance(60_000);
    assert.equal((pools.open(issued.accessKeyId, issued.sessionToken) as { refused: string }).refused, 'expired-token');
  });

  it('a pool dropped from the config takes its credentials with it', () => {
    const issued = pools.issue(pools.get(B)!, pools.newIdentity(pools.get(B)!));
    const restarted = new IdentityPools(config([{ id: A, credentialsTtlSeconds: 60 }]), key, () => clock.now());
    assert.equal((restarted.open(issued.accessKeyId, issued.sessionToken) as { refused: string }).refused, 'invalid-token');
  });

  it('mutated tokens, key ids and identity ids (seeded fuzz) are refused, never thrown on, never accepted', () => {
    const random = prng(0x1dc0);
    const pool = pools.get(A)!;
    const identity = pools.newIdentity(pool);
    const issued = pools.issue(pool, identity);
    const alphabet = 'sbip1.-_=+/:ABCxyz0189{}"\\\u0000éŁ';
    const mutate = (text: string): string => {
      const chars = [...text];
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
        const at = Math.floor(random() * (chars.length + 1));
        const op = random();
        const c = alphabet[Math.floor(random() * alphabet.length)]!;
        if (op < 0.4) chars.splice(at, 1, c);
        else if (op < 0.7) chars.splice(at, 0, c);
        else chars.splice(at, 1);
      }
      return chars.join('');
    };
    for (let i = 0; i < 2000; i++) {
      const token = mutate(issued.sessionToken);
      const key = random() < 0.2 ? mutate(issued.accessKeyId) : issued.accessKeyId;
      if (token === issued.sessionToken && key === issued.accessKeyId) continue;
      const opened = pools.open(key, token);
      assert.ok(opened === undefined || 'refused' in opened, `accepted ${key} ${token}`);
      const id = mutate(identity);
      if (id !== identity) assert.equal(pools.poolOfIdentity(id), undefined, `accepted identity ${id}`);
    }
  });

  it('refuses a duplicate pool and a pool without any policy, naming the field', () => {
    assert.throws(() => new IdentityPools(config([{ id: A, credentialsTtlSeconds: 1 }, { id: A, credentialsTtlSeconds: 1 }]), key), /auth\.identityPools\[1\]\.id/);
    assert.throws(() => new IdentityPools({ identityPools: [{ id: A, credentialsTtlSeconds: 1 }] }, key), /auth\.identityPools\[0\]\.unauthenticatedPolicy: required/);
    assert.throws(
      () => new IdentityPools(config([{ id: A, credentialsTtlSeconds: 1, unauthenticatedPolicy: { Statement: 'x' } }]), key),
      /auth\.identityPools\[0\]\.unauthenticatedPolicy is invalid/,
    );
  });
});
