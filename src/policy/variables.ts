/**
 * Policy variables (`${iot:ClientId}`) and the request-context keys they read.
 *
 * Rules, from the IAM and AWS IoT policy-variable pages (reference_policies_variables.md,
 * iot-policy-variables.md, basic-policy-variables.md):
 * - Variables are substituted only in documents with `Version: "2012-10-17"`; in older or
 *   version-less documents `${...}` is literal text (IAM).
 * - Key names are case-insensitive: `${iot:clientid}` is `${iot:ClientId}` (IAM).
 * - `${*}`, `${?}`, `${$}` stand for a literal `*`, `?`, `$` (IAM; the IoT page renders
 *   them as `$(*)` etc., which we read as the IAM form).
 * - `${key, 'fallback'}` uses the fallback when the key has no value (IAM default values).
 * - A key with no value (unknown key, `${iot:Connection.Thing.*}` and `${iot:Certificate.*}`
 *   for custom-auth principals, or a multi-valued key such as iot:ConnectAttributes, which
 *   IAM never substitutes) leaves the element unresolvable: it matches nothing.
 *
 * Examples:  `topic/${iot:ClientId}/x` with client `dev-9`        -> `topic/dev-9/x`
 *            `topic/${iot:Connection.Thing.ThingName}`            -> unresolvable
 *            `topic/${*}`                                         -> literal `topic/*`
 *            `topic/${iot:ClientId` (no closing brace)            -> literal text, as written
 */
import type { PatternPiece } from './pattern.js';

export type TemplatePart =
  /** Policy text as written; in patterns its `*` and `?` are wildcards. */
  | { readonly kind: 'text'; readonly text: string }
  /** Text that is always literal: an escape such as `${*}`. */
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly key: string; readonly fallback: string | undefined };

export interface Template {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  readonly hasVariables: boolean;
}

/** Condition-key values for one connection, keyed by lower-cased key name. */
export type ContextValues = ReadonlyMap<string, string | readonly string[]>;

/** What a connection contributes to policy evaluation. All keys are fixed for the connection's lifetime. */
export interface PolicyContext {
  /** `iot:ClientId`: the MQTT client id. */
  readonly clientId?: string;
  /** `aws:SourceIp`: the client's address (IPv4-mapped IPv6 such as `::ffff:10.0.0.1` is reported as IPv4). */
  readonly sourceIp?: string;
  /** `iot:DomainName`: the domain the client connected to (TLS SNI or Host). */
  readonly domainName?: string;
  /** `iot:ConnectAttributes`: `PersistentConnect`, `LastWill`; absent means the empty set. */
  readonly connectAttributes?: readonly string[];
  /** Further keys (case-insensitive names). The named fields above take precedence. */
  readonly conditionKeys?: Readonly<Record<string, string | readonly string[] | undefined>>;
}

const ESCAPES: Readonly<Record<string, string>> = { '*': '*', '?': '?', $: '$' };

// A key name: service prefix, colon, then letters, digits and the punctuation IAM keys use
// (`iot:Connection.Thing.Attributes[Colour]`, `aws:PrincipalTag/team`).
const VARIABLE = /^\s*([A-Za-z0-9-]+:[A-Za-z0-9_.\-/[\]]+)\s*(?:,\s*'([^']*)'\s*)?$/;

export function parseTemplate(source: string, substitute: boolean): Template {
  if (!substitute || !source.includes('${')) {
    return { source, parts: [{ kind: 'text', text: source }], hasVariables: false };
  }
  const parts: TemplatePart[] = [];
  let hasVariables = false;
  let text = '';
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('${', i);
    const close = open < 0 ? -1 : source.indexOf('}', open + 2);
    if (open < 0 || close < 0) {
      text += source.slice(i);
      break;
    }
    text += source.slice(i, open);
    const body = source.slice(open + 2, close);
    const escaped = ESCAPES[body];
    const variable = escaped === undefined ? VARIABLE.exec(body) : null;
    if (escaped !== undefined) {
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'literal', text: escaped });
    } else if (variable !== null) {
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'variable', key: (variable[1] as string).toLowerCase(), fallback: variable[2] });
      hasVariables = true;
    } else {
      // Not a variable IAM would recognise: keep it as written.
      text += source.slice(open, close + 1);
    }
    i = close + 1;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return { source, parts, hasVariables };
}

/** The value of a single-valued key, or undefined (absent, or multi-valued: IAM never substitutes sets). */
export function variableValue(values: ContextValues, key: string): string | undefined {
  const value = values.get(key);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Substitute variables. Returns null when a variable has no value and no fallback:
 * the caller treats the element as matching nothing.
 */
export function resolveTemplate(template: Template, values: ContextValues): PatternPiece[] | null {
  const pieces: PatternPiece[] = [];
  for (const part of template.parts) {
    if (part.kind === 'text') {
      pieces.push({ text: part.text, literal: false });
    } else if (part.kind === 'literal') {
      pieces.push({ text: part.text, literal: true });
    } else {
      const value = variableValue(values, part.key) ?? part.fallback;
      if (value === undefined) return null;
      pieces.push({ text: value, literal: true });
    }
  }
  return pieces;
}

/** The resolved template as a plain string (for StringEquals and friends), or null if unresolvable. */
export function resolveToString(template: Template, values: ContextValues): string | null {
  if (!template.hasVariables && template.parts.length === 1) {
    const only = template.parts[0] as TemplatePart;
    if (only.kind === 'text') return only.text;
  }
  const pieces = resolveTemplate(template, values);
  if (pieces === null) return null;
  let s = '';
  for (const piece of pieces) s += piece.text;
  return s;
}

/** Builds the lower-cased key map a compiled policy reads. */
export function contextValues(context: PolicyContext): ContextValues {
  const map = new Map<string, string | readonly string[]>();
  if (context.conditionKeys !== undefined) {
    for (const [name, value] of Object.entries(context.conditionKeys)) {
      if (value !== undefined) map.set(name.toLowerCase(), value);
    }
  }
  if (context.clientId !== undefined) map.set('iot:clientid', context.clientId);
  if (context.sourceIp !== undefined) map.set('aws:sourceip', normalizeSourceIp(context.sourceIp));
  if (context.domainName !== undefined) map.set('iot:domainname', context.domainName);
  // README of the AWS fixtures and connect-policy.md: a plain clean connect has the empty set.
  map.set('iot:connectattributes', context.connectAttributes ?? []);
  return map;
}

/**
 * Node reports IPv4 peers of a dual-stack socket as `::ffff:a.b.c.d`; AWS would see the
 * IPv4 address, and `IpAddress` conditions are written with IPv4 CIDRs.
 */
function normalizeSourceIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped === null ? ip : (mapped[1] as string);
}
