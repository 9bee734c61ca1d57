/**
 * Condition operators (IAM reference_policies_elements_condition_operators.md and
 * reference_policies_multi-value-conditions.md; IoT uses them with aws:SourceIp,
 * iot:ClientId, iot:DomainName and the set iot:ConnectAttributes, connect-policy.md).
 *
 * An operator name is `[ForAnyValue:|ForAllValues:]<base>[IfExists]`, e.g.
 * `ForAllValues:StringEquals`, `StringLikeIfExists`, `IpAddress`.
 *
 * Semantics for one key:
 * - Several policy values are ORed; for a negated operator (StringNotEquals, NotIpAddress,
 *   NumericNotEquals...) they are NORed: the request value must match none of them.
 * - Key absent from the request: false, except true for negated operators, for `IfExists`
 *   and for `ForAllValues:`; `Null` tests presence itself.
 * - `ForAnyValue:` true if at least one request value satisfies the operator (false for an
 *   empty set); `ForAllValues:` true if every one does (true for an empty set).
 * - A multi-valued key without a qualifier (IAM says to always use one): positive operators
 *   hold if any request value matches, negated ones if none does.
 * - An empty multi-valued key counts as absent.
 *
 * Unknown operators fail validation, as AWS rejects them when a policy is created; known
 * IAM operators Switchboard does not implement (Date*, Arn*, BinaryEquals) fail too, with a
 * distinct code, so a document is never evaluated with a condition silently ignored.
 *
 * Policy variables are substituted only in String* values (IAM: not in Numeric, Bool, IP or
 * Null values); a value whose variable has no value matches no request value.
 */
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock } from './ip-address.js';
import { GlobPattern } from './pattern.js';
import {
  parseTemplate,
  resolveTemplate,
  resolveToString,
  type ContextValues,
  type Template,
} from './variables.js';

export type ConditionFamily = 'string' | 'numeric' | 'bool' | 'ip' | 'null';
export type SetQualifier = 'ForAnyValue' | 'ForAllValues';
type NumericTest = 'eq' | 'lt' | 'le' | 'gt' | 'ge';

export interface ConditionOperator {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly name: string;
  /** The base operator, e.g. `StringLike`. */
  readonly base: string;
  readonly family: ConditionFamily;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly qualifier: SetQualifier | null;
  /** String family: `*`/`?` wildcards (StringLike) and case folding (…IgnoreCase). */
  readonly like: boolean;
  readonly ignoreCase: boolean;
  readonly numeric: NumericTest | null;
}

interface BaseSpec {
  readonly family: ConditionFamily;
  readonly negated: boolean;
  readonly like?: boolean;
  readonly ignoreCase?: boolean;
  readonly numeric?: NumericTest;
}

const BASE_OPERATORS: Readonly<Record<string, BaseSpec>> = {
  StringEquals: { family: 'string', negated: false },
  StringNotEquals: { family: 'string', negated: true },
  StringEqualsIgnoreCase: { family: 'string', negated: false, ignoreCase: true },
  StringNotEqualsIgnoreCase: { family: 'string', negated: true, ignoreCase: true },
  StringLike: { family: 'string', negated: false, like: true },
  StringNotLike: { family: 'string', negated: true, like: true },
  NumericEquals: { family: 'numeric', negated: false, numeric: 'eq' },
  NumericNotEquals: { family: 'numeric', negated: true, numeric: 'eq' },
  NumericLessThan: { family: 'numeric', negated: false, numeric: 'lt' },
  NumericLessThanEquals: { family: 'numeric', negated: false, numeric: 'le' },
  NumericGreaterThan: { family: 'numeric', negated: false, numeric: 'gt' },
  NumericGreaterThanEquals: { family: 'numeric', negated: false, numeric: 'ge' },
  Bool: { family: 'bool', negated: false },
  IpAddress: { family: 'ip', negated: false },
  NotIpAddress: { family: 'ip', negated: true },
  Null: { family: 'null', negated: false },
};

/** Valid IAM operators that Switchboard refuses rather than ignores. */
const UNSUPPORTED_BASES = new Set([
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
  'BinaryEquals',
]);

export type OperatorParse =
  | { readonly ok: true; readonly operator: ConditionOperator }
  | { readonly ok: false; readonly unsupported: boolean; readonly detail: string };

export function parseConditionOperator(name: string): OperatorParse {
  let rest = name;
  let qualifier: SetQualifier | null = null;
  if (rest.startsWith('ForAnyValue:')) {
    qualifier = 'ForAnyValue';
    rest = rest.slice('ForAnyValue:'.length);
  } else if (rest.startsWith('ForAllValues:')) {
    qualifier = 'ForAllValues';
    rest = rest.slice('ForAllValues:'.length);
  }
  let ifExists = false;
  let spec = BASE_OPERATORS[rest];
  if (spec === undefined && rest.endsWith('IfExists')) {
    const base = rest.slice(0, -'IfExists'.length);
    spec = BASE_OPERATORS[base];
    if (spec !== undefined) {
      rest = base;
      ifExists = true;
    }
  }
  if (spec === undefined) {
    const base = rest.endsWith('IfExists') ? rest.slice(0, -'IfExists'.length) : rest;
    if (UNSUPPORTED_BASES.has(base)) {
      return { ok: false, unsupported: true, detail: `"${name}" (${base} is not implemented)` };
    }
    return { ok: false, unsupported: false, detail: `"${name}"${suggest(rest)}` };
  }
  // IAM: Null tests presence itself, so it takes neither IfExists nor a set qualifier.
  if (spec.family === 'null' && (ifExists || qualifier !== null)) {
    return { ok: false, unsupported: false, detail: `"${name}" (Null takes no IfExists or set qualifier)` };
  }
  return {
    ok: true,
    operator: {
      name,
      base: rest,
      family: spec.family,
      negated: spec.negated,
      ifExists,
      qualifier,
      like: spec.like === true,
      ignoreCase: spec.ignoreCase === true,
      numeric: spec.numeric ?? null,
    },
  };
}

function suggest(written: string): string {
  const lower = written.toLowerCase();
  for (const base of Object.keys(BASE_OPERATORS)) {
    if (base.toLowerCase() === lower || `${base}ifexists`.toLowerCase() === lower) {
      return ` (operator names are case-sensitive: did you mean "${base}${lower.endsWith('ifexists') ? 'IfExists' : ''}"?)`;
    }
  }
  return '';
}

/** Checks one policy value against the operator's family; returns a detail message or null. */
export function checkConditionValue(operator: ConditionOperator, value: string): string | null {
  switch (operator.family) {
    case 'string':
      return null;
    case 'numeric':
      return parseNumber(value) === null ? `"${value}" is not a number` : null;
    case 'bool':
    case 'null':
      return parseBool(value) === null ? `"${value}" must be "true" or "false"` : null;
    case 'ip':
      return parseCidr(value) === null ? `"${value}" is not an IP address or CIDR block` : null;
  }
}

function parseNumber(text: string): number | null {
  if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function parseBool(text: string): boolean | null {
  const lower = text.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : null;
}

/** A condition with its operator parsed and its values prepared once per document. */
export interface PreparedCondition {
  readonly operator: ConditionOperator;
  /** Lower-cased: IAM key names are case-insensitive. */
  readonly key: string;
  readonly templates: readonly Template[] | null;
  readonly numbers: readonly number[] | null;
  readonly bools: readonly boolean[] | null;
  readonly blocks: readonly CidrBlock[] | null;
}

/**
 * Values must already have passed `checkConditionValue`; `substitute` is false for
 * documents older than the 2012-10-17 policy language, which have no variables.
 */
export function prepareCondition(
  operator: ConditionOperator,
  key: string,
  values: readonly string[],
  substitute: boolean,
): PreparedCondition {
  const family = operator.family;
  return {
    operator,
    key: key.toLowerCase(),
    templates: family === 'string' ? values.map((v) => parseTemplate(v, substitute)) : null,
    numbers: family === 'numeric' ? values.map((v) => parseNumber(v) as number) : null,
    bools: family === 'bool' || family === 'null' ? values.map((v) => parseBool(v) as boolean) : null,
    blocks: family === 'ip' ? values.map((v) => parseCidr(v) as CidrBlock) : null,
  };
}

/** Decides a condition for one connection. */
export function conditionHolds(condition: PreparedCondition, values: ContextValues): boolean {
  const { operator } = condition;
  const raw = values.get(condition.key);
  const requestValues: readonly string[] = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  const absent = requestValues.length === 0;

  if (operator.family === 'null') {
    // `"Null": {"k": "true"}` holds when k is absent; `"false"` when it is present.
    return (condition.bools as readonly boolean[]).some((wantAbsent) => wantAbsent === absent);
  }
  if (absent) {
    if (operator.ifExists || operator.qualifier === 'ForAllValues') return true;
    if (operator.qualifier === 'ForAnyValue') return false;
    return operator.negated;
  }

  const matchOne = valueMatcher(condition, values);
  // For one request value: positive operators need a policy value that matches, negated
  // operators need none to match.
  const satisfies = (r: string): boolean => matchOne(r) !== operator.negated;

  if (operator.qualifier === 'ForAllValues') return requestValues.every(satisfies);
  if (operator.qualifier === 'ForAnyValue') return requestValues.some(satisfies);
  const anyMatch = requestValues.some(matchOne);
  return operator.negated ? !anyMatch : anyMatch;
}

/** A function telling whether a request value matches at least one policy value (ignoring negation). */
function valueMatcher(condition: PreparedCondition, values: ContextValues): (r: string) => boolean {
  const { operator } = condition;
  switch (operator.family) {
    case 'string': {
      const templates = condition.templates as readonly Template[];
      if (operator.like) {
        const patterns = templates.map((t) => {
          const pieces = resolveTemplate(t, values);
          return pieces === null ? GlobPattern.never : GlobPattern.fromPieces(pieces);
        });
        return (r) => patterns.some((p) => p.matches(r));
      }
      const strings: string[] = [];
      for (const t of templates) {
        const s = resolveToString(t, values);
        if (s !== null) strings.push(operator.ignoreCase ? s.toLowerCase() : s);
      }
      return operator.ignoreCase ? (r) => strings.includes(r.toLowerCase()) : (r) => strings.includes(r);
    }
    case 'numeric': {
      const numbers = condition.numbers as readonly number[];
      const test = operator.numeric as NumericTest;
      return (r) => {
        const n = parseNumber(r);
        return n !== null && numbers.some((p) => compareNumbers(test, n, p));
      };
    }
    case 'bool': {
      const bools = condition.bools as readonly boolean[];
      return (r) => {
        const b = parseBool(r);
        return b !== null && bools.includes(b);
      };
    }
    case 'ip': {
      const blocks = condition.blocks as readonly CidrBlock[];
      return (r) => {
        const address = parseIpAddress(r);
        return address !== null && blocks.some((b) => cidrContains(b, address));
      };
    }
    case 'null':
      return () => false; // handled before; kept for exhaustiveness
  }
}

function compareNumbers(test: NumericTest, request: number, policy: number): boolean {
  switch (test) {
    case 'eq':
      return request === policy;
    case 'lt':
      return request < policy;
    case 'le':
      return request <= policy;
    case 'gt':
      return request > policy;
    case 'ge':
      return request >= policy;
  }
}
