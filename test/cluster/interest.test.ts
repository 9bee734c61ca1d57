import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { groupKeyOf, InterestIndex, liveKey, LocalInterest, sharedKeyOfLive } from '../../src/cluster/interest.js';

describe('InterestIndex', () => {
  test('routes a topic to the other nodes with a matching plain filter, never to itself', () => {
    const idx = new InterestIndex();
    idx.add('A', 'sensors/+/temp');
    idx.add('B', 'sensors/#');
    idx.add('C', 'other/#');
    const r = idx.route('sensors/1/temp', 'A')!;
    assert.deepEqual([...r.direct].sort(), ['B']);
    assert.equal(r.groups.size, 0);
    assert.equal(idx.route('nothing/here', 'A'), null);
  });

  test('follows MQTT matching: a/# matches a, wildcards do not match $ topics', () => {
    const idx = new InterestIndex();
    idx.add('B', 'a/#');
    idx.add('C', '#');
    assert.deepEqual([...idx.route('a', 'A')!.direct].sort(), ['B', 'C']);
    assert.equal(idx.route('$aws/events/presence/connected/x', 'A'), null);
    idx.add('D', '$aws/events/presence/connected/+');
    assert.deepEqual([...idx.route('$aws/events/presence/connected/x', 'A')!.direct], ['D']);
  });

  test('shared groups list every node with members, this one included', () => {
    const idx = new InterestIndex();
    idx.add('A', '$share/g/jobs/#');
    idx.add('B', '$share/g/jobs/#');
    idx.add('B', '$share/h/jobs/+');
    const r = idx.route('jobs/1', 'A')!;
    assert.equal(r.direct.size, 0);
    assert.deepEqual(r.groups.get('g\u0000jobs/#')!.nodes.sort(), ['A', 'B']);
    assert.deepEqual(r.groups.get('h\u0000jobs/+'), { nodes: ['B'], live: [] });
  });

  test('live keys list the nodes where a group has a connected member', () => {
    const idx = new InterestIndex();
    idx.add('A', '$share/g/jobs/#');
    idx.add('B', '$share/g/jobs/#');
    idx.add('B', liveKey('g', 'jobs/#'));
    assert.equal(liveKey('g', 'jobs/#'), '$share/+/g/jobs/#');
    assert.deepEqual(idx.route('jobs/1', 'A')!.groups.get('g\u0000jobs/#'), { nodes: ['A', 'B'], live: ['B'] });
    assert.equal(idx.route('other', 'A'), null, 'a live key matches only its own filter');
    idx.remove('B', liveKey('g', 'jobs/#'));
    assert.deepEqual(idx.route('jobs/1', 'A')!.groups.get('g\u0000jobs/#'), { nodes: ['A', 'B'], live: [] });
    assert.equal(sharedKeyOfLive('$share/g/jobs/#'), null);
    assert.equal(groupKeyOf(liveKey('g', 'a/+')), 'g\u0000a/+');
  });

  test('remove, replace and dropNode withdraw exactly what they name', () => {
    const idx = new InterestIndex();
    idx.add('B', 'x/1');
    idx.add('B', 'x/2');
    idx.remove('B', 'x/1');
    assert.equal(idx.route('x/1', 'A'), null);
    assert.ok(idx.route('x/2', 'A'));
    idx.replace('B', ['x/3']);
    assert.equal(idx.route('x/2', 'A'), null);
    assert.ok(idx.route('x/3', 'A'));
    idx.add('B', 'x/3'); // idempotent
    idx.dropNode('B');
    assert.equal(idx.route('x/3', 'A'), null);
    assert.deepEqual(idx.nodes(), []);
  });
});

describe('LocalInterest', () => {
  test('announces a key on its first reference and withdraws it on its last', () => {
    const local = new LocalInterest();
    assert.equal(local.add('a/#'), true);
    assert.equal(local.add('a/#'), false);
    assert.equal(local.remove('a/#'), false);
    assert.equal(local.remove('a/#'), true);
    assert.equal(local.remove('a/#'), false, 'an unknown key is not withdrawn twice');
    assert.equal(local.size, 0);
  });
});
