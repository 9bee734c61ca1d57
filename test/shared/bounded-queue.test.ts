import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from '../../src/shared/bounded-queue.js';

test('keeps FIFO order and drops the oldest when full', () => {
  const q = new BoundedQueue<number>(3);
  assert.equal(q.push(1), undefined);
  q.push(2);
  q.push(3);
  assert.equal(q.push(4), 1);
  assert.equal(q.length, 3);
  assert.deepEqual([...q], [2, 3, 4]);
  assert.equal(q.shift(), 2);
  q.unshift(9);
  assert.deepEqual([...q], [9, 3, 4]);
});

test('stays bounded and compacts through many cycles', () => {
  const q = new BoundedQueue<number>(10);
  let dropped = 0;
  for (let i = 0; i < 100_000; i++) if (q.push(i) !== undefined) dropped++;
  assert.equal(dropped, 100_000 - 10);
  assert.deepEqual([...q], [99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999]);
  for (let i = 0; i < 10; i++) q.shift();
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
});
