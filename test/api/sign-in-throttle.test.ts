import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignInThrottle } from '../../src/api/sign-in-throttle.js';
import { ManualClock } from '../../src/shared/clock.js';

describe('SignInThrottle', () => {
  it('allows maxFailures failures per window, then asks the caller to wait until the window ends', () => {
    const clock = new ManualClock();
    const t = new SignInThrottle({ maxFailures: 3, windowMs: 60_000, clock });
    for (let i = 0; i < 3; i++) {
      assert.equal(t.retryAfterSeconds('10.0.0.1'), 0);
      t.failed('10.0.0.1');
    }
    assert.equal(t.retryAfterSeconds('10.0.0.1'), 60);
    assert.equal(t.retryAfterSeconds('10.0.0.2'), 0, 'another address is not affected');
    clock.advance(30_000);
    assert.equal(t.retryAfterSeconds('10.0.0.1'), 30);
    clock.advance(30_000);
    assert.equal(t.retryAfterSeconds('10.0.0.1'), 0, 'a new window starts');
  });

  it('a success clears the failures', () => {
    const t = new SignInThrottle({ maxFailures: 2, windowMs: 60_000, clock: new ManualClock() });
    t.failed('a');
    t.succeeded('a');
    t.failed('a');
    assert.equal(t.retryAfterSeconds('a'), 0);
  });

  it('tracks a bounded number of addresses, evicting the oldest', () => {
    const t = new SignInThrottle({ maxFailures: 1, windowMs: 60_000, maxEntries: 2, clock: new ManualClock() });
    t.failed('a');
    t.failed('b');
    t.failed('c');
    assert.equal(t.retryAfterSeconds('a'), 0, 'evicted');
    assert.ok(t.retryAfterSeconds('b') > 0);
    assert.ok(t.retryAfterSeconds('c') > 0);
  });
});
