/**
 * AWS IoT policy documents: parsing and validation into a normalized, typed form.
 *
 * Grammar (IAM JSON policy grammar as used by AWS IoT, iot-policies.md):
 *   { "Version"?: "2012-10-17" | "2008-10-17", "Id"?: string,
 *     "Statement": Statement | Statement[] }
 *   Statement = { "Sid"?: string, "Effect": "Allow" | "Deny",
 *                 "Action" | "NotAction": string | string[],
 *                 "Resource" | "NotResource": string | string[],
 *                 "Condition"?: { <operator>: { <key>: value | value[] } } }
 *
 * Valid:   {"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}
 * Invalid: Effect "allow" (IAM values are case-sensitive); Action and NotAction together;
 *          Resource "topic/a" (not an ARN); Condition operator "StringEqual" (unknown).
 *
 * Documents may arrive as objects or JSON strings (authorizer responses use both forms;
 * TestInvokeAuthorizer returns strings). Nothing here throws on bad input.
 */
import { checkConditionValue, parseConditionOperator, type ConditionOperator } from './conditions.js';
import { inDocument, policyError, type PolicyError, type PolicyResult } from './errors.js';

export type PolicyVersion = '2012-10-17' | '2008-10-17';
export type Effect = 'Allow' | 'Deny';

export interface PolicyCondition {
  readonly operator: ConditionOperator;
  /** The condition key as written; matching is case-insensitive. */
  readonly key: string;
  /** Policy values, as strings (JSON numbers and booleans are converted). May be empty. */
  readonly values: readonly string[];
}

export interface PolicyStatement {
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** Action patterns; when `notAction`, the statement applies to every action not listed. */
  readonly actions: readonly string[];
  readonly notAction: boolean;
  /** Resource patterns; when `notResource`, the statement applies to every resource not listed. */
  readonly resources: readonly string[];
  readonly notResource: boolean;
  readonly conditions: readonly PolicyCondition[];
}

export interface PolicyDocument {
  /**
   * The policy language version. A document without `Version` is `2008-10-17`, as in IAM,
   * and in that version `${...}` is literal text rather than a variable.
   */
  readonly version: PolicyVersion;
  readonly id: string | undefined;
  readonly statements: readonly PolicyStatement[];
}

export interface ParseOptions {
  /**
   * Reject documents longer than this many characters (see `policyDocumentSize`).
   * Off unless asked: authorizer responses are limited to 2,048 (custom-auth docs), named
   * policies too, but a locally configured policy need not be.
   */
  readonly maxSize?: number;
}

/** The AWS limit on one policy document, in characters excluding whitespace. */
export const POLICY_DOCUMENT_MAX_SIZE = 2048;

const VERSIONS: ReadonlySet<string> = new Set(['2012-10-17', '2008-10-17']);
const DOCUMENT_ELEMENTS: ReadonlySet<string> = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS: ReadonlySet<string> = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
// IAM: identity-based policies (which IoT policies are) have no Principal element.
const FORBIDDEN_STATEMENT_ELEMENTS: ReadonlySet<string> = new Set(['Principal', 'NotPrincipal']);

// `*`, or `service:name` where both parts may carry IAM wildcards (`iot:*`, `iot:Pub*`, `iot:?eceive`).
const ACTION = /^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Size as AWS counts it for the 2,048 limit: characters excluding whitespace. For a JSON
 * string only whitespace between tokens is excluded (spaces inside a topic name count);
 * an object is measured as its compact JSON.
 */
export function policyDocumentSize(input: unknown): number {
  if (typeof input !== 'string') return JSON.stringify(input)?.length ?? 0;
  let size = 0;
  let inString = false;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (inString) {
      size++;
      if (c === 0x5c /* \ */ && i + 1 < input.length) {
        size++;
        i++;
      } else if (c === 0x22 /* " */) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
      size++;
    } else if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      size++;
    }
  }
  return size;
}

/** For the authorizer response contract: null when within `maxSize`, else a POLICY_TOO_LARGE error. */
export function checkPolicyDocumentSize(input: unknown, maxSize: number = POLICY_DOCUMENT_MAX_SIZE): PolicyError | null {
  const size = policyDocumentSize(input);
  return size > maxSize ? policyError('POLICY_TOO_LARGE', '', `${size} characters, limit ${maxSize}`) : null;
}

export function parsePolicyDocument(input: unknown, options: ParseOptions = {}): PolicyResult<PolicyDocument> {
  if (options.maxSize !== undefined) {
    const tooLarge = checkPolicyDocumentSize(input, options.maxSize);
    if (tooLarge !== null) return { ok: false, error: tooLarge };
  }
  let raw = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input) as unknown;
    } catch (e) {
      return fail(policyError('POLICY_INVALID_JSON', '', (e as Error).message));
    }
  }
  if (!isObject(raw)) return fail(policyError('POLICY_NOT_AN_OBJECT', '', `got ${describe(raw)}`));
  try {
    return { ok: true, value: readDocument(raw) };
  } catch (e) {
    if (e instanceof Invalid) return fail(e.error);
    throw e;
  }
}

/** Parses every document of a principal; the first bad one fails the whole set (as an authorizer response does). */
export function parsePolicyDocuments(
  inputs: readonly unknown[],
  options: ParseOptions = {},
): PolicyResult<PolicyDocument[]> {
  const documents: PolicyDocument[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const result = parsePolicyDocument(inputs[i], options);
    if (!result.ok) return fail(inDocument(result.error, i));
    documents.push(result.value);
  }
  return { ok: true, value: documents };
}

function fail(error: PolicyError): { ok: false; error: PolicyError } {
  return { ok: false, error };
}

/** Internal control flow only: converted to an error value at the public boundary. */
class Invalid {
  constructor(readonly error: PolicyError) {}
}

function invalid(...args: Parameters<typeof policyError>): never {
  throw new Invalid(policyError(...args));
}

function readDocument(raw: Json): PolicyDocument {
  for (const name of Object.keys(raw)) {
    if (!DOCUMENT_ELEMENTS.has(name)) {
      invalid('POLICY_UNKNOWN_ELEMENT', name, `expected Version, Id or Statement`);
    }
  }
  let version: PolicyVersion = '2008-10-17';
  if (raw['Version'] !== undefined) {
    const v = raw['Version'];
    if (typeof v !== 'string' || !VERSIONS.has(v)) {
      invalid('POLICY_INVALID_VERSION', 'Version', `expected "2012-10-17", got ${describe(v)}`);
    }
    version = v as PolicyVersion;
  }
  const id = raw['Id'];
  if (id !== undefined && typeof id !== 'string') invalid('POLICY_UNKNOWN_ELEMENT', 'Id', 'Id must be a string');

  const statement = raw['Statement'];
  if (statement === undefined) invalid('POLICY_MISSING_STATEMENT', 'Statement');
  let statements: PolicyStatement[];
  if (Array.isArray(statement)) {
    statements = statement.map((s: unknown, i) => readStatement(s, `Statement[${i}]`));
  } else if (isObject(statement)) {
    statements = [readStatement(statement, 'Statement')];
  } else {
    invalid('POLICY_INVALID_STATEMENT', 'Statement', `got ${describe(statement)}`);
  }
  return { version, id: id as string | undefined, statements };
}

function readStatement(raw: unknown, path: string): PolicyStatement {
  if (!isObject(raw)) invalid('POLICY_INVALID_STATEMENT', path, `got ${describe(raw)}`);
  for (const name of Object.keys(raw)) {
    if (FORBIDDEN_STATEMENT_ELEMENTS.has(name)) {
      invalid('POLICY_UNSUPPORTED_ELEMENT', `${path}.${name}`, 'IoT policies are attached to the principal and name no Principal');
    }
    if (!STATEMENT_ELEMENTS.has(name)) {
      invalid('POLICY_UNKNOWN_ELEMENT', `${path}.${name}`, 'expected Sid, Effect, Action, NotAction, Resource, NotResource or Condition');
    }
  }
  const sid = raw['Sid'];
  if (sid !== undefined && typeof sid !== 'string') invalid('POLICY_INVALID_SID', `${path}.Sid`, `got ${describe(sid)}`);

  const effect = raw['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') {
    invalid('POLICY_INVALID_EFFECT', `${path}.Effect`, `got ${describe(effect)}`);
  }

  const action = pickOneOf(raw, path, 'Action', 'NotAction', 'POLICY_MISSING_ACTION');
  const actions = readStrings(raw[action], `${path}.${action}`, 'POLICY_INVALID_ACTION');
  actions.forEach((a, i) => {
    if (!ACTION.test(a)) {
      invalid('POLICY_INVALID_ACTION', `${path}.${action}[${i}]`, `${describe(a)} is not "*" or "service:Name" (e.g. "iot:Publish")`);
    }
  });

  const resource = pickOneOf(raw, path, 'Resource', 'NotResource', 'POLICY_MISSING_RESOURCE');
  const resources = readStrings(raw[resource], `${path}.${resource}`, 'POLICY_INVALID_RESOURCE');
  resources.forEach((r, i) => {
    if (r !== '*' && !(r.startsWith('arn:') && r.length > 4)) {
      invalid(
        'POLICY_INVALID_RESOURCE',
        `${path}.${resource}[${i}]`,
        `${describe(r)} is not "*" or an ARN such as "arn:aws:iot:us-east-1:123456789012:topic/a/b"`,
      );
    }
  });

  const conditions = raw['Condition'] === undefined ? [] : readConditions(raw['Condition'], `${path}.Condition`);
  return {
    sid: sid as string | undefined,
    effect,
    actions,
    notAction: action === 'NotAction',
    resources,
    notResource: resource === 'NotResource',
    conditions,
  };
}

function pickOneOf(
  raw: Json,
  path: string,
  element: string,
  notElement: string,
  missing: 'POLICY_MISSING_ACTION' | 'POLICY_MISSING_RESOURCE',
): string {
  const has = raw[element] !== undefined;
  const hasNot = raw[notElement] !== undefined;
  if (has && hasNot) invalid('POLICY_CONFLICTING_ELEMENTS', path, `${element} and ${notElement} cannot both be given`);
  if (!has && !hasNot) invalid(missing, path);
  return has ? element : notElement;
}

function readStrings(
  value: unknown,
  path: string,
  code: 'POLICY_INVALID_ACTION' | 'POLICY_INVALID_RESOURCE',
): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) invalid(code, path, `expected a string or an array of strings, got ${describe(value)}`);
  if (value.length === 0) invalid(code, path, 'the list is empty');
  return value.map((v: unknown, i) => {
    if (typeof v !== 'string') invalid(code, `${path}[${i}]`, `expected a string, got ${describe(v)}`);
    return v;
  });
}

function readConditions(raw: unknown, path: string): PolicyCondition[] {
  if (!isObject(raw)) invalid('POLICY_INVALID_CONDITION', path, `expected an object, got ${describe(raw)}`);
  const conditions: PolicyCondition[] = [];
  for (const [name, block] of Object.entries(raw)) {
    const opPath = `${path}.${name}`;
    const parsed = parseConditionOperator(name);
    if (!parsed.ok) {
      invalid(parsed.unsupported ? 'POLICY_UNSUPPORTED_CONDITION_OPERATOR' : 'POLICY_UNKNOWN_CONDITION_OPERATOR', opPath, parsed.detail);
    }
    if (!isObject(block)) {
      invalid('POLICY_INVALID_CONDITION', opPath, `expected an object of condition keys, got ${describe(block)}`);
    }
    for (const [key, rawValues] of Object.entries(block)) {
      const keyPath = `${opPath}.${key}`;
      const list: unknown[] = Array.isArray(rawValues) ? rawValues : [rawValues];
      const values = list.map((v, i) => {
        const valuePath = Array.isArray(rawValues) ? `${keyPath}[${i}]` : keyPath;
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          invalid('POLICY_INVALID_CONDITION_VALUE', valuePath, `expected a string, number or boolean, got ${describe(v)}`);
        }
        const text = String(v);
        const problem = checkConditionValue(parsed.operator, text);
        if (problem !== null) invalid('POLICY_INVALID_CONDITION_VALUE', valuePath, `${problem} (for ${parsed.operator.base})`);
        return text;
      });
      conditions.push({ operator: parsed.operator, key, values });
    }
  }
  return conditions;
}
