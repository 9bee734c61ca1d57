// Token buckets behind the throttles (limits.max*PerSecond), on the ManualClock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/shared/clock.js';
import { KeyedRateLimiter, TokenBucket } from '../../src/shared/rate-limit.js';

describe('TokenBucket', () => {
  it('allows `rate` a second, refills with time, saves at most one second', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(100, clock);
    for (let i = 0; i < 100; i++) assert.equal(b.take(), true, `take ${i}`);
    assert.equal(b.take(), false);
    clock.advance(10); // one token back
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    clock.advance(60_000); // idle a minute: still only one second's worth
    let n = 0;
    while (b.take()) n++;
    assert.equal(n, 100);
  });

  it('a refused take costs nothing', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(1, clock);
    assert.equal(b.take(), true);
    clock.advance(500);
    assert.equal(b.take(), false);
    clock.advance(500);
    assert.equal(b.take(), true, 'one second after the first, whatever was refused between');
  });

  it('a rate below 1 still lets one through', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(0.5, clock);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    clock.advance(2000);
    assert.equal(b.take(), true);
  });

  it('debit runs into debt; waitMs is the time to pay it back', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(1000, clock); // bytes a second
    b.debit(1000);
    assert.equal(b.waitMs(), 0);
    b.debit(500);
    assert.equal(b.waitMs(), 500);
    clock.advance(250);
    assert.equal(b.waitMs(), 250);
    clock.advance(250);
    assert.equal(b.waitMs(), 0);
  });

  it('setRate takes effect at once and caps what was saved', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(100, clock);
    b.setRate(2);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
  });
});

describe('KeyedRateLimiter', () => {
  it('one bucket per key', () => {
    const clock = new ManualClock();
    const l = new KeyedRateLimiter(1, clock);
    assert.equal(l.take('a'), true);
    assert.equal(l.take('a'), false);
    assert.equal(l.take('b'), true);
    clock.advance(1000);
    assert.equal(l.take('a'), true);
  });

  it('is bounded: idle keys are forgotten first, else the least recently used', () => {
    const clock = new ManualClock();
    const l = new KeyedRateLimiter(1, clock, 3);
    l.take('a');
    l.take('b');
    clock.advance(1000);
    l.take('c');
    l.take('d'); // a and b are idle for a second: dropped
    assert.equal(l.size, 2);
    l.take('e');
    l.take('f'); // none idle: the least recently used (c) goes
    assert.equal(l.size, 3);
    assert.equal(l.take('c'), true, 'a forgotten key is let through');
    assert.equal(l.take('e'), false, 'a remembered key is still throttled');
  });
});
