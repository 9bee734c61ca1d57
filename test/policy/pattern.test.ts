import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GlobPattern } from '../../src/policy/pattern.js';
import { prng } from '../helpers/prng.js';

// [pattern, text, matches]
const cases: ReadonlyArray<readonly [string, string, boolean]> = [
  // exact
  ['topic/a/b', 'topic/a/b', true],
  ['topic/a/b', 'topic/a/bc', false],
  ['topic/a/b', 'topic/A/b', false], // case-sensitive
  ['', '', true],
  ['', 'x', false],
  // * spans any run, including '/' and nothing
  ['*', '', true],
  ['*', 'anything/at/all', true],
  ['topic/fleet/*', 'topic/fleet/truck9/gps/lat', true],
  ['topic/fleet/*', 'topic/fleet/', true],
  ['topic/fleet/*', 'topic/fleet', false],
  ['topic/fleet/*', 'topic/fleets', false],
  ['*/status', 'topic/x/status', true],
  ['*/status', 'topic/x/statuses', false],
  ['topic/*/status', 'topic/a/b/c/status', true],
  ['topic/*/status', 'topic//status', true],
  ['topic/*/status', 'topic/status', false],
  ['a*b*c', 'abc', true],
  ['a*b*c', 'aXbYc', true],
  ['a*b*c', 'aXbYcZ', false],
  ['a*b*c', 'acb', false],
  ['a**b', 'ab', true],
  ['a*a', 'a', false], // head and tail may not overlap
  ['a*a', 'aa', true],
  ['ab*ba', 'aba', false],
  ['a?*?b', 'axyb', true],
  ['a?*?b', 'axb', false],
  ['x/*/y/?/*', 'x/1/2/y/3/', true],
  ['x/*/y/?/*', 'x/1/2/y/34', false],
  ['*a*', 'bab', true],
  ['*a*', 'bbb', false],
  // ? is exactly one character
  ['topic/rack/??/power', 'topic/rack/07/power', true],
  ['topic/rack/??/power', 'topic/rack/7/power', false],
  ['topic/rack/??/power', 'topic/rack/007/power', false],
  ['?', '/', true],
  ['?', '', false],
  ['a?c', 'abc', true],
  ['*?', '', false],
  ['*?', 'x', true],
  ['?*?', 'xy', true],
  ['?*?', 'x', false],
  // ? is one character even outside the BMP
  ['topic/?', 'topic/\u{1F600}', true],
  ['topic/??', 'topic/\u{1F600}', false],
  ['*??', 'a\u{1F600}', true],
  ['*??', '\u{1F600}', false],
  // + and # are ordinary characters
  ['topicfilter/hall/+', 'topicfilter/hall/+', true],
  ['topicfilter/hall/+', 'topicfilter/hall/lobby', false],
  ['topicfilter/logs/#', 'topicfilter/logs/app', false],
  ['topicfilter/hall/*', 'topicfilter/hall/#', true],
  // ARN segments
  ['arn:aws:iot:*:*:topic/beacon', 'arn:aws:iot:us-east-1:123456789012:topic/beacon', true],
  ['arn:aws:iot:eu-west-1:*:topic/beacon', 'arn:aws:iot:us-east-1:123456789012:topic/beacon', false],
];

describe('GlobPattern.compile', () => {
  for (const [pattern, text, expected] of cases) {
    test(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, () => {
      assert.equal(GlobPattern.compile(pattern).matches(text), expected);
    });
  }

  test('agrees with a reference RegExp on random patterns and texts', () => {
    // Deterministic PRNG so a failure is reproducible.
    const random = prng(0x5eed);
    const pick = (alphabet: string, max: number): string => {
      let out = '';
      const n = Math.floor(random() * (max + 1));
      for (let i = 0; i < n; i++) out += alphabet[Math.floor(random() * alphabet.length)];
      return out;
    };
    const reference = (pattern: string): RegExp =>
      new RegExp(`^${[...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[/]/g, '\\/'))).join('')}$`, 's');
    for (let i = 0; i < 5000; i++) {
      const pattern = pick('ab/*?', 8);
      const text = pick('ab/', 10);
      assert.equal(GlobPattern.compile(pattern).matches(text), reference(pattern).test(text), `${pattern} vs ${text}`);
    }
  });

  test('pathological patterns finish quickly (no exponential backtracking)', () => {
    const pattern = GlobPattern.compile('*a*a*a*a*a*a*a*a*a*a*b');
    const text = 'a'.repeat(5000);
    const started = performance.now();
    assert.equal(pattern.matches(text), false);
    assert.ok(performance.now() - started < 500);
  });
});

describe('GlobPattern.fromPieces', () => {
  // Literal pieces come from ${*} ${?} ${$} escapes and substituted variables.
  const cases: ReadonlyArray<readonly [string, Array<{ text: string; literal: boolean }>, string, boolean]> = [
    ['literal star is not a wildcard', [{ text: 'topic/', literal: false }, { text: '*', literal: true }], 'topic/*', true],
    ['literal star does not match other text', [{ text: 'topic/', literal: false }, { text: '*', literal: true }], 'topic/a', false],
    ['literal ? is not a wildcard', [{ text: 'a', literal: false }, { text: '?', literal: true }], 'ab', false],
    ['literal value then wildcard', [{ text: 'd/', literal: false }, { text: 'x*', literal: true }, { text: '/*', literal: false }], 'd/x*/y', true],
    ['literal value then wildcard, other client', [{ text: 'd/', literal: false }, { text: 'x*', literal: true }, { text: '/*', literal: false }], 'd/xyz/y', false],
    ['authored wildcard still works', [{ text: 'a*', literal: false }], 'abc', true],
  ];
  for (const [name, pieces, text, expected] of cases) {
    test(name, () => {
      assert.equal(GlobPattern.fromPieces(pieces).matches(text), expected);
    });
  }

  test('never matches nothing, not even the empty string', () => {
    assert.equal(GlobPattern.never.matches(''), false);
    assert.equal(GlobPattern.never.matches('*'), false);
  });

  test('isExact tells wildcard-free patterns apart', () => {
    assert.equal(GlobPattern.compile('a/b').isExact, true);
    assert.equal(GlobPattern.compile('a/*').isExact, false);
    assert.equal(GlobPattern.fromPieces([{ text: '*', literal: true }]).isExact, true);
  });
});
