import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/shared/topic-trie.js';
import { topicMatches, validateTopicFilter, validateTopicName } from '../../src/protocol/topic.js';
import { prng } from '../helpers/prng.js';

interface Sub {
  id: number;
}

const LIMITS = { maxTopicBytes: 65535, maxTopicLevels: 16 };


const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const LEVELS = ['a', 'b', 'c', '', 'dev-1', 'é'];
const FIRST_LEVELS = [...LEVELS, '$SYS', '$aws'];

function randomTopic(rnd: () => number): string {
  const depth = 1 + Math.floor(rnd() * 4);
  const levels = [pick(rnd, FIRST_LEVELS)];
  for (let i = 1; i < depth; i++) levels.push(pick(rnd, LEVELS));
  return levels.join('/');
}

function randomFilter(rnd: () => number): string {
  const levels = randomTopic(rnd)
    .split('/')
    .map((l) => (rnd() < 0.3 ? '+' : l));
  const r = rnd();
  if (r < 0.2) levels.push('#');
  else if (r < 0.3) levels[levels.length - 1] = '#';
  return levels.join('/');
}

/** Reference model: filter -> values, matched by brute force with topicMatches. */
class Model {
  readonly pairs = new Map<string, Set<Sub>>();
  add(f: string, v: Sub): void {
    let s = this.pairs.get(f);
    if (s === undefined) this.pairs.set(f, (s = new Set()));
    s.add(v);
  }
  remove(f: string, v: Sub): boolean {
    const s = this.pairs.get(f);
    if (s === undefined || !s.delete(v)) return false;
    if (s.size === 0) this.pairs.delete(f);
    return true;
  }
  match(topic: string): Sub[] {
    const out: Sub[] = [];
    for (const [f, s] of this.pairs) if (topicMatches(f, topic)) out.push(...s);
    return out;
  }
  get size(): number {
    let n = 0;
    for (const s of this.pairs.values()) n += s.size;
    return n;
  }
}

const ids = (xs: readonly Sub[]): number[] => xs.map((x) => x.id).sort((p, q) => p - q);

function assertSameAsModel(trie: TopicTrie<Sub>, model: Model, topics: readonly string[]): void {
  for (const t of topics) {
    const got = trie.match(t);
    assert.ok(Object.isFrozen(got), `result for ${t} is not frozen`);
    assert.deepEqual(ids(got), ids(model.match(t)), `match(${JSON.stringify(t)})`);
  }
  assert.equal(trie.size, model.size);
  assert.deepEqual([...trie.filters()].sort(), [...model.pairs.keys()].sort());
}

describe('TopicTrie: add / remove / size / filters', () => {
  it('stores a (filter, value) pair once and compares values by identity', () => {
    const trie = new TopicTrie<Sub>();
    const s1 = { id: 1 };
    const s1Twin = { id: 1 };
    trie.add('a/b', s1);
    trie.add('a/b', s1);
    assert.equal(trie.size, 1);
    trie.add('a/b', s1Twin); // equal shape, different object
    assert.equal(trie.size, 2);
    trie.add('a/+', s1); // same value, another filter
    assert.equal(trie.size, 3);
    assert.deepEqual([...trie.filters()].sort(), ['a/+', 'a/b']);
  });

  it('works with primitive values', () => {
    const trie = new TopicTrie<string>();
    trie.add('a/#', 'client-1');
    trie.add('a/#', 'client-1');
    trie.add('a/#', 'client-2');
    assert.equal(trie.size, 2);
    assert.deepEqual([...trie.match('a/x')].sort(), ['client-1', 'client-2']);
    assert.equal(trie.remove('a/#', 'client-1'), true);
    assert.deepEqual(trie.match('a/x'), ['client-2']);
  });

  const removeCases: [name: string, filter: string, value: 'same' | 'other', expected: boolean][] = [
    ['the stored pair', 'a/+/c', 'same', true],
    ['another value under the stored filter', 'a/+/c', 'other', false],
    ['a filter that is a prefix of the stored one', 'a/+', 'same', false],
    ['a filter that extends the stored one', 'a/+/c/d', 'same', false],
    ['a literal where a "+" is stored', 'a/b/c', 'same', false],
    ['a "#" that was never stored', 'a/+/c/#', 'same', false],
    ['a filter sharing no node', 'x', 'same', false],
  ];
  for (const [name, filter, which, expected] of removeCases) {
    it(`remove(${name}) -> ${expected}`, () => {
      const trie = new TopicTrie<Sub>();
      const v = { id: 1 };
      trie.add('a/+/c', v);
      assert.equal(trie.remove(filter, which === 'same' ? v : { id: 2 }), expected);
      assert.equal(trie.size, expected ? 0 : 1);
      if (expected) assert.equal(trie.remove(filter, v), false, 'second remove');
    });
  }

  it('prunes empty nodes, keeping those still in use', () => {
    const trie = new TopicTrie<Sub>();
    const v = { id: 1 };
    const filters = ['a/b/c', 'a/b', 'a/+/#', 'a/#', '#', '+', '/', 'a//b', '$SYS/#'];
    for (const f of filters) trie.add(f, v);
    assert.equal(trie.size, filters.length);
    trie.remove('a/b/c', v);
    assert.equal(trie.match('a/b').length, 4); // a/b, a/+/#, a/#, #
    assert.equal(trie.match('a/b/c').length, 3); // a/+/#, a/#, #
    for (const f of filters.slice(1)) assert.equal(trie.remove(f, v), true, f);
    assert.equal(trie.size, 0);
    assert.deepEqual([...trie.filters()], []);
    // White-box: every node was pruned, so the root has no children left.
    const root = (trie as unknown as { root: Record<string, unknown> }).root;
    assert.equal(root['literal'], null);
    assert.equal(root['plus'], null);
    assert.equal(root['hash'], null);
    assert.equal(root['values'], null);
  });

  it("rejects a '#' that is not the last level", () => {
    const trie = new TopicTrie<Sub>();
    assert.throws(() => trie.add('a/#/b', { id: 1 }), RangeError);
    assert.equal(trie.size, 0);
  });

  it('filters() lists distinct filters and is a snapshot', () => {
    const trie = new TopicTrie<Sub>();
    const v1 = { id: 1 };
    const v2 = { id: 2 };
    const all = ['a', 'a/+', 'a/#', '#', '+/b', '$SYS/x'];
    for (const f of all) {
      trie.add(f, v1);
      trie.add(f, v2);
    }
    const snapshot = trie.filters();
    trie.remove('a/+', v1); // 'a/+' keeps v2, so it stays listed
    for (const f of ['a', 'a/#', '#']) {
      trie.remove(f, v1);
      trie.remove(f, v2);
    }
    trie.add('new/+', v1);
    assert.deepEqual([...snapshot].sort(), [...all].sort());
    assert.deepEqual([...trie.filters()].sort(), ['$SYS/x', '+/b', 'a/+', 'new/+']);
  });

  it('validates cacheSize', () => {
    assert.throws(() => new TopicTrie({ cacheSize: -1 }), RangeError);
    assert.throws(() => new TopicTrie({ cacheSize: 1.5 }), RangeError);
    assert.doesNotThrow(() => new TopicTrie({ cacheSize: 0 }));
  });
});

describe('TopicTrie: match semantics', () => {
  const cases: [filter: string, topic: string, expected: boolean][] = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['+', '$aws', false],
    ['$SYS/#', '$SYS', true],
    ['$aws/things/+/shadow/#', '$aws/things/t1/shadow/get', true],
    ['+/+', '/x', true],
    ['+/+', 'x', false],
    ['a/+', 'a/', true],
    ['a//b', 'a//b', true],
    ['a//b', 'a/b', false],
    ['/', '/', true],
    ['+', '', true],
    ['a/+/#', 'a', false],
    ['a/+/#', 'a/b', true],
  ];
  for (const [filter, topic, expected] of cases) {
    it(`${JSON.stringify(filter)} vs ${JSON.stringify(topic)} -> ${expected}`, () => {
      const trie = new TopicTrie<Sub>();
      const v = { id: 7 };
      trie.add(filter, v);
      assert.deepEqual(trie.match(topic), expected ? [v] : []);
      assert.equal(topicMatches(filter, topic), expected);
    });
  }

  it('returns one entry per matching (filter, value) pair', () => {
    const trie = new TopicTrie<Sub>();
    const v = { id: 1 };
    const w = { id: 2 };
    for (const f of ['a/b', 'a/+', 'a/#', '#', '+/b']) trie.add(f, v);
    trie.add('a/b', w);
    assert.deepEqual(ids(trie.match('a/b')), [1, 1, 1, 1, 1, 2]);
  });

  it('returns frozen results and one shared frozen empty array', () => {
    const trie = new TopicTrie<Sub>();
    const other = new TopicTrie<number>({ cacheSize: 0 });
    trie.add('a/+', { id: 1 });
    const hit = trie.match('a/b');
    assert.ok(Object.isFrozen(hit));
    assert.throws(() => (hit as Sub[]).push({ id: 2 }), TypeError);
    const none = trie.match('b');
    assert.ok(Object.isFrozen(none));
    assert.equal(none.length, 0);
    assert.equal(trie.match('c/d'), none);
    assert.equal(other.match('x'), none);
    assert.equal(trie.match('$SYS/x'), none);
  });
});

describe('TopicTrie: randomized against brute force', () => {
  for (const cacheSize of [4096, 16, 1, 0]) {
    it(`cacheSize ${cacheSize}: match equals brute-force topicMatches, through add/remove churn`, () => {
      const rnd = prng(0x5eed + cacheSize);
      const filters: string[] = [];
      while (filters.length < 300) {
        const f = randomFilter(rnd);
        if (validateTopicFilter(f, LIMITS) === null) filters.push(f); // drops the odd '' filter
      }
      const topics: string[] = [];
      while (topics.length < 300) {
        const t = randomTopic(rnd);
        if (validateTopicName(t, LIMITS) === null) topics.push(t);
      }
      const values: Sub[] = Array.from({ length: 40 }, (_, i) => ({ id: i }));
      const trie = new TopicTrie<Sub>({ cacheSize });
      const model = new Model();

      for (let i = 0; i < 400; i++) {
        const f = pick(rnd, filters);
        const v = pick(rnd, values);
        trie.add(f, v);
        model.add(f, v);
      }
      assertSameAsModel(trie, model, topics);
      assert.ok(topics.some((t) => trie.match(t).length > 1), 'the table should produce overlapping matches');

      // Interleave mutations with look-ups so stale cache entries would be observed.
      for (let round = 0; round < 1500; round++) {
        const f = pick(rnd, filters);
        const v = pick(rnd, values);
        if (rnd() < 0.5) {
          trie.add(f, v);
          model.add(f, v);
        } else {
          assert.equal(trie.remove(f, v), model.remove(f, v), `remove(${f}, ${v.id})`);
        }
        for (let k = 0; k < 4; k++) {
          const t = pick(rnd, topics);
          assert.deepEqual(ids(trie.match(t)), ids(model.match(t)), `round ${round}: match(${JSON.stringify(t)})`);
        }
        if (round % 250 === 0) assertSameAsModel(trie, model, topics);
      }
      assertSameAsModel(trie, model, topics);

      // Drain everything: the trie ends empty and every topic matches nothing.
      for (const [f, s] of [...model.pairs]) {
        for (const v of [...s]) {
          assert.equal(trie.remove(f, v), true);
          model.remove(f, v);
        }
      }
      assert.equal(trie.size, 0);
      const empty = trie.match('a');
      for (const t of topics) assert.equal(trie.match(t), empty);
    });
  }
});

describe('TopicTrie: match cache', () => {
  it('serves repeated look-ups from the cache (same frozen instance)', () => {
    const trie = new TopicTrie<Sub>();
    trie.add('a/+', { id: 1 });
    assert.equal(trie.match('a/b'), trie.match('a/b'));
  });

  it('a trie without cache still answers correctly, with fresh arrays', () => {
    const trie = new TopicTrie<Sub>({ cacheSize: 0 });
    trie.add('a/+', { id: 1 });
    const first = trie.match('a/b');
    assert.notEqual(trie.match('a/b'), first);
    assert.deepEqual(trie.match('a/b'), first);
  });

  const invalidation: [name: string, filter: string, topic: string][] = [
    ['exact filter', 'a/b', 'a/b'],
    ['+ filter', 'a/+', 'a/b'],
    ['# filter', 'a/#', 'a/b'],
    ['# filter matching the parent', 'a/#', 'a'],
    ['root #', '#', 'a/b'],
    ['$ topic, $ filter', '$SYS/#', '$SYS/x'],
    ['empty level', '+/+', '/x'],
  ];
  for (const [name, filter, topic] of invalidation) {
    it(`add/remove invalidates the cached result (${name})`, () => {
      const trie = new TopicTrie<Sub>();
      const old = { id: 1 };
      const v = { id: 2 };
      trie.add('zzz/#', old);
      assert.equal(trie.match(topic).length, 0); // cached empty
      trie.add(filter, v);
      assert.deepEqual(trie.match(topic), [v]);
      trie.add(filter, { id: 3 });
      assert.deepEqual(ids(trie.match(topic)), [2, 3]);
      trie.remove(filter, v);
      assert.deepEqual(ids(trie.match(topic)), [3]);
      trie.remove(filter, { id: 3 }); // not stored: nothing changes
      assert.deepEqual(ids(trie.match(topic)), [3]);
    });
  }

  it('keeps cached results that the changed filter does not match', () => {
    const trie = new TopicTrie<Sub>();
    trie.add('a/+', { id: 1 });
    const ab = trie.match('a/b');
    const sys = trie.match('$SYS/x');
    trie.add('c/#', { id: 2 });
    trie.add('#', { id: 3 }); // does not match '$SYS/x' [MQTT-4.7.2-1]
    trie.add('a/b/c', { id: 4 });
    assert.equal(trie.match('$SYS/x'), sys);
    assert.notEqual(trie.match('a/b'), ab); // '#' matched it
    assert.deepEqual(ids(trie.match('a/b')), [1, 3]);
  });

  it('stays bounded and correct when the cache overflows', () => {
    const trie = new TopicTrie<Sub>({ cacheSize: 8 });
    const v = { id: 1 };
    trie.add('t/+', v);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) assert.deepEqual(trie.match(`t/${i}`), [v]);
    }
    const cache = (trie as unknown as { cache: Map<string, unknown> }).cache;
    assert.ok(cache.size <= 8, `cache grew to ${cache.size}`);
    trie.remove('t/+', v);
    for (let i = 0; i < 50; i++) assert.equal(trie.match(`t/${i}`).length, 0);
  });
});
