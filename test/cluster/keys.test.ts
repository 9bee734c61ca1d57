// Key and channel names are part of what several nodes (and operators with redis-cli) agree on:
// a rename would split a cluster, so they are pinned here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterKeys } from '../../src/cluster/keys.js';

test('every key and channel carries the prefix', () => {
  const k = new ClusterKeys('sb:');
  assert.equal(k.nodes, 'sb:nodes');
  assert.equal(k.owners, 'sb:owners');
  assert.equal(k.all, 'sb:all');
  assert.equal(k.channel('n1'), 'sb:node:n1');
  assert.equal(k.interest('n1'), 'sb:interest:n1');
  assert.equal(k.conns('n1'), 'sb:conns:n1');
  assert.equal(k.reaped('n1'), 'sb:reaped:n1');
  assert.equal(k.reapLock('n1'), 'sb:reap-lock:n1');
});

test('two prefixes never name the same key', () => {
  const a = new ClusterKeys('a:');
  const b = new ClusterKeys('b:');
  const names = (k: ClusterKeys) => [k.nodes, k.owners, k.all, k.channel('x'), k.interest('x'), k.conns('x'), k.reaped('x'), k.reapLock('x')];
  const all = [...names(a), ...names(b)];
  assert.equal(new Set(all).size, all.length);
});

test('a node id is used as given (ids contain no spaces; see Cluster)', () => {
  const k = new ClusterKeys('');
  assert.equal(k.channel('host-12-abcdef'), 'node:host-12-abcdef');
  assert.equal(k.interest('host-12-abcdef'), 'interest:host-12-abcdef');
});
