/**
 * Shapes shared by the compiler and the function tables.
 */
import type { Expr } from './ast.js';
import type { EvalContext, SqlVersion } from './context.js';
import type { SqlError, SqlErrorCode } from './errors.js';

/** A compiled expression. */
export type Evaluator = (ctx: EvalContext) => unknown;

/** What a function's compile hook sees of one call. */
export interface CallSite {
  readonly name: string;
  readonly args: readonly Expr[];
  /** Compile argument `i` (on demand, so a hook can treat `*` or a literal specially). */
  arg(i: number): Evaluator;
  /** Offset of the function name. */
  readonly pos: number;
  /** False inside a nested query, where `*` is the element rather than the payload. */
  readonly topLevel: boolean;
  readonly version: SqlVersion;
  error(pos: number, code: SqlErrorCode, detail: string): SqlError;
}

export interface FunctionSpec {
  readonly min: number;
  /** Infinity for variadic functions such as concat. */
  readonly max: number;
  /** First SQL version that has the function; absent = every version. */
  readonly since?: SqlVersion;
  /**
   * Over evaluated arguments (a buffer reused by the call site: read it, never keep it).
   * Must not throw: bad input gives Undefined.
   */
  readonly impl?: (args: readonly unknown[], ctx: EvalContext) => unknown;
  /** Instead of impl: build the evaluator at compile time (literal arguments, `*`, checks). */
  readonly compile?: (site: CallSite) => Evaluator;
}

export type FunctionTable = Readonly<Record<string, FunctionSpec>>;

/** Literal value of argument `i`, or undefined when it is not a literal. */
export function literalArg(site: CallSite, i: number): { value: string | number | boolean | null } | undefined {
  const a = site.args[i];
  return a !== undefined && a.kind === 'literal' ? { value: a.value } : undefined;
}
