// The console's JSON pretty-printer keeps every token as written (issue 17: 12345678901234567890
// and 1.10 were shown as 12345678901234567000 and 1.1 after a JSON.parse round trip).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prettyJson, prettyJsonText } from '../../src/console/components/json-text.js';

test('numbers, strings and literals are printed exactly as written', () => {
  const text = '{"big":12345678901234567890,"dec":1.10,"exp":1E+400,"neg":-0.0,"s":"a\\u00e9\\"b","l":[true,false,null]}';
  assert.equal(
    prettyJsonText(text),
    '{\n  "big": 12345678901234567890,\n  "dec": 1.10,\n  "exp": 1E+400,\n  "neg": -0.0,\n  "s": "a\\u00e9\\"b",\n  "l": [\n    true,\n    false,\n    null\n  ]\n}',
  );
});

test('indents as JSON.stringify(v, null, 2) does when no number changes', () => {
  const samples = ['{}', '[]', '{"a":{},"b":[],"c":[{"d":[1,[2,[]]]}]}', ' [ 1 , "x" ,\n{ "k" : null } ] ', '{"emoji":"😀","key with : and ,":"{[]}"}'];
  for (const s of samples) assert.equal(prettyJsonText(s), JSON.stringify(JSON.parse(s), null, 2), s);
});

test('keys are told apart from string values', () => {
  const parts = prettyJson('{"k":"v"}')!.filter((p) => p.kind === 'key' || p.kind === 'str');
  assert.deepEqual(parts, [
    { kind: 'key', text: '"k"' },
    { kind: 'str', text: '"v"' },
  ]);
});

test('not a JSON object or array: undefined', () => {
  for (const s of ['', '1', '"x"', 'true', '{', '{"a":}', '[1,]', '{"a":1} x', 'hello', '{a:1}']) assert.equal(prettyJson(s), undefined, s);
});

test('seeded random documents: pretty text parses to the same value as the original', () => {
  let seed = 17;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return [1.5, -2, 'x"y', true, null, 'é\n'][Math.floor(rnd() * 6)];
    if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, (_, i) => [`k${i}`, value(depth + 1)]));
  };
  for (let n = 0; n < 300; n++) {
    const v = { root: value(0) };
    const compact = JSON.stringify(v);
    assert.deepEqual(JSON.parse(prettyJsonText(compact)!), v);
    assert.equal(prettyJsonText(compact), JSON.stringify(v, null, 2));
  }
});
