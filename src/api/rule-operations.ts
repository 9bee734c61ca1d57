// What the admin plane can do to rules, once, for both of its fronts: the /api/rules routes (the
// CLI and console) and the AWS IoT control plane (control-plane/topic-rules.ts). Validation is the
// rules engine's (rules/rule-definition.ts, the SQL compiler); failures are ApiErrors.
import { RuleDefinitionError, type RulesEngine } from '../rules/engine.js';
import type { StoredRule } from '../store/rule-store.js';
import { FunctionNameError, type FunctionDirectory } from '../functions/function-directory.js';
import { ApiError, badRequest, notFound } from './errors.js';

function asApiError(err: unknown): unknown {
  if (err instanceof RuleDefinitionError) return badRequest(err.message);
  return err;
}

/**
 * Network input is a value, never a path: every function action in a rule sent over the API names
 * a function in functions.dir (config-file rules may give paths). Throws a 400 naming the action.
 */
function checkFunctionActions(body: unknown, functions: FunctionDirectory): void {
  if (typeof body !== 'object' || body === null) return;
  const { actions, errorAction } = body as { actions?: unknown; errorAction?: unknown };
  const all = [...(Array.isArray(actions) ? actions.map((a, i) => [`actions.${i}`, a] as const) : []), ['errorAction', errorAction] as const];
  for (const [where, action] of all) {
    const f = (action as { function?: { handler?: unknown } } | null | undefined)?.function;
    if (typeof f !== 'object' || f === null) continue;
    try {
      functions.resolve(f.handler as string);
    } catch (err) {
      if (err instanceof FunctionNameError) throw badRequest(`${where}.function.handler: ${err.message}`);
      throw err;
    }
  }
}

export class RuleOperations {
  constructor(
    readonly engine: RulesEngine,
    private readonly functions: FunctionDirectory,
  ) {}

  list(): StoredRule[] {
    return this.engine.list();
  }

  /** The rule, or undefined (each front answers a missing rule its own way). */
  find(name: string): StoredRule | undefined {
    return this.engine.get(name);
  }

  get(name: string): StoredRule {
    const rule = this.engine.get(name);
    if (rule === undefined) throw notFound(`rule ${name} does not exist`);
    return rule;
  }

  /** A definition in Switchboard's shape; `exists` is thrown when the name is taken. */
  create(definition: unknown, exists: (name: string) => ApiError = (name) => badRequest(`rule ${name} already exists`)): StoredRule {
    checkFunctionActions(definition, this.functions);
    const name = (definition as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && this.engine.get(name) !== undefined) throw exists(name);
    try {
      return this.engine.put(definition, { replace: false });
    } catch (err) {
      throw asApiError(err);
    }
  }

  /** Replaces an existing rule (the caller has checked that it exists). */
  replace(definition: unknown): StoredRule {
    checkFunctionActions(definition, this.functions);
    try {
      return this.engine.put(definition, { replace: true });
    } catch (err) {
      throw asApiError(err);
    }
  }

  setEnabled(name: string, enabled: boolean): StoredRule | undefined {
    try {
      return this.engine.setEnabled(name, enabled);
    } catch (err) {
      throw asApiError(err);
    }
  }

  delete(name: string): boolean {
    return this.engine.delete(name);
  }
}
