/**
 * Operators, each following its table in iot-sql-operators.md. Every function is total:
 * operands it has no row for give Undefined, never an exception.
 */
import { num, sqlEquals, toBool, toDecimal, toStr } from './values.js';

/**
 * `+`: a String on either side converts the other side to a String and concatenates
 * (`'a' + 1` = "a1"); Int + Int is an Int, otherwise numbers add as Decimals; anything else
 * (Booleans, Null, arrays without a String beside them) is Undefined.
 */
export function add(a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return num(a + b);
  if (typeof a === 'string') {
    const r = toStr(b);
    return r === undefined ? undefined : a + r;
  }
  if (typeof b === 'string') {
    const l = toStr(a);
    return l === undefined ? undefined : l + b;
  }
  return undefined;
}

export type ArithmeticOp = '-' | '*' | '/' | '%';

/**
 * `-`, `*`, `/`, `%`: Int with Int gives an Int (`/` truncates toward zero, as the table's
 * "Int value. Divides the left operand by the right operand" implies: 7 / 2 = 3); Int or
 * Decimal gives a Decimal; Strings that convert to Decimal take part as Decimals
 * (`'7' / 2` = 3.5); other operands give Undefined. Division or remainder by zero is
 * Undefined (the docs leave it open; AWS's engine fails the expression).
 */
export function arithmetic(op: ArithmeticOp, a: unknown, b: unknown): unknown {
  let x: number | undefined;
  let y: number | undefined;
  let ints: boolean;
  if (typeof a === 'number' && typeof b === 'number') {
    x = a;
    y = b;
    ints = Number.isInteger(a) && Number.isInteger(b);
  } else {
    if ((typeof a !== 'number' && typeof a !== 'string') || (typeof b !== 'number' && typeof b !== 'string')) return undefined;
    x = toDecimal(a);
    y = toDecimal(b);
    if (x === undefined || y === undefined) return undefined;
    ints = false;
  }
  switch (op) {
    case '-':
      return num(x - y);
    case '*':
      return num(x * y);
    case '/':
      if (y === 0) return undefined;
      return num(ints ? Math.trunc(x / y) : x / y);
    case '%':
      if (y === 0) return undefined;
      return num(x % y);
  }
}

export type ComparisonOp = '<' | '<=' | '>' | '>=';

/**
 * `<`, `<=`, `>`, `>=`: both operands are converted to Decimal and compared; a String that is
 * not numeric, or any other type (Boolean, Null, Array, Object, Undefined), gives Undefined.
 * So strings do not compare alphabetically: `'a' < 'b'` is Undefined.
 */
export function compare(op: ComparisonOp, a: unknown, b: unknown): boolean | undefined {
  let x: number | undefined;
  let y: number | undefined;
  if (typeof a === 'number' && typeof b === 'number') {
    x = a;
    y = b;
  } else {
    if ((typeof a !== 'number' && typeof a !== 'string') || (typeof b !== 'number' && typeof b !== 'string')) return undefined;
    x = toDecimal(a);
    y = toDecimal(b);
    if (x === undefined || y === undefined) return undefined;
  }
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}

/** `<>`: the negation of `=`, so Undefined stays Undefined and mismatched types are unequal. */
export function notEquals(a: unknown, b: unknown): boolean | undefined {
  const eq = sqlEquals(a, b);
  return eq === undefined ? undefined : !eq;
}

/**
 * AND / OR: Booleans, or Strings "true"/"false" in any case; any other operand makes the
 * result Undefined (so `false AND <Undefined>` is Undefined, not false: the table has no row
 * that short-circuits).
 */
export function and(a: unknown, b: unknown): boolean | undefined {
  const x = toBool(a);
  const y = toBool(b);
  return x === undefined || y === undefined ? undefined : x && y;
}

export function or(a: unknown, b: unknown): boolean | undefined {
  const x = toBool(a);
  const y = toBool(b);
  return x === undefined || y === undefined ? undefined : x || y;
}

export function not(a: unknown): boolean | undefined {
  const x = toBool(a);
  return x === undefined ? undefined : !x;
}

/** Unary minus: numbers and numeric strings; anything else is Undefined. */
export function negate(a: unknown): number | undefined {
  const x = typeof a === 'number' ? a : toDecimal(a);
  return x === undefined ? undefined : num(-x);
}

/**
 * IN: true when the right-hand Array holds an element equal (by `=`) to the left operand.
 * The table has rows only for an Array on the right; other right operands, and an Undefined
 * left operand, give Undefined.
 */
export function inArray(a: unknown, list: unknown): boolean | undefined {
  if (a === undefined || !Array.isArray(list)) return undefined;
  for (const item of list) if (sqlEquals(a, item) === true) return true;
  return false;
}
