import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketIdAllocator } from '../../src/broker/packet-ids.js';

test('ids are non-zero, cycle through 1..65535 and skip ids in use', () => {
  const alloc = new PacketIdAllocator();
  const inUse = new Map<number, true>();
  assert.equal(alloc.allocate(inUse), 1);
  inUse.set(2, true);
  inUse.set(3, true);
  assert.equal(alloc.allocate(inUse), 4);
  for (let i = 5; i <= 65535; i++) assert.equal(alloc.allocate(inUse), i);
  // wraps to 1, never 0
  assert.equal(alloc.allocate(inUse), 1);
  assert.equal(alloc.allocate(inUse), 4);
});

test('returns 0 when every id is in flight', () => {
  const alloc = new PacketIdAllocator();
  const inUse = new Set<number>();
  for (let i = 1; i <= 65535; i++) inUse.add(i);
  assert.equal(alloc.allocate(inUse), 0);
  inUse.delete(40000);
  assert.equal(alloc.allocate(inUse), 40000);
});
