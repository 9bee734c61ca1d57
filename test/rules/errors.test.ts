// Compile-time errors: every problem the text shows fails at rule creation, with a stable code
// and the 1-based line and column of the offending token.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileRule, SqlError, type SqlErrorCode } from '../../src/rules/index.js';

type ErrorCase = readonly [sql: string, code: SqlErrorCode, line: number, column: number];

function expectError(sql: string, code: SqlErrorCode, line: number, column: number, options?: Parameters<typeof compileRule>[1]): void {
  assert.throws(
    () => compileRule(sql, options),
    (e: unknown) => {
      assert.ok(e instanceof SqlError, `not an SqlError: ${String(e)}`);
      assert.deepEqual({ code: e.code, line: e.line, column: e.column }, { code, line, column }, e.message);
      assert.match(e.message, new RegExp(`^line ${line}, column ${column}: `));
      return true;
    },
  );
}

function cases(name: string, rows: readonly ErrorCase[], options?: Parameters<typeof compileRule>[1]): void {
  describe(name, () => {
    for (const [sql, code, line, column] of rows) test(JSON.stringify(sql), () => expectError(sql, code, line, column, options));
  });
}

cases('syntax', [
  ["SELECT FROM 't'", 'SQL_SYNTAX', 1, 8],
  ['SELECT a', 'SQL_SYNTAX', 1, 9],
  ['SELECT a FROM t', 'SQL_SYNTAX', 1, 15], // the topic filter must be quoted
  ["SELECT a FROM 't' WHERE", 'SQL_SYNTAX', 1, 24],
  ["SELECT a FROM 't' WHERE a >", 'SQL_SYNTAX', 1, 28],
  ["SELECT a FROM 't' LIMIT 1", 'SQL_SYNTAX', 1, 19],
  ["SELECT a b FROM 't'", 'SQL_SYNTAX', 1, 10],
  ["SELECT (a FROM 't'", 'SQL_SYNTAX', 1, 11],
  ["SELECT a, FROM 't'", 'SQL_SYNTAX', 1, 11],
  ["SELECT a AS FROM 't'", 'SQL_SYNTAX', 1, 18],
  ["SELECT a; FROM 't'", 'SQL_SYNTAX', 1, 9],
  ["SELECT a # b FROM 't'", 'SQL_SYNTAX', 1, 10],
  ["SELECT VALUE a, b FROM 't'", 'SQL_SYNTAX', 1, 17],
  ["SELECT VALUE a AS x FROM 't'", 'SQL_SYNTAX', 1, 16],
  ["SELECT CASE WHEN a THEN 1 FROM 't'", 'SQL_SYNTAX', 1, 27],
  ["SELECT CASE a END FROM 't'", 'SQL_SYNTAX', 1, 15],
  ["SELECT a.0 FROM 't'", 'SQL_SYNTAX', 1, 10],
  ["SELECT 12abc FROM 't'", 'SQL_SYNTAX', 1, 10],
  ["SELECT @ FROM 't'", 'SQL_SYNTAX', 1, 8],
  ["SELECT {1: 2} AS o FROM 't'", 'SQL_SYNTAX', 1, 9],
  ["SELECT cast(a, Int) FROM 't'", 'SQL_SYNTAX', 1, 14],
  ["SET x = 1 SELECT a FROM 't'", 'SQL_SYNTAX', 1, 5],
  ["SET @x = 1 @y = 2 SELECT a FROM 't'", 'SQL_SYNTAX', 1, 12],
  ["SELECT a FROM 't' WHERE b = 1 SELECT", 'SQL_SYNTAX', 1, 31],
]);

cases('strings', [
  ["SELECT 'abc FROM 't'", 'SQL_SYNTAX', 1, 19], // the string runs to the second quote; then `t` is unexpected
  ["SELECT a FROM 't", 'SQL_UNTERMINATED_STRING', 1, 15],
  ['SELECT "a FROM \'t\'', 'SQL_UNTERMINATED_STRING', 1, 8],
]);

describe('line and column over several lines', () => {
  test('the error on the third line', () => {
    expectError("SELECT a,\n  b AS x\n  FROM 't' WHERE c = = 1", 'SQL_SYNTAX', 3, 22);
  });
  test('CRLF line ends count once', () => {
    expectError("SELECT a,\r\n  foo(1)\r\nFROM 't'", 'SQL_UNKNOWN_FUNCTION', 2, 3);
  });
  test('tabs are one column', () => {
    expectError("SELECT\n\t\tnope()\nFROM 't'", 'SQL_UNKNOWN_FUNCTION', 2, 3);
  });
});

cases('functions', [
  ["SELECT foo(1) FROM 't'", 'SQL_UNKNOWN_FUNCTION', 1, 8],
  ["SELECT a FROM 't' WHERE upper(a) = lowerr(b)", 'SQL_UNKNOWN_FUNCTION', 1, 36],
  ["SELECT constructor() FROM 't'", 'SQL_UNKNOWN_FUNCTION', 1, 8],
  ["SELECT abs() FROM 't'", 'SQL_WRONG_ARITY', 1, 8],
  ["SELECT abs(1, 2) FROM 't'", 'SQL_WRONG_ARITY', 1, 8],
  ["SELECT topic(1, 2) FROM 't'", 'SQL_WRONG_ARITY', 1, 8],
  ["SELECT substring('a') FROM 't'", 'SQL_WRONG_ARITY', 1, 8],
  ["SELECT x, timestamp(1) FROM 't'", 'SQL_WRONG_ARITY', 1, 11],
  ["SELECT (SELECT VALUE upper() FROM e) AS y FROM 't'", 'SQL_WRONG_ARITY', 1, 22],
  ["SELECT aws_lambda('arn', *) FROM 't'", 'SQL_UNSUPPORTED_FUNCTION', 1, 8],
  ["SELECT get_dynamodb('t', 'k', id, 'arn') FROM 't'", 'SQL_UNSUPPORTED_FUNCTION', 1, 8],
  ["SELECT encode(*, 'hex') FROM 't'", 'SQL_INVALID_ARGUMENT', 1, 18],
  ["SELECT encode(*, scheme) FROM 't'", 'SQL_INVALID_ARGUMENT', 1, 18],
  ["SELECT decode(a, 'proto', 'b', 'k', 'p', 'm') FROM 't'", 'SQL_UNSUPPORTED_FUNCTION', 1, 18],
  ["SELECT decode(a, 'base64', 'x') FROM 't'", 'SQL_WRONG_ARITY', 1, 8],
  ["SELECT cast(a AS Float) FROM 't'", 'SQL_UNKNOWN_CAST_TYPE', 1, 18],
]);

cases('variables', [
  ["SELECT @x FROM 't'", 'SQL_UNDEFINED_VARIABLE', 1, 8],
  ["SET @x = @x + 1 SELECT @x FROM 't'", 'SQL_UNDEFINED_VARIABLE', 1, 10],
  ["SET @x = @y, @y = 1 SELECT @x FROM 't'", 'SQL_UNDEFINED_VARIABLE', 1, 10],
  ["SET @x = 1, @x = 2 SELECT @x FROM 't'", 'SQL_DUPLICATE_VARIABLE', 1, 13],
  [`SET @${'v'.repeat(65)} = 1 SELECT a FROM 't'`, 'SQL_SYNTAX', 1, 5],
  [
    `SET ${Array.from({ length: 11 }, (_, i) => `@v${i} = ${i}`).join(', ')} SELECT a FROM 't'`,
    'SQL_VARIABLE_LIMIT',
    1,
    5 + Array.from({ length: 10 }, (_, i) => `@v${i} = ${i}, `).join('').length,
  ],
]);

cases(
  'SQL version 2015-10-08',
  [
    ["SET @x = 1 SELECT @x FROM 't'", 'SQL_VERSION', 1, 5],
    ["SELECT {'a': 1} AS o FROM 't'", 'SQL_VERSION', 1, 8],
    ["SELECT encode(*, 'base64') AS d FROM 't'", 'SQL_VERSION', 1, 8],
    ["SELECT a FROM 't' WHERE isUndefined(b)", 'SQL_VERSION', 1, 25],
    ["SELECT cast(a AS Boolean) AS b FROM 't'", 'SQL_VERSION', 1, 18],
  ],
  { sqlVersion: '2015-10-08' },
);

cases('topic filter', [
  ["SELECT a FROM ''", 'SQL_INVALID_TOPIC_FILTER', 1, 15],
  ["SELECT a FROM 'a/#/b'", 'SQL_INVALID_TOPIC_FILTER', 1, 15],
  ["SELECT a FROM 'a+'", 'SQL_INVALID_TOPIC_FILTER', 1, 15],
  ["SELECT a FROM '$share/g/a'", 'SQL_INVALID_TOPIC_FILTER', 1, 15],
]);

describe('valid statements compile', () => {
  const ok = [
    "select value color from 'a'", // keywords in any case
    "SELECT value FROM 'a'", // `value` as a field name
    "SELECT value, x FROM 'a'",
    "SELECT a.value AS end FROM 'a'", // any name after '.' and AS
    "SELECT * FROM '$aws/events/presence/connected/+'",
    "SELECT a FROM 'a/b' WHERE a IN [1, 2] AND NOT b NOT IN [3]",
    "SELECT Round(1.5) AS r, IsNull(a) AS n FROM 'a'", // function names in any case
    "SELECT 'it''s', \"say \\\"hi\\\"\", '\\u00e9' FROM 'a'",
    "SELECT regexp_matches(a, '\\d+') AS m FROM 'a'",
  ];
  for (const sql of ok) test(sql, () => assert.doesNotThrow(() => compileRule(sql)));
});

describe('run-time problems are Undefined, never exceptions', () => {
  test('deeply nested payloads and odd values do not escape evaluate()', () => {
    let deep = '1';
    for (let i = 0; i < 10000; i++) deep = `[${deep}]`;
    const rule = compileRule("SELECT lower(*) AS s FROM 't'");
    const out = rule.evaluate({ topic: 't', payload: Buffer.from(deep), timestamp: 0 });
    assert.ok(out === null || out.kind === 'json');
  });
});
