/**
 * Substitution templates in action parameters (iot-substitution-templates.md):
 *
 *   '${topic()}/republish'              on a/b           -> 'a/b/republish'
 *   'alerts/${topic(2)}'                on sensors/7/x   -> 'alerts/7'
 *   "${replace(topic(), '/', '-') + '-' + timestamp()}"  -> 'a-b-1700000000000'
 *   'temp-${@temp_celsius}C.json'       SET variable of the rule (iot-sql-set.md)
 *   '$$aws/things/x/shadow/update'      -> '$aws/things/x/shadow/update' (republish-rule-action.md:
 *                                          "To republish to a reserved topic, which begins with $, use $$")
 *
 * Each `${expression}` is any SQL expression, evaluated against the original message, "not
 * the SELECT output": AS aliases cannot be referenced. SET variables can, and come from the
 * rule's evaluation output passed to render(). The value is written in its String form
 * (Arrays and Objects as JSON); Undefined and Null write nothing ("Undefined is converted to
 * an empty string when serialized by itself").
 *
 * `$$` is an escape only at the very start; elsewhere `$` not followed by `{` is ordinary text.
 */
import { Compiler, TOP_LEVEL, type VariableResolver } from './compile.js';
import { EvalContext, type RuleInput, type SqlVersion } from './context.js';
import { sqlErrorAt } from './errors.js';
import type { Evaluator } from './function-types.js';
import { parseTemplateExpression } from './parser.js';
import type { CompiledRule, RuleOutput } from './rule.js';
import { toStr } from './values.js';

export interface CompiledTemplate {
  readonly source: string;
  /** No `${...}`: render() always returns the same text. */
  readonly constant: boolean;
  /** The text for this message; `selected` is the rule's output, for SET variables. Never throws. */
  render(input: RuleInput, selected?: RuleOutput | null): string;
}

export interface CompileTemplateOptions {
  readonly sqlVersion?: SqlVersion;
  /** The rule whose action holds the template: `${@name}` must then be one of its SET variables. */
  readonly rule?: Pick<CompiledRule, 'variables'>;
}

class NameResolver implements VariableResolver {
  constructor(
    private readonly template: string,
    private readonly known: ReadonlySet<string> | undefined,
  ) {}

  resolve(name: string, pos: number): Evaluator {
    if (this.known !== undefined && !this.known.has(name)) {
      throw sqlErrorAt(this.template, pos, 'SQL_UNDEFINED_VARIABLE', `@${name} is not SET by the rule`);
    }
    return (ctx) => {
      const vars = ctx.templateVars;
      return vars !== undefined && Object.hasOwn(vars, name) ? vars[name] : undefined;
    };
  }
}

class Template implements CompiledTemplate {
  private readonly ctx: EvalContext;

  constructor(
    readonly source: string,
    private readonly pieces: ReadonlyArray<string | Evaluator>,
    private readonly usesPayload: boolean,
    version: SqlVersion,
  ) {
    this.ctx = new EvalContext(version, 0);
  }

  get constant(): boolean {
    return this.pieces.every((p) => typeof p === 'string');
  }

  render(input: RuleInput, selected?: RuleOutput | null): string {
    const pieces = this.pieces;
    if (pieces.length === 1 && typeof pieces[0] === 'string') return pieces[0];
    const ctx = this.ctx;
    ctx.begin(input, this.usesPayload);
    ctx.templateVars = selected?.variables;
    let out = '';
    try {
      for (let i = 0; i < pieces.length; i++) {
        const p = pieces[i]!;
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        let v: unknown;
        try {
          v = p(ctx);
        } catch {
          v = undefined;
        }
        out += toStr(v) ?? '';
      }
      return out;
    } finally {
      ctx.end();
    }
  }
}

/** Compile a substitution template. Throws SqlError (line and column within the template). */
export function compileTemplate(template: string, options: CompileTemplateOptions = {}): CompiledTemplate {
  const version = options.sqlVersion ?? '2016-03-23';
  const known = options.rule === undefined ? undefined : new Set(options.rule.variables);
  const compiler = new Compiler(template, version, new NameResolver(template, known));
  const pieces: Array<string | Evaluator> = [];
  let text = '';
  let i = 0;
  if (template.startsWith('$$')) {
    text = '$';
    i = 2;
  }
  const n = template.length;
  while (i < n) {
    const open = template.indexOf('${', i);
    if (open < 0) {
      text += template.slice(i);
      break;
    }
    text += template.slice(i, open);
    const { expr, end } = parseTemplateExpression(template, open + 2);
    if (text !== '') pieces.push(text);
    text = '';
    pieces.push(compiler.expr(expr, TOP_LEVEL));
    i = end;
  }
  if (text !== '' || pieces.length === 0) pieces.push(text);
  return new Template(template, pieces, compiler.usesPayload, version);
}
