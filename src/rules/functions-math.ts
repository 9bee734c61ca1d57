/**
 * Numeric functions (iot-sql-functions.md). Arguments go through the standard conversion to
 * Decimal: numbers as they are, numeric strings parsed, Booleans, Null, Arrays, Objects and
 * Undefined give Undefined. Results that are not finite ("imaginary results", overflow) are
 * Undefined.
 */
import type { FunctionSpec, FunctionTable } from './function-types.js';
import { arithmetic } from './operators.js';
import { num, toDecimal } from './values.js';

function unary(f: (x: number) => number): FunctionSpec {
  return {
    min: 1,
    max: 1,
    impl: (args) => {
      const x = toDecimal(args[0]);
      return x === undefined ? undefined : num(f(x));
    },
  };
}

function binary(f: (x: number, y: number) => number): FunctionSpec {
  return {
    min: 2,
    max: 2,
    impl: (args) => {
      const x = toDecimal(args[0]);
      const y = toDecimal(args[1]);
      return x === undefined || y === undefined ? undefined : num(f(x, y));
    },
  };
}

/** round(): "If the Decimal is equidistant from two Int values, the Decimal is rounded up", and round(-1.5) = -2: half away from zero. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** trunc(): cut to `places` decimals on the decimal text, so 2.888 keeps 2.88 without binary-fraction surprises. */
function truncate(x: number, places: number): number | undefined {
  if (Number.isInteger(x)) return x;
  const s = String(x);
  if (!s.includes('e')) {
    const dot = s.indexOf('.');
    return num(Number(places === 0 ? s.slice(0, dot) : s.slice(0, dot + 1 + places)));
  }
  const f = 10 ** places;
  return num(Math.trunc(x * f) / f);
}

/** Int conversion for the bit functions: "rounded down to the nearest Int". */
function bits(v: unknown): bigint | undefined {
  const x = toDecimal(v);
  return x === undefined ? undefined : BigInt(Math.floor(x));
}

function bitwise(f: (a: bigint, b: bigint) => bigint): FunctionSpec {
  return {
    min: 2,
    max: 2,
    impl: (args) => {
      const a = bits(args[0]);
      const b = bits(args[1]);
      return a === undefined || b === undefined ? undefined : num(Number(f(a, b)));
    },
  };
}

const remainder: FunctionSpec = { min: 2, max: 2, impl: (args) => arithmetic('%', args[0], args[1]) };

export const MATH_FUNCTIONS: FunctionTable = {
  abs: unary(Math.abs),
  ceil: unary(Math.ceil),
  floor: unary(Math.floor),
  round: unary(roundHalfAway),
  sign: unary(Math.sign),
  sqrt: unary(Math.sqrt),
  exp: unary(Math.exp),
  ln: unary(Math.log),
  log: unary(Math.log10),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tan: unary(Math.tan),
  asin: unary(Math.asin),
  acos: unary(Math.acos),
  atan: unary(Math.atan),
  sinh: unary(Math.sinh),
  cosh: unary(Math.cosh),
  tanh: unary(Math.tanh),
  atan2: binary(Math.atan2),
  power: binary(Math.pow),
  // mod and remainder: "Equivalent to ... You can also use % as an infix operator".
  mod: remainder,
  remainder,
  trunc: {
    min: 2,
    max: 2,
    impl: (args) => {
      const x = toDecimal(args[0]);
      // Second argument: Int/Decimal only (no String row), rounded down, clamped to 0..34.
      const p = typeof args[1] === 'number' ? Math.floor(args[1]) : undefined;
      if (x === undefined || p === undefined) return undefined;
      return truncate(x, Math.min(34, Math.max(0, p)));
    },
  },
  bitand: bitwise((a, b) => a & b),
  bitor: bitwise((a, b) => a | b),
  bitxor: bitwise((a, b) => a ^ b),
  bitnot: {
    min: 1,
    max: 1,
    impl: (args) => {
      const a = bits(args[0]);
      return a === undefined ? undefined : num(Number(~a));
    },
  },
  rand: { min: 0, max: 0, impl: () => Math.random() },
  /** nanvl: the first argument unless it is Undefined, Null (or NaN, which our values never hold). */
  nanvl: { min: 2, max: 2, impl: (args) => (args[0] === undefined || args[0] === null ? args[1] : args[0]) },
};
