import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, systemClock } from '../../src/shared/clock.js';

describe('ManualClock', () => {
  it('runs timers in due order, with now() at each due time, and not before', () => {
    const clock = new ManualClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 20);
    clock.advance(9);
    assert.deepEqual(seen, []);
    clock.advance(11);
    assert.deepEqual(seen, ['a@1010', 'b@1020', 'c@1020']);
    assert.equal(clock.now(), 1020);
    assert.equal(clock.pending, 0);
  });

  it('fires timers set by a timer within the same advance, and skips cancelled ones', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const cancelled = clock.setTimeout(() => seen.push(-1), 5);
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    cancelled.cancel();
    clock.advance(100);
    assert.deepEqual(seen, [10, 15]);
    assert.equal(clock.now(), 100);
  });

  it('repeats intervals until cancelled, from inside the callback too', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const timer = clock.setInterval(() => {
      seen.push(clock.now());
      if (seen.length === 3) timer.cancel();
    }, 10);
    clock.advance(1000);
    assert.deepEqual(seen, [10, 20, 30]);
    assert.equal(clock.pending, 0);
  });

  it('advanceAsync lets promises settle between timers', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => {
        seen.push('awaited');
        clock.setTimeout(() => seen.push(`second@${clock.now()}`), 1);
      });
    }, 10);
    await clock.advanceAsync(20);
    assert.deepEqual(seen, ['awaited', 'second@11']);
  });
});

describe('systemClock', () => {
  it('fires after the delay, never synchronously, and can be cancelled', async () => {
    const seen: string[] = [];
    systemClock.setTimeout(() => seen.push('zero'), 0);
    const gone = systemClock.setTimeout(() => seen.push('cancelled'), 1);
    gone.cancel();
    assert.deepEqual(seen, []);
    const start = systemClock.now();
    // The clock's timers are unref'd; this one keeps the test process alive while we wait.
    const keepAlive = setTimeout(() => {}, 1000);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 30));
    clearTimeout(keepAlive);
    assert.ok(systemClock.now() - start >= 25);
    assert.deepEqual(seen, ['zero']);
  });
});
