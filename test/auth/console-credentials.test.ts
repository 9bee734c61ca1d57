import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CONSOLE_CREDENTIAL_PARAM, consoleCredentialOf, ConsoleCredentials } from '../../src/auth/console-credentials.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('console credentials', () => {
  test('single use, bound to the user who asked', () => {
    const c = new ConsoleCredentials();
    const { credential } = c.issue('admin');
    assert.ok(credential.length >= 40);
    assert.equal(c.take(credential), 'admin');
    assert.equal(c.take(credential), null);
    assert.equal(c.take('made-up'), null);
  });

  test('expire after their lifetime', () => {
    const t = clock();
    const c = new ConsoleCredentials(t.now, 60_000);
    const a = c.issue('loopback');
    t.advance(59_999);
    const b = c.issue('loopback');
    assert.equal(c.take(a.credential), 'loopback');
    t.advance(60_000);
    assert.equal(c.take(b.credential), null);
  });

  test('the store is bounded: oldest dropped first, expired swept on issue', () => {
    const t = clock();
    const c = new ConsoleCredentials(t.now, 1000, 3);
    const first = c.issue('u');
    c.issue('u');
    c.issue('u');
    const fourth = c.issue('u');
    assert.equal(c.size, 3);
    assert.equal(c.take(first.credential), null);
    assert.equal(c.take(fourth.credential), 'u');
    t.advance(1000);
    c.issue('u');
    assert.equal(c.size, 1);
  });

  test('read from the upgrade URL query', () => {
    assert.equal(consoleCredentialOf(`/mqtt?${CONSOLE_CREDENTIAL_PARAM}=abc`), 'abc');
    assert.equal(consoleCredentialOf('/mqtt?x-amz-customauthorizer-name=A'), undefined);
    assert.equal(consoleCredentialOf('/mqtt'), undefined);
    assert.equal(consoleCredentialOf(undefined), undefined);
  });
});
