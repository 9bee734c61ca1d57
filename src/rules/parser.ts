/**
 * Recursive-descent parser for the AWS IoT rules SQL (iot-sql-reference.md):
 *
 *   statement  := [SET @v = expr {, @v = expr}] SELECT [VALUE] item {, item}
 *                 FROM 'topic/filter' [WHERE expr]
 *   item       := expr [AS name{.name}]                (`AS a.b` builds nested objects, iot-sql-json.md)
 *   expr       := or;  or := and {OR and};  and := not {AND not};  not := NOT not | cmp
 *   cmp        := add {(= | <> | != | < | <= | > | >=) add | [NOT] IN add}
 *   add        := mul {(+ | -) mul};  mul := unary {(* | / | %) unary};  unary := - unary | postfix
 *   postfix    := primary {.name | [expr]}
 *   primary    := number | string | TRUE | FALSE | NULL | * | @var | name | name(args)
 *               | cast(expr AS type) | (expr) | (nested) | EXISTS (nested) | [exprs] | {key: expr, ...}
 *               | CASE [expr] WHEN expr THEN expr ... [ELSE expr] END
 *   nested     := SELECT [VALUE] item {, item} FROM expr [AS name] [WHERE expr]
 *
 * Keywords are case-insensitive and reserved, except VALUE, which is a keyword only directly
 * after SELECT and not followed by something that makes it a field (`SELECT value FROM ...`).
 * After `.` and `AS` any identifier is a name, so `state.value` and `AS end` work.
 *
 * Only syntax is checked here; names, arity and SQL-version features are checked by the
 * compiler so that every error carries the position of the offending token.
 */
import type { BinaryOp, CaseWhen, Expr, NestedQuery, ObjectEntry, SelectClause, SelectItem, SetAssignment, Statement } from './ast.js';
import { sqlErrorAt, type SqlError } from './errors.js';
import { describeToken, Lexer, type Token } from './lexer.js';

const RESERVED = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AS',
  'AND',
  'OR',
  'NOT',
  'IN',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'SET',
  'EXISTS',
  'TRUE',
  'FALSE',
  'NULL',
]);

const COMPARISON: Record<string, BinaryOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * After `SELECT value`, these make `value` a field name rather than the VALUE keyword. Not
 * `[`, `-` or `*`: `SELECT VALUE [a, b]`, `SELECT VALUE -x` and `SELECT VALUE *` are the keyword.
 */
const FIELD_AFTER_VALUE = new Set([',', '.', '+', '/', '%', '=', '<>', '!=', '<', '<=', '>', '>=']);

class Parser {
  readonly lx: Lexer;

  constructor(
    readonly source: string,
    start: number,
  ) {
    this.lx = new Lexer(source, start);
  }

  error(t: Token, detail: string): SqlError {
    return sqlErrorAt(this.source, t.start, 'SQL_SYNTAX', detail);
  }

  isKeyword(t: Token, kw: string): boolean {
    return t.kind === 'ident' && t.text.length === kw.length && t.text.toUpperCase() === kw;
  }

  isPunct(t: Token, p: string): boolean {
    return t.kind === 'punct' && t.text === p;
  }

  acceptKeyword(kw: string): Token | undefined {
    return this.isKeyword(this.lx.peek(), kw) ? this.lx.next() : undefined;
  }

  acceptPunct(p: string): Token | undefined {
    return this.isPunct(this.lx.peek(), p) ? this.lx.next() : undefined;
  }

  expectKeyword(kw: string): Token {
    const t = this.lx.next();
    if (!this.isKeyword(t, kw)) throw this.error(t, `expected ${kw}, found ${describeToken(t)}`);
    return t;
  }

  expectPunct(p: string): Token {
    const t = this.lx.next();
    if (!this.isPunct(t, p)) throw this.error(t, `expected '${p}', found ${describeToken(t)}`);
    return t;
  }

  /** Any identifier, reserved or not (names after `.` and `AS`). */
  expectName(what: string): Token {
    const t = this.lx.next();
    if (t.kind !== 'ident') throw this.error(t, `expected ${what}, found ${describeToken(t)}`);
    return t;
  }

  statement(): Statement {
    const sets: SetAssignment[] = [];
    if (this.acceptKeyword('SET')) {
      do {
        const v = this.lx.next();
        if (v.kind !== 'variable') throw this.error(v, `expected a variable such as @name, found ${describeToken(v)}`);
        this.expectPunct('=');
        sets.push({ name: v.text, value: this.expr(), pos: v.start });
      } while (this.acceptPunct(','));
    }
    const selectToken = this.lx.peek();
    if (!this.isKeyword(selectToken, 'SELECT')) {
      throw this.error(selectToken, `expected ${sets.length > 0 ? "SELECT or ','" : 'SELECT'}, found ${describeToken(selectToken)}`);
    }
    this.lx.next();
    const select = this.selectClause(selectToken.start);
    this.expectKeyword('FROM');
    const from = this.lx.next();
    if (from.kind !== 'string') throw this.error(from, `expected a quoted topic filter such as 'a/+/b', found ${describeToken(from)}`);
    let where: Expr | undefined;
    if (this.acceptKeyword('WHERE')) where = this.expr();
    const end = this.lx.next();
    if (end.kind !== 'eof') throw this.error(end, `unexpected ${describeToken(end)} after the end of the statement`);
    return { sets, select, topicFilter: from.text, topicFilterPos: from.start, where };
  }

  /** After the SELECT keyword. */
  selectClause(pos: number): SelectClause {
    let value = false;
    if (this.isKeyword(this.lx.peek(), 'VALUE')) {
      const after = this.lx.peek(1);
      const isField =
        after.kind === 'eof' ||
        (after.kind === 'punct' && FIELD_AFTER_VALUE.has(after.text)) ||
        ['FROM', 'AS', 'AND', 'OR', 'IN'].some((kw) => this.isKeyword(after, kw));
      if (!isField) {
        this.lx.next();
        value = true;
      }
    }
    const items: SelectItem[] = [];
    do {
      const start = this.lx.peek();
      if (value && items.length === 1) throw this.error(start, 'SELECT VALUE takes exactly one expression');
      const expr = this.expr();
      let alias: string[] | undefined;
      const as = this.acceptKeyword('AS');
      if (as) {
        if (value) throw this.error(as, 'SELECT VALUE output has no field names, so AS is not allowed');
        alias = [this.expectName('a field name after AS').text];
        while (this.acceptPunct('.')) alias.push(this.expectName('a field name').text);
      }
      items.push({ expr, alias, pos: start.start });
    } while (this.acceptPunct(','));
    return { value, items, pos };
  }

  expr(): Expr {
    return this.or();
  }

  or(): Expr {
    let left = this.and();
    for (let t = this.lx.peek(); this.isKeyword(t, 'OR'); t = this.lx.peek()) {
      this.lx.next();
      left = { kind: 'binary', op: 'OR', left, right: this.and(), pos: t.start };
    }
    return left;
  }

  and(): Expr {
    let left = this.not();
    for (let t = this.lx.peek(); this.isKeyword(t, 'AND'); t = this.lx.peek()) {
      this.lx.next();
      left = { kind: 'binary', op: 'AND', left, right: this.not(), pos: t.start };
    }
    return left;
  }

  not(): Expr {
    const t = this.acceptKeyword('NOT');
    if (t) return { kind: 'not', operand: this.not(), pos: t.start };
    return this.comparison();
  }

  comparison(): Expr {
    let left = this.additive();
    for (;;) {
      const t = this.lx.peek();
      if (t.kind === 'punct' && COMPARISON[t.text] !== undefined) {
        this.lx.next();
        left = { kind: 'binary', op: COMPARISON[t.text]!, left, right: this.additive(), pos: t.start };
      } else if (this.isKeyword(t, 'IN')) {
        this.lx.next();
        left = { kind: 'in', left, right: this.additive(), negated: false, pos: t.start };
      } else if (this.isKeyword(t, 'NOT') && this.isKeyword(this.lx.peek(1), 'IN')) {
        this.lx.next();
        this.lx.next();
        left = { kind: 'in', left, right: this.additive(), negated: true, pos: t.start };
      } else {
        return left;
      }
    }
  }

  additive(): Expr {
    let left = this.multiplicative();
    for (let t = this.lx.peek(); this.isPunct(t, '+') || this.isPunct(t, '-'); t = this.lx.peek()) {
      this.lx.next();
      left = { kind: 'binary', op: t.text as BinaryOp, left, right: this.multiplicative(), pos: t.start };
    }
    return left;
  }

  multiplicative(): Expr {
    let left = this.unary();
    for (let t = this.lx.peek(); this.isPunct(t, '*') || this.isPunct(t, '/') || this.isPunct(t, '%'); t = this.lx.peek()) {
      this.lx.next();
      left = { kind: 'binary', op: t.text as BinaryOp, left, right: this.unary(), pos: t.start };
    }
    return left;
  }

  unary(): Expr {
    const t = this.acceptPunct('-');
    if (t) return { kind: 'neg', operand: this.unary(), pos: t.start };
    return this.postfix();
  }

  postfix(): Expr {
    let e = this.primary();
    for (;;) {
      const t = this.lx.peek();
      if (this.isPunct(t, '.')) {
        this.lx.next();
        const name = this.expectName("a field name after '.' (use get() for names with hyphens or leading digits)");
        e = { kind: 'member', object: e, name: name.text, pos: name.start };
      } else if (this.isPunct(t, '[')) {
        this.lx.next();
        const index = this.expr();
        this.expectPunct(']');
        e = { kind: 'index', object: e, index, pos: t.start };
      } else {
        return e;
      }
    }
  }

  primary(): Expr {
    const t = this.lx.next();
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.number, pos: t.start };
      case 'string':
        return { kind: 'literal', value: t.text, pos: t.start };
      case 'variable':
        return { kind: 'variable', name: t.text, pos: t.start };
      case 'punct':
        return this.punctPrimary(t);
      case 'ident':
        return this.identPrimary(t);
      default:
        throw this.error(t, `expected an expression, found ${describeToken(t)}`);
    }
  }

  punctPrimary(t: Token): Expr {
    switch (t.text) {
      case '*':
        return { kind: 'wildcard', pos: t.start };
      case '(': {
        const inner = this.lx.peek();
        if (this.isKeyword(inner, 'SELECT')) {
          this.lx.next();
          const query = this.nested(inner.start);
          this.expectPunct(')');
          return { kind: 'subquery', query, pos: inner.start };
        }
        const e = this.expr();
        this.expectPunct(')');
        return e;
      }
      case '[': {
        const items: Expr[] = [];
        if (!this.acceptPunct(']')) {
          do items.push(this.expr());
          while (this.acceptPunct(','));
          this.expectPunct(']');
        }
        return { kind: 'array', items, pos: t.start };
      }
      case '{': {
        const entries: ObjectEntry[] = [];
        if (!this.acceptPunct('}')) {
          do {
            const k = this.lx.next();
            if (k.kind !== 'string' && k.kind !== 'ident') throw this.error(k, `expected an object key, found ${describeToken(k)}`);
            this.expectPunct(':');
            entries.push({ key: k.text, value: this.expr() });
          } while (this.acceptPunct(','));
          this.expectPunct('}');
        }
        return { kind: 'object', entries, pos: t.start };
      }
      default:
        throw this.error(t, `expected an expression, found ${describeToken(t)}`);
    }
  }

  identPrimary(t: Token): Expr {
    const upper = t.text.toUpperCase();
    if (RESERVED.has(upper)) {
      switch (upper) {
        case 'TRUE':
          return { kind: 'literal', value: true, pos: t.start };
        case 'FALSE':
          return { kind: 'literal', value: false, pos: t.start };
        case 'NULL':
          return { kind: 'literal', value: null, pos: t.start };
        case 'CASE':
          return this.caseExpr(t);
        case 'EXISTS': {
          this.expectPunct('(');
          const select = this.expectKeyword('SELECT');
          const query = this.nested(select.start);
          this.expectPunct(')');
          return { kind: 'exists', query, pos: t.start };
        }
        default:
          throw this.error(t, `expected an expression, found ${describeToken(t)}`);
      }
    }
    if (!this.isPunct(this.lx.peek(), '(')) return { kind: 'field', name: t.text, pos: t.start };
    this.lx.next();
    if (t.text.toLowerCase() === 'cast') {
      const value = this.expr();
      this.expectKeyword('AS');
      const type = this.expectName('a type name such as Int, Decimal, String or Boolean');
      this.expectPunct(')');
      return { kind: 'cast', value, type: type.text, typePos: type.start, pos: t.start };
    }
    const args: Expr[] = [];
    if (!this.acceptPunct(')')) {
      do args.push(this.expr());
      while (this.acceptPunct(','));
      this.expectPunct(')');
    }
    return { kind: 'call', name: t.text, args, pos: t.start };
  }

  caseExpr(t: Token): Expr {
    const subject = this.isKeyword(this.lx.peek(), 'WHEN') ? undefined : this.expr();
    const whens: CaseWhen[] = [];
    // iot-sql-case.md: CASE statements require at least one WHEN clause.
    while (this.acceptKeyword('WHEN')) {
      const when = this.expr();
      this.expectKeyword('THEN');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) this.expectKeyword('WHEN');
    const otherwise = this.acceptKeyword('ELSE') ? this.expr() : undefined;
    this.expectKeyword('END');
    return { kind: 'case', subject, whens, otherwise, pos: t.start };
  }

  /** After `(SELECT`. */
  nested(pos: number): NestedQuery {
    const select = this.selectClause(pos);
    this.expectKeyword('FROM');
    const from = this.expr();
    const alias = this.acceptKeyword('AS') ? this.expectName('a name after AS').text : undefined;
    const where = this.acceptKeyword('WHERE') ? this.expr() : undefined;
    return { select, from, alias, where };
  }
}

/** Parse a whole rule statement. Throws SqlError. */
export function parseStatement(sql: string): Statement {
  return new Parser(sql, 0).statement();
}

/**
 * Parse the expression of a substitution template starting at `start` (just after `${`) up to
 * its closing `}`. Returns the expression and the offset just past the `}`. Throws SqlError.
 */
export function parseTemplateExpression(template: string, start: number): { expr: Expr; end: number } {
  const p = new Parser(template, start);
  const first = p.lx.peek();
  if (p.isPunct(first, '}')) throw p.error(first, 'empty ${} in substitution template');
  const expr = p.expr();
  const close = p.lx.next();
  if (close.kind === 'eof') throw sqlErrorAt(template, start - 2, 'SQL_UNTERMINATED_TEMPLATE');
  if (!p.isPunct(close, '}')) throw p.error(close, `expected '}', found ${describeToken(close)}`);
  return { expr, end: close.end };
}
