/**
 * Syntax tree -> closures. Everything is resolved here, once: function names and arity,
 * variables, SQL-version features, cast types, literal arguments (regexes, time patterns,
 * encoding schemes). The closures then run per message with no lookups by name.
 *
 * Scopes: at the top level a bare name reads a field of the payload and `*` is the payload
 * (the raw bytes when it is not JSON). Inside a nested query (iot-sql-nested-queries.md) they
 * read the element being visited, and the query's `AS` name is the element itself:
 *
 *   SELECT (SELECT VALUE n FROM e) AS sensors ...          n = element.n
 *   ... WHERE EXISTS (SELECT * FROM arr AS a WHERE a = 3)  a = element
 *
 * Outer fields are not visible inside a nested query (the docs show none); SET variables and
 * the message functions (topic(), timestamp(), ...) are.
 */
import type { BinaryOp, Expr, NestedQuery, SelectClause } from './ast.js';
import { NOT_JSON, type EvalContext, type SqlVersion } from './context.js';
import { sqlErrorAt, type SqlError, type SqlErrorCode } from './errors.js';
import type { CallSite, Evaluator } from './function-types.js';
import { FUNCTIONS, getElement, UNSUPPORTED_FUNCTIONS } from './functions.js';
import { add, and, arithmetic, compare, inArray, negate, not, notEquals, or, type ArithmeticOp, type ComparisonOp } from './operators.js';
import { copyInto, getField, isObject, isOutputValue, setKey, sqlEquals, toBool, toDecimal, toStr, type Row } from './values.js';

export interface Scope {
  /** False inside a nested query. */
  readonly topLevel: boolean;
  /** The nested query's `AS` name for its element. */
  readonly alias: string | undefined;
}

export const TOP_LEVEL: Scope = { topLevel: true, alias: undefined };

/** Resolves `@name` for the statement or template being compiled. */
export interface VariableResolver {
  resolve(name: string, pos: number): Evaluator;
}

const V2: SqlVersion = '2016-03-23';

/** cast(value AS type) keywords (iot-sql-functions.md, cast()). */
const CAST_TYPES: Readonly<Record<string, { readonly to: (v: unknown) => unknown; readonly since?: SqlVersion }>> = {
  string: { to: toStr },
  nvarchar: { to: toStr },
  text: { to: toStr },
  ntext: { to: toStr },
  varchar: { to: toStr },
  int: { to: castInt },
  integer: { to: castInt },
  double: { to: castDecimal },
  decimal: { to: castDecimal, since: V2 },
  bool: { to: castBool, since: V2 },
  boolean: { to: castBool, since: V2 },
};

/** Cast to Decimal: like the standard conversion, plus true = 1, false = 0. */
function castDecimal(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return toDecimal(v);
}

/** Cast to Int: "rounded down to the nearest Int"; true = 1, false = 0. */
function castInt(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  const d = toDecimal(v);
  return d === undefined ? undefined : Math.floor(d) || 0;
}

/** Cast to Boolean: 0 = false, any other number = true; "true"/"false" in any case. */
function castBool(v: unknown): unknown {
  if (typeof v === 'number') return v !== 0;
  return toBool(v);
}

/** Output key of an item without AS: the last name of a path, else `_1`, `_2`... by position. */
function defaultName(e: Expr, index: number): string {
  switch (e.kind) {
    case 'field':
    case 'member':
    case 'variable':
      return e.name;
    default:
      return `_${index + 1}`;
  }
}

/**
 * `AS a.b.c` = v: nested objects, merged with what earlier items put there. Objects met on
 * the way are copied before writing, so a payload object shared with the output is never
 * changed.
 */
function setPath(out: Row, path: readonly string[], v: unknown): void {
  let cur = out;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const key = path[i]!;
    const existing = getField(cur, key);
    const next: Row = {};
    if (isObject(existing)) copyInto(next, existing);
    setKey(cur, key, next);
    cur = next;
  }
  setKey(cur, path[last]!, v);
}

interface CompiledItem {
  readonly star: boolean;
  readonly path: readonly string[];
  readonly ev: Evaluator;
}

export class Compiler {
  /** True once anything reads the payload as JSON (fields, `*`): then it is parsed per message. */
  usesPayload = false;

  constructor(
    readonly source: string,
    readonly version: SqlVersion,
    readonly variables: VariableResolver,
  ) {}

  error(pos: number, code: SqlErrorCode, detail?: string): SqlError {
    return sqlErrorAt(this.source, pos, code, detail);
  }

  requireV2(pos: number, what: string): void {
    if (this.version !== V2) throw this.error(pos, 'SQL_VERSION', `${what} needs SQL version 2016-03-23 (rule uses ${this.version})`);
  }

  expr(e: Expr, scope: Scope): Evaluator {
    switch (e.kind) {
      case 'literal': {
        const v = e.value;
        return () => v;
      }
      case 'field': {
        const name = e.name;
        if (!scope.topLevel && name === scope.alias) return (ctx) => ctx.row;
        if (scope.topLevel) this.usesPayload = true;
        return (ctx) => getField(ctx.row, name);
      }
      case 'member': {
        const object = this.expr(e.object, scope);
        const name = e.name;
        return (ctx) => getField(object(ctx), name);
      }
      case 'index': {
        const object = this.expr(e.object, scope);
        const index = this.expr(e.index, scope);
        return (ctx) => getElement(object(ctx), index(ctx));
      }
      case 'wildcard':
        if (scope.topLevel) this.usesPayload = true;
        // Top level: the payload, or its raw bytes when it is not JSON. Nested: the element.
        return (ctx) => (ctx.row === NOT_JSON ? ctx.input.payload : ctx.row);
      case 'variable':
        return this.variables.resolve(e.name, e.pos);
      case 'call':
        return this.call(e.name, e.args, e.pos, scope);
      case 'cast': {
        const type = CAST_TYPES[e.type.toLowerCase()];
        if (type === undefined || !Object.hasOwn(CAST_TYPES, e.type.toLowerCase())) {
          throw this.error(e.typePos, 'SQL_UNKNOWN_CAST_TYPE', `'${e.type}' (use String, Int, Integer, Double, Decimal, Bool or Boolean)`);
        }
        if (type.since === V2) this.requireV2(e.typePos, `cast to ${e.type}`);
        const value = this.expr(e.value, scope);
        const to = type.to;
        return (ctx) => to(value(ctx));
      }
      case 'neg': {
        if (e.operand.kind === 'literal' && typeof e.operand.value === 'number') {
          const v = negate(e.operand.value); // `-5` is a constant, not an operation per message
          return () => v;
        }
        const operand = this.expr(e.operand, scope);
        return (ctx) => negate(operand(ctx));
      }
      case 'not': {
        const operand = this.expr(e.operand, scope);
        return (ctx) => not(operand(ctx));
      }
      case 'binary':
        return this.binary(e.op, this.expr(e.left, scope), this.expr(e.right, scope));
      case 'in': {
        const left = this.expr(e.left, scope);
        const right = this.expr(e.right, scope);
        return e.negated ? (ctx) => not(inArray(left(ctx), right(ctx))) : (ctx) => inArray(left(ctx), right(ctx));
      }
      case 'array': {
        this.requireV2(e.pos, 'an array literal');
        const items = e.items.map((item) => this.expr(item, scope));
        // Undefined elements are left out: JSON cannot hold them (iot-sql-data-types.md).
        return (ctx) => {
          const out: unknown[] = [];
          for (let i = 0; i < items.length; i++) {
            const v = items[i]!(ctx);
            if (isOutputValue(v)) out.push(v);
          }
          return out;
        };
      }
      case 'object': {
        this.requireV2(e.pos, 'an object literal');
        const keys = e.entries.map((entry) => entry.key);
        const values = e.entries.map((entry) => this.expr(entry.value, scope));
        return (ctx) => {
          const out: Row = {};
          for (let i = 0; i < keys.length; i++) {
            const v = values[i]!(ctx);
            if (isOutputValue(v)) setKey(out, keys[i]!, v);
          }
          return out;
        };
      }
      case 'case':
        return this.caseExpr(e, scope);
      case 'subquery':
        return this.nested(e.query, e.pos, scope);
      case 'exists': {
        const query = this.nested(e.query, e.pos, scope);
        // EXISTS: true when the subquery returns one or more elements.
        return (ctx) => {
          const r = query(ctx);
          return Array.isArray(r) ? r.length > 0 : r !== undefined;
        };
      }
    }
  }

  private binary(op: BinaryOp, left: Evaluator, right: Evaluator): Evaluator {
    switch (op) {
      case '+':
        return (ctx) => add(left(ctx), right(ctx));
      case '-':
      case '*':
      case '/':
      case '%': {
        const a: ArithmeticOp = op;
        return (ctx) => arithmetic(a, left(ctx), right(ctx));
      }
      case '=':
        return (ctx) => sqlEquals(left(ctx), right(ctx));
      case '<>':
        return (ctx) => notEquals(left(ctx), right(ctx));
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const c: ComparisonOp = op;
        return (ctx) => compare(c, left(ctx), right(ctx));
      }
      case 'AND':
        return (ctx) => and(left(ctx), right(ctx));
      case 'OR':
        return (ctx) => or(left(ctx), right(ctx));
    }
  }

  /**
   * CASE (iot-sql-case.md): the subject is compared with each WHEN by `=`; the first match's
   * THEN is the result, else ELSE, else Undefined; an Undefined subject gives Undefined. The
   * searched form (no subject) takes the first WHEN whose condition is true.
   */
  private caseExpr(e: Expr & { kind: 'case' }, scope: Scope): Evaluator {
    const whens = e.whens.map((w) => this.expr(w.when, scope));
    const thens = e.whens.map((w) => this.expr(w.then, scope));
    const otherwise = e.otherwise === undefined ? undefined : this.expr(e.otherwise, scope);
    const n = whens.length;
    if (e.subject === undefined) {
      return (ctx) => {
        for (let i = 0; i < n; i++) if (toBool(whens[i]!(ctx)) === true) return thens[i]!(ctx);
        return otherwise === undefined ? undefined : otherwise(ctx);
      };
    }
    const subject = this.expr(e.subject, scope);
    return (ctx) => {
      const s = subject(ctx);
      if (s === undefined) return undefined;
      for (let i = 0; i < n; i++) if (sqlEquals(s, whens[i]!(ctx)) === true) return thens[i]!(ctx);
      return otherwise === undefined ? undefined : otherwise(ctx);
    };
  }

  private call(name: string, args: readonly Expr[], pos: number, scope: Scope): Evaluator {
    const key = name.toLowerCase();
    const spec = Object.hasOwn(FUNCTIONS, key) ? FUNCTIONS[key] : undefined;
    if (spec === undefined) {
      if (Object.hasOwn(UNSUPPORTED_FUNCTIONS, key)) throw this.error(pos, 'SQL_UNSUPPORTED_FUNCTION', `${name}(): ${UNSUPPORTED_FUNCTIONS[key]}`);
      throw this.error(pos, 'SQL_UNKNOWN_FUNCTION', `${name}()`);
    }
    if (spec.since === V2) this.requireV2(pos, `${name}()`);
    const n = args.length;
    if (n < spec.min || n > spec.max) {
      const range = spec.max === Infinity ? `at least ${spec.min}` : spec.min === spec.max ? `${spec.min}` : `${spec.min} to ${spec.max}`;
      throw this.error(pos, 'SQL_WRONG_ARITY', `${name}() takes ${range} argument${spec.max === 1 && spec.min === 1 ? '' : 's'}, got ${n}`);
    }
    if (spec.compile) {
      const site: CallSite = {
        name,
        args,
        pos,
        topLevel: scope.topLevel,
        version: this.version,
        arg: (i) => this.expr(args[i]!, scope),
        error: (p, code, detail) => this.error(p, code, detail),
      };
      return spec.compile(site);
    }
    const impl = spec.impl!;
    const evs = args.map((a) => this.expr(a, scope));
    if (n === 0) {
      const none: readonly unknown[] = [];
      return (ctx) => impl(none, ctx);
    }
    // One argument buffer per call site: evaluation is synchronous and a site never runs
    // inside its own arguments, so reuse is safe; it is cleared so no message is retained.
    const buf = new Array<unknown>(n);
    return (ctx: EvalContext) => {
      for (let i = 0; i < n; i++) buf[i] = evs[i]!(ctx);
      const r = impl(buf, ctx);
      buf.fill(undefined);
      return r;
    };
  }

  /**
   * The SELECT list as a value: SELECT VALUE gives the item itself; a lone `*` the payload as
   * it is (raw bytes when not JSON); otherwise a fresh Object of the items, where `*` adds the
   * payload's keys when it is an Object and Undefined items are left out.
   */
  select(clause: SelectClause, scope: Scope): Evaluator {
    if (clause.value) return this.expr(clause.items[0]!.expr, scope);
    const items: CompiledItem[] = clause.items.map((item, i) => ({
      star: item.expr.kind === 'wildcard' && item.alias === undefined,
      path: item.alias ?? [defaultName(item.expr, i)],
      ev: this.expr(item.expr, scope),
    }));
    if (items.length === 1 && items[0]!.star) return items[0]!.ev;
    const n = items.length;
    return (ctx) => {
      const out: Row = {};
      for (let i = 0; i < n; i++) {
        const item = items[i]!;
        const v = item.ev(ctx);
        if (item.star) {
          if (isObject(v)) copyInto(out, v);
        } else if (isOutputValue(v)) {
          if (item.path.length === 1) setKey(out, item.path[0]!, v);
          else setPath(out, item.path, v);
        }
      }
      return out;
    };
  }

  /**
   * Nested query: the source is a table of rows, an Array's elements or any other single value
   * as one row, and the result is always the Array of results for the rows that pass WHERE
   * (Undefined results left out); an Undefined source gives Undefined. One row for an Object
   * is what AWS returns: its rule validation suite (aws-iot-builder-tools/
   * validation-tool-for-aws-iot-rules, include-topic-and-transform.json) expects
   * `get((SELECT *, topic() AS topic FROM *), 0)` to be the enriched payload.
   */
  private nested(q: NestedQuery, pos: number, outer: Scope): Evaluator {
    this.requireV2(pos, 'a nested SELECT');
    const from = this.expr(q.from, outer);
    const inner: Scope = { topLevel: false, alias: q.alias };
    const where = q.where === undefined ? undefined : this.expr(q.where, inner);
    const item = this.select(q.select, inner);
    return (ctx) => {
      const source = from(ctx);
      if (source === undefined) return undefined;
      const saved = ctx.row;
      const out: unknown[] = [];
      const rows = Array.isArray(source) ? source : [source];
      for (let i = 0; i < rows.length; i++) {
        ctx.row = rows[i];
        if (where !== undefined && toBool(where(ctx)) !== true) continue;
        const v = item(ctx);
        if (isOutputValue(v)) out.push(v);
      }
      ctx.row = saved;
      return out;
    };
  }
}
