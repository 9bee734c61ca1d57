import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isSystemTopic,
  parseSharedFilter,
  topicMatches,
  validateTopicFilter,
  validateTopicName,
  type TopicError,
  type TopicLimits,
} from '../../src/protocol/topic.js';

const WIDE: TopicLimits = { maxTopicBytes: 65535, maxTopicLevels: 1000 };
const AWS: TopicLimits = { maxTopicBytes: 256, maxTopicLevels: 8 };
const TINY: TopicLimits = { maxTopicBytes: 6, maxTopicLevels: 3 };
const SHALLOW: TopicLimits = { maxTopicBytes: 100, maxTopicLevels: 3 };

type Case = [input: string, limits: TopicLimits, expected: TopicError | null];

const nameCases: Case[] = [
  ['a', WIDE, null],
  ['a/b/c', WIDE, null],
  ['/', WIDE, null],
  ['a//b', WIDE, null],
  ['/a/', WIDE, null],
  ['$SYS/broker/uptime', WIDE, null],
  ['$aws/things/t1/shadow/update', WIDE, null],
  ['$share/g/a', WIDE, null], // not special in a topic name
  ['with space', WIDE, null],
  ['tab\there', WIDE, null], // control characters other than U+0000 are accepted (documented)
  ['ü/€/𝄞', WIDE, null],
  ['', WIDE, 'empty'],
  ['+', WIDE, 'wildcard-in-name'],
  ['#', WIDE, 'wildcard-in-name'],
  ['a/+', WIDE, 'wildcard-in-name'],
  ['a/#', WIDE, 'wildcard-in-name'],
  ['a+', WIDE, 'wildcard-in-name'],
  ['a#b', WIDE, 'wildcard-in-name'],
  ['a\u0000b', WIDE, 'null-char'],
  ['\u0000', WIDE, 'null-char'],
  // byte length, not string length
  ['abcdef', TINY, null],
  ['abcdefg', TINY, 'too-long'],
  ['ééé', TINY, null], // 6 bytes
  ['éééé', TINY, 'too-long'], // 4 chars, 8 bytes
  ['€€', TINY, null], // 6 bytes
  ['a€€', TINY, 'too-long'], // 3 chars, 7 bytes
  ['𝄞a', TINY, null], // surrogate pair: 2 units, 4 bytes, +1
  ['𝄞𝄞', TINY, 'too-long'], // 8 bytes
  // levels = number of '/' + 1
  ['a/b/c', TINY, null],
  ['a/b/c/', TINY, 'too-deep'],
  ['//', TINY, null],
  ['///', TINY, 'too-deep'],
  ['a/b/c/d/e/f/g/h', AWS, null],
  ['a/b/c/d/e/f/g/h/i', AWS, 'too-deep'],
  ['x'.repeat(256), AWS, null],
  ['x'.repeat(257), AWS, 'too-long'],
];

const filterCases: Case[] = [
  ['a', WIDE, null],
  ['#', WIDE, null],
  ['+', WIDE, null],
  ['/', WIDE, null],
  ['a//b', WIDE, null],
  ['a/#', WIDE, null],
  ['a/+/b', WIDE, null],
  ['+/+', WIDE, null],
  ['/+', WIDE, null],
  ['+/', WIDE, null],
  ['/#', WIDE, null],
  ['+/#', WIDE, null],
  ['$SYS/#', WIDE, null],
  ['$share', WIDE, null], // no '/', so not a shared subscription
  ['', WIDE, 'empty'],
  ['a/#/b', WIDE, 'bad-wildcard'],
  ['#/a', WIDE, 'bad-wildcard'],
  ['a#', WIDE, 'bad-wildcard'],
  ['a/b#', WIDE, 'bad-wildcard'],
  ['##', WIDE, 'bad-wildcard'],
  ['+#', WIDE, 'bad-wildcard'],
  ['a/+#', WIDE, 'bad-wildcard'],
  ['a+', WIDE, 'bad-wildcard'],
  ['+a', WIDE, 'bad-wildcard'],
  ['a/+b/c', WIDE, 'bad-wildcard'],
  ['++', WIDE, 'bad-wildcard'],
  ['a\u0000', WIDE, 'null-char'],
  ['+/\u0000', WIDE, 'null-char'],
  // shared subscriptions
  ['$share/g/a', WIDE, null],
  ['$share/g/#', WIDE, null],
  ['$share/g/+/x/#', WIDE, null],
  ['$share/g//', WIDE, null], // inner filter '/'
  ['$share/group-1/$SYS/#', WIDE, null],
  ['$share/g/$share/h/x', WIDE, null], // inner '$share/h/x' is an ordinary filter
  ['$share/', WIDE, 'bad-share'],
  ['$share/g', WIDE, 'bad-share'],
  ['$share//a', WIDE, 'bad-share'],
  ['$share/g/', WIDE, 'bad-share'],
  ['$share/g+/a', WIDE, 'bad-share'],
  ['$share/+/a', WIDE, 'bad-share'],
  ['$share/#/a', WIDE, 'bad-share'],
  ['$share/g#x/a', WIDE, 'bad-share'],
  ['$share/g\u0000/a', WIDE, 'null-char'],
  ['$share/g/a/#/b', WIDE, 'bad-wildcard'],
  ['$share/g/a+', WIDE, 'bad-wildcard'],
  ['$share/g/a\u0000', WIDE, 'null-char'],
  // limits
  ['abcdef', TINY, null],
  ['abcdefg', TINY, 'too-long'],
  ['éé/é', TINY, 'too-long'], // 7 bytes
  ['+/+/#', TINY, null],
  ['+/+/+/#', SHALLOW, 'too-deep'],
  ['a/b/c/d/e/f/g/#', AWS, null],
  ['a/b/c/d/e/f/g/h/#', AWS, 'too-deep'],
  // the '$share/group/' prefix does not count toward the limits (AWS behaviour)
  ['$share/a-long-group-name/abcdef', TINY, null],
  ['$share/g/abcdefg', TINY, 'too-long'],
  ['$share/g/a/b/c', TINY, null],
  ['$share/g/a/b/c/d', SHALLOW, 'too-deep'],
  ['$share/g/a/b/c', SHALLOW, null],
  ['$share/g/' + 'x'.repeat(256), AWS, null],
];

describe('validateTopicName', () => {
  for (const [input, limits, expected] of nameCases) {
    it(`${JSON.stringify(input).slice(0, 40)} -> ${expected ?? 'valid'}`, () => {
      assert.equal(validateTopicName(input, limits), expected);
    });
  }
});

describe('validateTopicFilter', () => {
  for (const [input, limits, expected] of filterCases) {
    it(`${JSON.stringify(input).slice(0, 40)} -> ${expected ?? 'valid'}`, () => {
      assert.equal(validateTopicFilter(input, limits), expected);
    });
  }
});

describe('parseSharedFilter', () => {
  const cases: [string, { group: string; filter: string } | null][] = [
    ['$share/g/a/b', { group: 'g', filter: 'a/b' }],
    ['$share/group/#', { group: 'group', filter: '#' }],
    ['$share/g/$share/h/x', { group: 'g', filter: '$share/h/x' }],
    ['a/b', null],
    ['$share', null],
    ['$SHARE/g/a', null], // case-sensitive, like every topic comparison [MQTT-4.7.3-4]
    ['$sharex/g/a', null],
    ['$share/g', null],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseSharedFilter(input), expected);
    });
  }
});

describe('isSystemTopic', () => {
  const cases: [string, boolean][] = [
    ['$SYS/x', true],
    ['$aws/things', true],
    ['$', true],
    ['a/$SYS', false],
    ['', false],
    ['/$', false],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(isSystemTopic(input), expected));
  }
});

/** Obviously-correct matcher over split levels, to cross-check the index-based one. */
function naiveMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

const matchCases: [filter: string, topic: string, expected: boolean][] = [
  ['a', 'a', true],
  ['a', 'b', false],
  ['a', 'a/b', false],
  ['a/b', 'a', false],
  ['a', 'A', false], // case-sensitive
  ['a', 'a/', false],
  ['a/', 'a/', true],
  ['a/', 'a', false],
  // '#'
  ['#', 'a', true],
  ['#', 'a/b/c', true],
  ['#', '/', true],
  ['a/#', 'a', true], // parent level (spec; AWS differs)
  ['a/#', 'a/', true],
  ['a/#', 'a/b', true],
  ['a/#', 'a/b/c', true],
  ['a/#', 'ab', false],
  ['a/#', 'b/a', false],
  ['a/b/#', 'a', false],
  ['/#', '/', true],
  ['/#', '/a', true],
  ['/#', 'a', false],
  // '+'
  ['+', 'a', true],
  ['+', '', true],
  ['+', 'a/b', false],
  ['+', '/', false],
  ['+/+', '/x', true],
  ['+/+', 'x/', true],
  ['+/+', '/', true],
  ['+/+', 'a', false],
  ['a/+', 'a/', true],
  ['a/+', 'a', false],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a//c', true],
  ['a/+/c', 'a/b/d', false],
  ['+/b/#', 'a/b', true],
  ['+/b/#', 'a/b/c/d', true],
  ['+/+/#', 'a', false],
  ['+/#', 'a', true],
  // empty levels
  ['a//b', 'a//b', true],
  ['a//b', 'a/b', false],
  ['a/b', 'a//b', false],
  ['/', '/', true],
  ['//', '/', false],
  // '$' topics [MQTT-4.7.2-1]
  ['#', '$SYS', false],
  ['#', '$SYS/uptime', false],
  ['+/uptime', '$SYS/uptime', false],
  ['+', '$SYS', false],
  ['+/#', '$aws/things/t1', false],
  ['+/+/+', '$aws/things/t1', false],
  ['$SYS/#', '$SYS', true],
  ['$SYS/#', '$SYS/uptime', true],
  ['$SYS/+', '$SYS/uptime', true],
  ['$aws/things/+/shadow/#', '$aws/things/t1/shadow/update', true],
  ['$aws/+/t1', '$aws/things/t1', true],
  ['a/+', 'a/$x', true], // only the first level is special
  ['a/#', 'a/$x', true],
  ['#', 'a/$x', true],
  ['/#', '/$x', true],
];

describe('topicMatches', () => {
  for (const [filter, topic, expected] of matchCases) {
    it(`${JSON.stringify(filter)} vs ${JSON.stringify(topic)} -> ${expected}`, () => {
      assert.equal(topicMatches(filter, topic), expected);
      assert.equal(naiveMatches(filter, topic), expected, 'naive reference disagrees with the table');
    });
  }

  it('agrees with the naive split-based matcher on every pair of a generated set', () => {
    const parts = ['', 'a', 'b', '$x'];
    const topics: string[] = [];
    const build = (prefix: string, depth: number): void => {
      if (depth > 0 && validateTopicName(prefix, WIDE) === null) topics.push(prefix);
      if (depth === 3) return;
      for (const p of parts) build(depth === 0 ? p : `${prefix}/${p}`, depth + 1);
    };
    build('', 0);
    const filters = new Set<string>();
    for (const t of topics) {
      const levels = t.split('/');
      for (let mask = 0; mask < 1 << levels.length; mask++) {
        const f = levels.map((l, i) => (mask & (1 << i) ? '+' : l));
        filters.add(f.join('/'));
        for (let cut = 0; cut <= f.length; cut++) filters.add([...f.slice(0, cut), '#'].join('/'));
      }
    }
    let checked = 0;
    for (const f of filters) {
      if (validateTopicFilter(f, WIDE) !== null) continue;
      for (const t of topics) {
        assert.equal(topicMatches(f, t), naiveMatches(f, t), `${f} vs ${t}`);
        checked++;
      }
    }
    assert.ok(checked > 10000, `only ${checked} pairs checked`);
  });
});
