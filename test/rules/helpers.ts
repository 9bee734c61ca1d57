// Shared helpers for the rules-engine tests: build a message and evaluate one expression.
import assert from 'node:assert/strict';

import { compileRule, type CompileRuleOptions, type RuleInput, type RuleOutput } from '../../src/rules/index.js';

export const NOW = 1_700_000_000_000;

/** A message; a non-Buffer payload is JSON-encoded. */
export function message(payload: unknown = {}, extra: Partial<RuleInput> = {}): RuleInput {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  return { topic: 'a/b', payload: bytes, timestamp: NOW, ...extra };
}

/** Output of `sql` for the message, or null. */
export function run(sql: string, payload: unknown = {}, extra: Partial<RuleInput> = {}, options?: CompileRuleOptions): RuleOutput | null {
  return compileRule(sql, options).evaluate(message(payload, extra));
}

/** The JSON value `sql` produces (asserting it matched and is JSON). */
export function json(sql: string, payload: unknown = {}, extra: Partial<RuleInput> = {}, options?: CompileRuleOptions): unknown {
  const out = run(sql, payload, extra, options);
  assert.ok(out !== null, `no output for ${sql}`);
  assert.equal(out.kind, 'json', `binary output for ${sql}`);
  return out.value;
}

/** Marker for an expected SQL Undefined. */
export const UNDEFINED = Symbol('Undefined');

/**
 * Value of one expression against a payload: `SELECT VALUE expr`, where Undefined is the
 * empty payload; returned as UNDEFINED so tables can state it.
 */
export function value(expr: string, payload: unknown = {}, extra: Partial<RuleInput> = {}, options?: CompileRuleOptions): unknown {
  const out = run(`SELECT VALUE ${expr} FROM 't'`, payload, extra, options);
  assert.ok(out !== null, `no output for ${expr}`);
  if (out.kind === 'binary') {
    assert.equal(out.value.length, 0, `binary output for ${expr}`);
    return UNDEFINED;
  }
  return out.value;
}

export type Case = readonly [expr: string, expected: unknown, payload?: unknown];

/** Assert every [expression, expected(, payload)] row. */
export function table(rows: readonly Case[], extra: Partial<RuleInput> = {}, options?: CompileRuleOptions): void {
  for (const [expr, expected, payload] of rows) {
    assert.deepEqual(value(expr, payload ?? {}, extra, options), expected, expr);
  }
}
