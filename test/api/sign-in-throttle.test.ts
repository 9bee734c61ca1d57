import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignInThrottle, throttleKey } from '../../src/api/sign-in-throttle.js';
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

describe('throttleKey', () => {
  it('counts IPv4 as is, IPv6 by its /64 and an IPv4-mapped address as its IPv4 address', () => {
    assert.equal(throttleKey('192.0.2.7'), '192.0.2.7');
    assert.equal(throttleKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:0db8:0001:0002:ffff:ffff:ffff:fffe'), '2001:db8:1:2::/64');
    assert.equal(throttleKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(throttleKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(throttleKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(throttleKey('::ffff:c000:207'), '192.0.2.7');
    assert.equal(throttleKey('::1'), '0:0:0:0::/64');
    assert.equal(throttleKey('not an address'), 'not an address');
  });

  it('one IPv6 host rotating addresses inside its /64 shares one budget; another /64 has its own', () => {
    const t = new SignInThrottle({ maxFailures: 3, windowMs: 60_000, clock: new ManualClock() });
    for (let i = 1; i <= 3; i++) t.failed(`2001:db8:0:7::${i.toString(16)}`);
    assert.equal(t.retryAfterSeconds('2001:db8:0:7:dead:beef:0:1'), 60);
    assert.equal(t.retryAfterSeconds('2001:db8:0:8::1'), 0);
    t.failed('::ffff:10.0.0.1');
    t.failed('10.0.0.1');
    t.failed('10.0.0.1');
    assert.equal(t.retryAfterSeconds('10.0.0.1'), 60, 'the mapped and plain spellings are one caller');
  });
});
