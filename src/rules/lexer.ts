/**
 * Tokens of the AWS IoT rules SQL (iot-sql-reference.md and the pages it links).
 *
 *   identifiers   color  state_2  _x          (case-sensitive: they name JSON keys)
 *   keywords      SELECT select Select         (case-insensitive; told apart by the parser)
 *   variables     @temp_celsius                (iot-sql-set.md: letters, digits, underscores)
 *   numbers       7  22.5  5E-12  1e3          (no sign: `-5` is unary minus applied to 5)
 *   strings       'red'  "base64"  'it''s'  "a\"b"
 *   punctuation   ( ) [ ] { } , . : + - * / % = <> != < <= > >=
 *
 * Both quote characters delimit strings (the docs use `decode(x, "base64")` and
 * `WHERE n = 'temperature'`). Inside a string a backslash escapes `\ ' " / b f n r t uXXXX`;
 * any other backslash is kept as written so regular expressions such as `'\d+'` survive, and a
 * doubled quote stands for one. The SQL has no comments (aws-iot-reference §7.2), so `--` is
 * two minus signs.
 *
 * The lexer is pull-based and can start at any offset, so a substitution template can lex
 * the expression inside `${...}` and stop at the closing brace.
 */
import { sqlErrorAt } from './errors.js';

export type TokenKind = 'ident' | 'variable' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Identifier or variable name (without `@`), string contents, punctuation text, number text. */
  readonly text: string;
  /** Parsed value of a number token. */
  readonly number: number;
  /** Offset of the first character in the source. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

const TWO_CHAR_PUNCT = new Set(['<>', '!=', '<=', '>=']);
const ONE_CHAR_PUNCT = new Set(['(', ')', '[', ']', '{', '}', ',', '.', ':', '+', '-', '*', '/', '%', '=', '<', '>']);

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f; // a-z A-Z _
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x0b || c === 0xa0 || c === 0xfeff;
}

export class Lexer {
  private pos: number;
  /** Tokens read ahead of the parser (at most a few). */
  private readonly ahead: Token[] = [];

  constructor(
    readonly source: string,
    start = 0,
  ) {
    this.pos = start;
  }

  /** The token `n` places ahead (0 = the next one) without consuming it. */
  peek(n = 0): Token {
    while (this.ahead.length <= n) this.ahead.push(this.scan());
    return this.ahead[n]!;
  }

  next(): Token {
    return this.ahead.length > 0 ? this.ahead.shift()! : this.scan();
  }

  private scan(): Token {
    const src = this.source;
    const n = src.length;
    let i = this.pos;
    while (i < n && isSpace(src.charCodeAt(i))) i++;
    if (i >= n) {
      this.pos = n;
      return { kind: 'eof', text: '', number: 0, start: n, end: n };
    }
    const start = i;
    const c = src.charCodeAt(i);

    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(src.charCodeAt(i))) i++;
      this.pos = i;
      return { kind: 'ident', text: src.slice(start, i), number: 0, start, end: i };
    }

    if (c === 0x40 /* @ */) {
      i++;
      while (i < n && isIdentPart(src.charCodeAt(i))) i++;
      if (i === start + 1) throw sqlErrorAt(src, start, 'SQL_SYNTAX', 'expected a variable name after @');
      this.pos = i;
      return { kind: 'variable', text: src.slice(start + 1, i), number: 0, start, end: i };
    }

    if (isDigit(c)) {
      while (i < n && isDigit(src.charCodeAt(i))) i++;
      if (src.charCodeAt(i) === 0x2e /* . */ && isDigit(src.charCodeAt(i + 1))) {
        i++;
        while (i < n && isDigit(src.charCodeAt(i))) i++;
      }
      const e = src.charCodeAt(i);
      if (e === 0x65 || e === 0x45 /* e E */) {
        let j = i + 1;
        const sign = src.charCodeAt(j);
        if (sign === 0x2d || sign === 0x2b) j++;
        if (isDigit(src.charCodeAt(j))) {
          while (j < n && isDigit(src.charCodeAt(j))) j++;
          i = j;
        }
      }
      if (i < n && isIdentStart(src.charCodeAt(i))) {
        throw sqlErrorAt(src, i, 'SQL_SYNTAX', `unexpected '${src[i]}' after a number`);
      }
      const text = src.slice(start, i);
      this.pos = i;
      return { kind: 'number', text, number: Number(text), start, end: i };
    }

    if (c === 0x27 || c === 0x22 /* ' " */) return this.scanString(start, c);

    const two = src.slice(i, i + 2);
    if (TWO_CHAR_PUNCT.has(two)) {
      this.pos = i + 2;
      return { kind: 'punct', text: two, number: 0, start, end: i + 2 };
    }
    const one = src[i]!;
    if (ONE_CHAR_PUNCT.has(one)) {
      this.pos = i + 1;
      return { kind: 'punct', text: one, number: 0, start, end: i + 1 };
    }
    throw sqlErrorAt(src, start, 'SQL_SYNTAX', `unexpected character '${one}'`);
  }

  private scanString(start: number, quote: number): Token {
    const src = this.source;
    const n = src.length;
    let i = start + 1;
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= n) throw sqlErrorAt(src, start, 'SQL_UNTERMINATED_STRING');
      const c = src.charCodeAt(i);
      if (c === quote) {
        if (src.charCodeAt(i + 1) === quote) {
          // SQL style: a doubled quote stands for one.
          out += src.slice(chunk, i + 1);
          i += 2;
          chunk = i;
          continue;
        }
        out += src.slice(chunk, i);
        this.pos = i + 1;
        return { kind: 'string', text: out, number: 0, start, end: i + 1 };
      }
      if (c === 0x5c /* \ */) {
        out += src.slice(chunk, i);
        const e = src[i + 1];
        if (e === undefined) throw sqlErrorAt(src, start, 'SQL_UNTERMINATED_STRING');
        const simple = SIMPLE_ESCAPES[e];
        if (simple !== undefined) {
          out += simple;
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          // Not an escape we know: keep the backslash, so regexes like '\d' or '\.' work.
          out += '\\';
          i += 1;
        }
        chunk = i;
        continue;
      }
      i++;
    }
  }
}

/** How a token reads in an error message. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return 'a string';
    case 'variable':
      return `'@${t.text}'`;
    default:
      return `'${t.text}'`;
  }
}
