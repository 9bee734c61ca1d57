import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

import { CONSOLE_CREDENTIAL_PARAM, consoleCredentialOf, ConsoleCredentials } from '../../src/auth/console-credentials.js';
import { ManualClock } from '../../src/shared/clock.js';

const KEY = randomBytes(32);

describe('console credentials', () => {
  test('single use, bound to the user who asked', () => {
    const c = new ConsoleCredentials(KEY);
    const { credential } = c.issue('admin');
    assert.ok(credential.length >= 40);
    assert.equal(c.take(credential), 'admin');
    assert.equal(c.take(credential), null);
    assert.equal(c.take('made-up'), null);
    assert.equal(c.take('made.up'), null);
  });

  test('admitted by another member sharing the sealing key (--workers, cluster), not by one with another key', () => {
    const issuer = new ConsoleCredentials(KEY);
    const { credential } = issuer.issue('admin');
    assert.equal(new ConsoleCredentials(randomBytes(32)).take(credential), null);
    assert.equal(new ConsoleCredentials(Buffer.from(KEY)).take(credential), 'admin');
  });

  test('a forged or altered credential is refused', () => {
    const c = new ConsoleCredentials(KEY);
    const { credential } = c.issue('loopback');
    const [payload, signature] = credential.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, u: 'admin' })).toString('base64url');
    assert.equal(c.take(`${altered}.${signature}`), null);
    assert.equal(c.take(`${payload}.${signature.slice(0, -2)}AA`), null);
    assert.equal(c.take(`${payload}.`), null);
    assert.equal(c.take(credential), 'loopback');
  });

  test('expire after their lifetime', () => {
    const t = new ManualClock();
    const c = new ConsoleCredentials(KEY, { clock: t, ttlMs: 60_000 });
    const a = c.issue('loopback');
    t.advance(59_999);
    const b = c.issue('loopback');
    assert.equal(c.take(a.credential), 'loopback');
    t.advance(60_000);
    assert.equal(c.take(b.credential), null);
  });

  test('used nonces are remembered only while their credentials live, and at most maxSeen', () => {
    const t = new ManualClock();
    const c = new ConsoleCredentials(KEY, { clock: t, ttlMs: 1000, maxSeen: 3 });
    for (let i = 0; i < 5; i++) assert.equal(c.take(c.issue('u').credential), 'u');
    assert.equal(c.size, 3);
    t.advance(1000);
    assert.equal(c.take(c.issue('u').credential), 'u');
    assert.equal(c.size, 1);
  });

  test('read from the upgrade URL query', () => {
    assert.equal(consoleCredentialOf(`/mqtt?${CONSOLE_CREDENTIAL_PARAM}=abc`), 'abc');
    assert.equal(consoleCredentialOf('/mqtt?x-amz-customauthorizer-name=A'), undefined);
    assert.equal(consoleCredentialOf('/mqtt'), undefined);
    assert.equal(consoleCredentialOf(undefined), undefined);
  });
});
