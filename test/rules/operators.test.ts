// Operators and the Undefined rules, from the operator tables and the data-types page.
// Expected values are written from the documentation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { json, run, UNDEFINED, value, type Case } from './helpers.js';

const U = UNDEFINED;

function rows(name: string, cases: readonly Case[]): void {
  describe(name, () => {
    for (const [expr, expected, payload] of cases) {
      test(`${expr}${payload === undefined ? '' : ` on ${JSON.stringify(payload)}`}`, () => {
        assert.deepEqual(value(expr, payload ?? {}), expected);
      });
    }
  });
}

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html
describe('iot-sql-operators.md', () => {
  rows('AND', [
    ['true AND true', true],
    ['true AND false', false],
    ['"TRUE" AND "true"', true], // String/Boolean: "true"/"false" in any case convert
    ['"false" AND true', false],
    ['true AND "yes"', U], // other value
    ['true AND 1', U],
    ['false AND missing', U],
  ]);

  rows('OR', [
    ['false OR true', true],
    ['false OR false', false],
    ['"False" OR "TRUE"', true],
    ['true OR null', U],
    ['missing OR true', U],
  ]);

  rows('NOT', [
    ['NOT true', false],
    ['NOT false', true],
    ['NOT "FALSE"', true],
    ['NOT 0', U],
    ['NOT missing', U],
  ]);

  describe('IN', () => {
    test('the docs example: where 3 in arr on {"arr":[1, 2, 3, "three", 5.7, null]}', () => {
      const payload = { arr: [1, 2, 3, 'three', 5.7, null] };
      assert.deepEqual(json("select * from 'a/b' where 3 in arr", payload), payload);
    });
    const payload = { arr: [1, 2, 3, 'three', 5.7, null, [1, 2], { k: 'v' }] };
    const cases: Case[] = [
      ['"three" in arr', true, payload],
      ['5.7 in arr', true, payload],
      ['[1, 2] in arr', true, payload],
      ['{"k": "v"} in arr', true, payload],
      ['4 in arr', false, payload],
      ['"3" in arr', false, payload], // mismatched types are not equal
      ['4 not in arr', true, payload],
    ];
    for (const [expr, expected, p] of cases) test(expr, () => assert.deepEqual(value(expr, p), expected));
  });

  describe('EXISTS', () => {
    test('select * from arr as a where a = 3 on {"arr":[1, 2, 3]}', () => {
      const payload = { arr: [1, 2, 3] };
      assert.deepEqual(json("select * from 'a/b' where exists (select * from arr as a where a = 3)", payload), payload);
      assert.equal(run("select * from 'a/b' where exists (select * from arr as a where a = 4)", payload), null);
    });
    test('select * from e as e where foo = 2 on {"foo":4,"bar":5,"e":[{"foo":1},{"foo":2}]}', () => {
      const payload = { foo: 4, bar: 5, e: [{ foo: 1 }, { foo: 2 }] };
      assert.deepEqual(json("select * from 'a/b' where exists (select * from e as e where foo = 2)", payload), payload);
    });
  });

  rows('> >= < <=', [
    ['3 > 2', true],
    ['2 > 3', false],
    ['2.5 >= 2.5', true],
    ['1 < 1.5', true],
    ['2 <= 1', false],
    ['"10" > 9', true], // all strings convert to Decimal: compared as numbers
    ['"10" > "9"', true],
    ['"abc" > 1', U],
    ['"a" < "b"', U], // not a numeric comparison
    ['true > false', U], // other value
    ['null < 1', U],
    ['missing > 1', U],
    ['[2] > [1]', U],
  ]);

  rows('=', [
    ['1 = 1', true],
    ['1 = 1.0', true], // Int converted to Decimal
    ['1.5 = 1.5', true],
    ['"a" = "a"', true],
    ['"a" = "A"', false],
    ['[1, "a"] = [1, "a"]', true],
    ['[1, "a"] = ["a", 1]', false], // same order
    ['{"a": 1, "b": 2} = {"b": 2, "a": 1}', true], // order of keys unimportant
    ['{"a": 1} = {"a": 2}', false],
    ['null = null', true],
    ['true = true', true],
    ['1 = missing', U],
    ['missing = 1', U],
    ['missing = missing', U],
    ['"1" = 1', false], // mismatched type
    ['null = 0', false],
  ]);

  rows('<> and !=', [
    ['1 <> 2', true],
    ['1 <> 1.0', false],
    ['"a" <> "b"', true],
    ['[1, 2] <> [2, 1]', true],
    ['{"a": 1} <> {"a": 1}', false],
    ['null <> null', false],
    ['1 <> missing', U],
    ['missing <> 1', U],
    ['"1" <> 1', true],
    ['1 != 2', true],
  ]);

  rows('+', [
    ['"a" + "b"', 'ab'],
    ['"a" + 1', 'a1'], // String + any value: right converted to String
    ['1 + "a"', '1a'],
    ['"n=" + 1.5', 'n=1.5'],
    ['"x" + true', 'xtrue'],
    ['"x" + [1, 2]', 'x[1,2]'],
    ['"x" + null', U], // Null does not convert to String
    ['"x" + missing', U],
    ['1 + 2', 3],
    ['1 + 2.5', 3.5],
    ['true + 1', U],
    ['null + 1', U],
    ['missing + 1', U],
  ]);

  rows('-', [
    ['5 - 3', 2],
    ['5 - 0.5', 4.5],
    ['"5" - 3', 2], // strings convert to Decimal
    ['"5.5" - "0.5"', 5],
    ['"x" - 1', U],
    ['true - 1', U],
    ['missing - 1', U],
  ]);

  rows('*', [
    ['6 * 7', 42],
    ['1.5 * 2', 3],
    ['"1.5" * 2', 3],
    ['"x" * 2', U],
    ['[1] * 2', U],
  ]);

  rows('/', [
    ['7 / 2', 3], // Int / Int: "Int value"
    ['9 / 3', 3],
    ['7.0 / 2', 3], // 7.0 is the Int 7 in SQL version 2016-03-23
    ['7.5 / 2', 3.75], // Int/Decimal: Decimal
    ['"7" / 2', 3.5], // strings convert to Decimal
    ['"x" / 2', U],
    ['1 / 0', U],
    ['null / 2', U],
  ]);

  rows('%', [
    ['8 % 3', 2],
    ['-8 % 3', -2],
    ['8.5 % 3', 2.5],
    ['"8" % 3', 2],
    ['"x" % 3', U],
    ['8 % 0', U],
  ]);

  rows('unary minus', [
    ['-5', -5],
    ['-(2 - 5)', 3],
    ['-"1.5"', -1.5],
    ['-true', U],
  ]);

  rows('precedence', [
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 - 4 - 3', 3],
    ['NOT 1 = 2', true],
    ['true OR false AND false', true],
    ['1 + 1 = 2 AND 3 > 2', true],
  ]);
});

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html
describe('iot-sql-data-types.md', () => {
  test('Null is a value: SELECT NULL AS n', () => {
    assert.deepEqual(json("SELECT NULL AS n FROM 'topic/subtopic'"), { n: null });
  });
  test('{"foo":null, "bar":undefined} is serialized as {"foo":null}', () => {
    assert.deepEqual(json("SELECT foo, bar FROM 't'", { foo: null }), { foo: null });
  });
  test('Undefined serialized by itself is an empty payload', () => {
    const out = run("SELECT VALUE bar FROM 't'", { foo: 1 });
    assert.deepEqual(out, { kind: 'binary', value: Buffer.alloc(0) });
  });
  test('functions called with wrong types or wrong number of arguments at run time return Undefined', () => {
    assert.equal(value('isUndefined(floor([1,2,3]))'), true);
  });
  rows('to decimal: strings matching ^-?\\d+(\\.\\d+)?((?i)E-?\\d+)?$', [
    ['abs("0")', 0],
    ['abs("-1.2")', 1.2],
    ['abs("5E-12")', 5e-12],
    ['abs("5e3")', 5000],
    ['abs("+1")', U],
    ['abs(".5")', U],
    ['abs("1.")', U],
    ['abs(" 1")', U],
    ['abs("1E+2")', U],
  ]);
  rows('to string', [
    ['"" + 12', '12'],
    ['"" + 1.25', '1.25'],
    ['"" + false', 'false'],
    ['"" + ["a", 1, true, null]', '["a",1,true,null]'],
    ['"" + {"k": "v", "n": 2}', '{"k":"v","n":2}'],
  ]);
  rows('to Boolean', [
    ['"TrUe" AND true', true],
    ['1 AND true', U], // Int: Undefined (only cast converts numbers)
  ]);
  test('SQL V2: whole numbers such as 10.0 are processed as Int', () => {
    assert.deepEqual(json("SELECT temperature, humidity, cast(light as double) as newLight FROM 'test/test4'", Buffer.from('{"temperature":23.07,"humidity":49.9397,"light":5.0}')), {
      temperature: 23.07,
      humidity: 49.9397,
      newLight: 5,
    });
  });
});
