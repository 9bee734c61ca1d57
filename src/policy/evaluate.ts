/**
 * Compilation and evaluation of a principal's policy documents (IAM evaluation logic,
 * reference_policies_evaluation-logic.md; AWS IoT "follows the same conventions as IAM",
 * iot-policies.md):
 *
 * 1. All statements of all documents are considered together.
 * 2. A statement applies when its Action/NotAction matches the action, its
 *    Resource/NotResource matches the resource, and every condition holds.
 * 3. Any applicable Deny wins ("explicit deny"); otherwise any applicable Allow allows;
 *    otherwise the request is denied by default ("implicit deny"). The names follow the
 *    `explicitDeny` / `implicitDeny` of AWS IoT's TestAuthorization API.
 *
 * Work happens once per connection in `compilePolicies`: variables are substituted, patterns
 * become matchers, and conditions are decided, because every condition key IoT offers
 * (aws:SourceIp, iot:ClientId, iot:DomainName, iot:ConnectAttributes) is fixed for the
 * life of a connection. Statements whose conditions fail are dropped. `evaluate` then only
 * matches strings, and allocates nothing: verdicts are built at compile time.
 *
 * Action names match case-insensitively (IAM); resources case-sensitively (topics are
 * case-sensitive, topics.md).
 */
import { conditionHolds, prepareCondition, type PreparedCondition } from './conditions.js';
import type { Effect, PolicyDocument, PolicyStatement } from './document.js';
import { GlobPattern } from './pattern.js';
import {
  contextValues,
  parseTemplate,
  resolveTemplate,
  type ContextValues,
  type PolicyContext,
  type Template,
} from './variables.js';

/** Names the statement that decided, for server logs and `policy check`. */
export interface StatementRef {
  /** Index in the documents passed to `compilePolicies`. */
  readonly documentIndex: number;
  /** Index within that document's statements (0 for a single-object Statement). */
  readonly statementIndex: number;
  readonly sid: string | undefined;
}

export type Verdict =
  | { readonly effect: 'Allow'; readonly reason: 'allowed'; readonly statement: StatementRef }
  | { readonly effect: 'Deny'; readonly reason: 'explicitDeny'; readonly statement: StatementRef }
  | { readonly effect: 'Deny'; readonly reason: 'implicitDeny'; readonly statement: null };

/** The shared result when no statement applies. */
export const IMPLICIT_DENY: Verdict = Object.freeze({ effect: 'Deny', reason: 'implicitDeny', statement: null });

export function describeVerdict(verdict: Verdict): string {
  if (verdict.statement === null) return 'Deny (implicit: no statement allows it)';
  const { documentIndex, statementIndex, sid } = verdict.statement;
  const where = `document ${documentIndex}, statement ${statementIndex}${sid === undefined ? '' : ` (Sid "${sid}")`}`;
  return verdict.effect === 'Allow' ? `Allow by ${where}` : `Deny (explicit) by ${where}`;
}

/** Per-document preparation that does not depend on the connection; cached per statement object. */
interface PreparedStatement {
  readonly actions: readonly GlobPattern[];
  readonly resources: readonly (Template | GlobPattern)[];
  readonly conditions: readonly PreparedCondition[];
}

interface CompiledStatement {
  readonly effect: Effect;
  readonly actions: readonly GlobPattern[];
  readonly notAction: boolean;
  readonly resources: readonly GlobPattern[];
  readonly notResource: boolean;
  readonly verdict: Verdict;
}

interface ActionPlan {
  readonly denies: readonly CompiledStatement[];
  readonly allows: readonly CompiledStatement[];
}

const NO_VALUES: ContextValues = new Map();
// Documents are usually shared by many connections (the same authorizer answer, the same
// configured policy): parse their patterns once, keyed by the statement object and by
// whether the owning document's Version has variables.
const preparedStatements = [new WeakMap<PolicyStatement, PreparedStatement>(), new WeakMap<PolicyStatement, PreparedStatement>()] as const;
// A document set none of whose statements has a variable or a condition (the configured
// unauthenticated policy, typically) compiles to the same policy for every connection: compiled
// once and shared, keyed by the documents array (CompiledPolicy is immutable; its action plans are
// a memo). A compiled policy per connection was ~1 KB of every idle connection.
const sharedPolicies = new WeakMap<readonly PolicyDocument[], CompiledPolicy>();
// Callers pass a handful of action names; more distinct ones than this are evaluated without memoising.
const MAX_ACTION_PLANS = 64;

function prepare(statement: PolicyStatement, substitute: boolean): PreparedStatement {
  const cache = preparedStatements[substitute ? 1 : 0];
  const cached = cache.get(statement);
  if (cached !== undefined) return cached;
  const prepared: PreparedStatement = {
    actions: statement.actions.map((a) => GlobPattern.compile(a.toLowerCase())),
    resources: statement.resources.map((r) => {
      const template = parseTemplate(r, substitute);
      if (template.hasVariables) return template;
      // No variables: the matcher is the same for every connection.
      return GlobPattern.fromPieces(resolveTemplate(template, NO_VALUES) ?? [], r);
    }),
    conditions: statement.conditions.map((c) => prepareCondition(c.operator, c.key, c.values, substitute)),
  };
  cache.set(statement, prepared);
  return prepared;
}

/** True when a statement compiles the same for every connection: no variables, no conditions. */
function contextFree(prepared: PreparedStatement): boolean {
  return prepared.conditions.length === 0 && prepared.resources.every((r) => r instanceof GlobPattern);
}

function compileStatement(
  statement: PolicyStatement,
  substitute: boolean,
  ref: StatementRef,
  values: ContextValues,
): CompiledStatement | null {
  const prepared = prepare(statement, substitute);
  for (const condition of prepared.conditions) {
    if (!conditionHolds(condition, values)) return null;
  }
  const resources = prepared.resources.map((r) => {
    if (r instanceof GlobPattern) return r;
    const pieces = resolveTemplate(r, values);
    // A variable without a value: this entry matches nothing (fixtures README; IAM: "any
    // attempt to match it fails"). Under NotResource it therefore excludes nothing.
    return pieces === null ? GlobPattern.never : GlobPattern.fromPieces(pieces, r.source);
  });
  const verdict: Verdict =
    statement.effect === 'Allow'
      ? { effect: 'Allow', reason: 'allowed', statement: ref }
      : { effect: 'Deny', reason: 'explicitDeny', statement: ref };
  return {
    effect: statement.effect,
    actions: prepared.actions,
    notAction: statement.notAction,
    resources,
    notResource: statement.notResource,
    verdict: Object.freeze(verdict),
  };
}

function actionApplies(statement: CompiledStatement, lowerAction: string): boolean {
  let listed = false;
  for (const pattern of statement.actions) {
    if (pattern.matches(lowerAction)) {
      listed = true;
      break;
    }
  }
  return listed !== statement.notAction;
}

function resourceApplies(statement: CompiledStatement, resource: string): boolean {
  const patterns = statement.resources;
  let listed = false;
  for (let i = 0; i < patterns.length; i++) {
    if ((patterns[i] as GlobPattern).matches(resource)) {
      listed = true;
      break;
    }
  }
  return listed !== statement.notResource;
}

/** A principal's documents compiled for one connection (or for all, when nothing in them depends on it). Immutable. */
export class CompiledPolicy {
  private readonly statements: readonly CompiledStatement[];
  private readonly plans = new Map<string, ActionPlan>();

  /** @internal use `compilePolicies` */
  constructor(statements: readonly CompiledStatement[]) {
    this.statements = statements;
  }

  /** Statements whose conditions held for this connection (the only ones that can ever apply). */
  get statementCount(): number {
    return this.statements.length;
  }

  /** Decides one action on one resource ARN (build it with `arnFor`). */
  evaluate(action: string, resource: string): Verdict {
    const plan = this.plans.get(action) ?? this.planFor(action);
    for (const statement of plan.denies) {
      if (resourceApplies(statement, resource)) return statement.verdict;
    }
    for (const statement of plan.allows) {
      if (resourceApplies(statement, resource)) return statement.verdict;
    }
    return IMPLICIT_DENY;
  }

  /** True when the action is allowed on the resource. */
  allows(action: string, resource: string): boolean {
    return this.evaluate(action, resource).effect === 'Allow';
  }

  /** The statements that can apply to an action, denies first, in document order. */
  private planFor(action: string): ActionPlan {
    const lower = action.toLowerCase();
    const denies: CompiledStatement[] = [];
    const allows: CompiledStatement[] = [];
    for (const statement of this.statements) {
      if (actionApplies(statement, lower)) (statement.effect === 'Deny' ? denies : allows).push(statement);
    }
    const plan: ActionPlan = { denies, allows };
    if (this.plans.size < MAX_ACTION_PLANS) this.plans.set(action, plan);
    return plan;
  }
}

/**
 * Compiles every document of a principal for one connection. Documents must come from
 * `parsePolicyDocument(s)`; this step cannot fail.
 */
export function compilePolicies(documents: readonly PolicyDocument[], context: PolicyContext = {}): CompiledPolicy {
  const shared = sharedPolicies.get(documents);
  if (shared !== undefined) return shared;
  const values = contextValues(context);
  let free = true;
  const statements: CompiledStatement[] = [];
  documents.forEach((document, documentIndex) => {
    // IAM: variables exist only in the 2012-10-17 policy language.
    const substitute = document.version === '2012-10-17';
    document.statements.forEach((statement, statementIndex) => {
      const ref: StatementRef = Object.freeze({ documentIndex, statementIndex, sid: statement.sid });
      if (free && !contextFree(prepare(statement, substitute))) free = false;
      const compiled = compileStatement(statement, substitute, ref, values);
      if (compiled !== null) statements.push(compiled);
    });
  });
  const policy = new CompiledPolicy(statements);
  if (free) sharedPolicies.set(documents, policy);
  return policy;
}
