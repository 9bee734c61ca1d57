/**
 * Compile-time errors of the rules SQL and of substitution templates.
 *
 * Everything that can be known from the text alone fails when the rule (or the action's
 * template) is created, never when a message arrives: syntax, unknown or unsupported
 * functions, wrong arity, an undefined `@variable`, a feature the rule's SQL version lacks.
 * Run-time problems follow AWS semantics instead (the value is `Undefined`), see evaluate.ts.
 *
 * Codes are stable (the admin API and logs key on them); the summary is the fixed part of the
 * message and the detail says what was found. Line and column are 1-based, counted in UTF-16
 * code units as an editor does for the BMP; a tab is one column.
 */
export const SQL_ERROR_SUMMARIES = {
  SQL_SYNTAX: 'syntax error',
  SQL_UNTERMINATED_STRING: 'unterminated string literal',
  SQL_UNKNOWN_FUNCTION: 'unknown function',
  SQL_UNSUPPORTED_FUNCTION: 'function not supported by Switchboard',
  SQL_WRONG_ARITY: 'wrong number of arguments',
  SQL_INVALID_ARGUMENT: 'invalid argument',
  SQL_UNKNOWN_CAST_TYPE: 'unknown type in cast',
  SQL_UNDEFINED_VARIABLE: 'variable is not defined by the SET clause',
  SQL_DUPLICATE_VARIABLE: 'variable is assigned more than once',
  SQL_VARIABLE_LIMIT: 'too many SET variables',
  SQL_VERSION: 'not available in this SQL version',
  SQL_INVALID_TOPIC_FILTER: 'invalid topic filter in FROM',
  SQL_UNTERMINATED_TEMPLATE: 'unterminated ${...} in substitution template',
} as const;

export type SqlErrorCode = keyof typeof SQL_ERROR_SUMMARIES;

export class SqlError extends Error {
  override readonly name = 'SqlError';
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly code: SqlErrorCode;
  /** The part of the message after the summary, e.g. `expected FROM, found 'WHERE'`. */
  readonly detail: string;

  constructor(code: SqlErrorCode, line: number, column: number, detail = '') {
    const summary = SQL_ERROR_SUMMARIES[code];
    super(`line ${line}, column ${column}: ${detail === '' ? summary : `${summary}: ${detail}`}`);
    this.code = code;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
}

/** Line and column (1-based) of `offset` in `source`; `\r\n`, `\n` and `\r` each end a line. */
export function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && source.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** An SqlError positioned at `offset` of `source`. */
export function sqlErrorAt(source: string, offset: number, code: SqlErrorCode, detail?: string): SqlError {
  const { line, column } = lineColumn(source, offset);
  return new SqlError(code, line, column, detail);
}
