/**
 * compileRule: a rule's SQL compiled once into a CompiledRule whose evaluate() runs per
 * matching message.
 *
 *   const rule = compileRule("SELECT temperature, topic(2) AS id FROM 'sensors/+/data' WHERE temperature > 50");
 *   rule.topicFilter                                         'sensors/+/data'
 *   rule.evaluate({ topic: 'sensors/7/data', payload: Buffer.from('{"temperature":60}'), timestamp })
 *                                                            { kind: 'json', value: { temperature: 60, id: '7' } }
 *   ... with {"temperature":40}                              null  (WHERE not true: no actions)
 *
 * Order per message (iot-sql-where.md, iot-sql-set.md): SET variables in order, then WHERE
 * ("evaluated first, to determine if SELECT is evaluated"), then SELECT. WHERE passes only
 * when it is true (or the String "true"); false, Undefined and anything else mean no actions.
 *
 * Output: an Object for a SELECT list, the value itself for SELECT VALUE, and the raw bytes
 * (kind 'binary') for `SELECT *` or `SELECT VALUE *` on a non-JSON payload. `SELECT VALUE` of
 * Undefined is an empty payload ("Undefined is converted to an empty string when serialized by
 * itself", iot-sql-data-types.md).
 *
 * evaluate() never throws: functions give Undefined on bad input, and anything unexpected
 * makes the evaluation yield null (no actions) rather than escape into the broker.
 */
import { validateTopicFilter } from '../protocol/topic.js';
import type { Statement } from './ast.js';
import { Compiler, TOP_LEVEL, type VariableResolver } from './compile.js';
import { EvalContext, type RuleInput, type SqlVersion } from './context.js';
import { sqlErrorAt } from './errors.js';
import type { Evaluator } from './function-types.js';
import { parseStatement } from './parser.js';
import { toBool } from './values.js';

export type RuleOutput = (
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'binary'; readonly value: Buffer }
) & {
  /**
   * The SET variables by name (without `@`), present when the rule has a SET clause: pass the
   * output to a template's render() so `${@name}` works in actions (iot-sql-set.md).
   */
  readonly variables?: Readonly<Record<string, unknown>>;
};

export interface CompiledRule {
  /** The FROM topic filter, e.g. 'sensors/+/data'. */
  readonly topicFilter: string;
  readonly sqlVersion: SqlVersion;
  /** SET variable names in order (without `@`). */
  readonly variables: readonly string[];
  /** The output for this message, or null when WHERE is not true. Never throws. */
  evaluate(input: RuleInput): RuleOutput | null;
}

export interface CompileRuleOptions {
  /** Default '2016-03-23' (the version AWS recommends; literals, nested queries and SET need it). */
  readonly sqlVersion?: SqlVersion;
}

// iot-sql-set.md, "SET clause limits" and "Syntax rules".
export const MAX_SET_VARIABLES = 10;
export const MAX_VARIABLE_NAME_LENGTH = 64;

const EMPTY = Buffer.alloc(0);

/** Variables of a rule: each visible only after its own SET assignment. */
class SlotResolver implements VariableResolver {
  readonly slots = new Map<string, number>();

  constructor(private readonly sql: string) {}

  resolve(name: string, pos: number): Evaluator {
    const slot = this.slots.get(name);
    if (slot === undefined) {
      throw sqlErrorAt(this.sql, pos, 'SQL_UNDEFINED_VARIABLE', `@${name} (a variable can only be used after the SET assignment that defines it)`);
    }
    return (ctx) => ctx.vars[slot];
  }
}

class SqlRule implements CompiledRule {
  private readonly ctx: EvalContext;

  constructor(
    readonly topicFilter: string,
    readonly sqlVersion: SqlVersion,
    readonly variables: readonly string[],
    private readonly sets: readonly Evaluator[],
    private readonly where: Evaluator | undefined,
    private readonly select: Evaluator,
    private readonly selectValue: boolean,
    private readonly usesPayload: boolean,
  ) {
    this.ctx = new EvalContext(sqlVersion, sets.length);
  }

  evaluate(input: RuleInput): RuleOutput | null {
    const ctx = this.ctx;
    try {
      ctx.begin(input, this.usesPayload);
      const sets = this.sets;
      for (let i = 0; i < sets.length; i++) ctx.vars[i] = sets[i]!(ctx);
      if (this.where !== undefined && toBool(this.where(ctx)) !== true) return null;
      const value = this.select(ctx);
      let output: RuleOutput;
      if (Buffer.isBuffer(value)) output = { kind: 'binary', value };
      else if (value === undefined && this.selectValue) output = { kind: 'binary', value: EMPTY };
      else output = { kind: 'json', value };
      if (sets.length === 0) return output;
      const variables: Record<string, unknown> = {};
      for (let i = 0; i < sets.length; i++) variables[this.variables[i]!] = ctx.vars[i];
      return { ...output, variables };
    } catch {
      return null;
    } finally {
      ctx.end();
    }
  }
}

function checkTopicFilter(sql: string, statement: Statement): void {
  const filter = statement.topicFilter;
  const pos = statement.topicFilterPos;
  if (filter.startsWith('$share/')) throw sqlErrorAt(sql, pos, 'SQL_INVALID_TOPIC_FILTER', 'a shared subscription cannot be a rule source');
  const error = validateTopicFilter(filter, { maxTopicBytes: 65535, maxTopicLevels: Number.MAX_SAFE_INTEGER });
  if (error !== null) throw sqlErrorAt(sql, pos, 'SQL_INVALID_TOPIC_FILTER', `'${filter}' (${error})`);
}

/** Compile a rule's SQL. Throws SqlError with the line and column of the first problem. */
export function compileRule(sql: string, options: CompileRuleOptions = {}): CompiledRule {
  const version = options.sqlVersion ?? '2016-03-23';
  const statement = parseStatement(sql);
  checkTopicFilter(sql, statement);
  const resolver = new SlotResolver(sql);
  const compiler = new Compiler(sql, version, resolver);

  const sets: Evaluator[] = [];
  const names: string[] = [];
  for (const set of statement.sets) {
    if (sets.length === 0) compiler.requireV2(set.pos, 'the SET clause');
    if (set.name.length > MAX_VARIABLE_NAME_LENGTH) {
      throw sqlErrorAt(sql, set.pos, 'SQL_SYNTAX', `variable names are at most ${MAX_VARIABLE_NAME_LENGTH} characters`);
    }
    if (resolver.slots.has(set.name)) throw sqlErrorAt(sql, set.pos, 'SQL_DUPLICATE_VARIABLE', `@${set.name} (variables are immutable)`);
    if (sets.length === MAX_SET_VARIABLES) throw sqlErrorAt(sql, set.pos, 'SQL_VARIABLE_LIMIT', `at most ${MAX_SET_VARIABLES} per statement`);
    // Compiled before it is defined: `SET @x = @x + 1` is an undefined variable.
    sets.push(compiler.expr(set.value, TOP_LEVEL));
    resolver.slots.set(set.name, names.length);
    names.push(set.name);
  }
  const where = statement.where === undefined ? undefined : compiler.expr(statement.where, TOP_LEVEL);
  const select = compiler.select(statement.select, TOP_LEVEL);
  return new SqlRule(statement.topicFilter, version, names, sets, where, select, statement.select.value, compiler.usesPayload);
}
