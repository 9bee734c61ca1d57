/**
 * Policy errors are values, never exceptions: a bad document from an authorizer must
 * fail that one connection with a message naming the element, not crash the server.
 *
 * Codes are stable (logs, the admin API and the `policy check` CLI key on them);
 * the summary is the fixed part of the message, the detail says what was found.
 */
export const POLICY_ERROR_SUMMARIES = {
  POLICY_INVALID_JSON: 'policy document is not valid JSON',
  POLICY_NOT_AN_OBJECT: 'policy document must be a JSON object',
  POLICY_TOO_LARGE: 'policy document is too large',
  POLICY_INVALID_VERSION: 'unsupported policy language Version',
  POLICY_MISSING_STATEMENT: 'policy document has no Statement',
  POLICY_INVALID_STATEMENT: 'Statement must be an object or an array of objects',
  POLICY_UNKNOWN_ELEMENT: 'unknown policy element',
  POLICY_UNSUPPORTED_ELEMENT: 'element not allowed in an AWS IoT policy',
  POLICY_INVALID_SID: 'Sid must be a string',
  POLICY_INVALID_EFFECT: 'Effect must be "Allow" or "Deny"',
  POLICY_MISSING_ACTION: 'statement needs Action or NotAction',
  POLICY_MISSING_RESOURCE: 'statement needs Resource or NotResource',
  POLICY_CONFLICTING_ELEMENTS: 'statement has both an element and its Not form',
  POLICY_INVALID_ACTION: 'invalid action',
  POLICY_INVALID_RESOURCE: 'invalid resource',
  POLICY_INVALID_CONDITION: 'invalid Condition block',
  POLICY_UNKNOWN_CONDITION_OPERATOR: 'unknown condition operator',
  POLICY_UNSUPPORTED_CONDITION_OPERATOR: 'condition operator not supported by Switchboard',
  POLICY_INVALID_CONDITION_VALUE: 'invalid condition value',
} as const;

export type PolicyErrorCode = keyof typeof POLICY_ERROR_SUMMARIES;

export interface PolicyError {
  readonly code: PolicyErrorCode;
  /** Where in the document, e.g. `Statement[1].Condition.IpAddress.aws:SourceIp[0]`; '' for the whole document. */
  readonly path: string;
  /** Set by `parsePolicyDocuments` to the index of the offending document. */
  readonly documentIndex?: number;
  /** Human-readable: path, summary and detail. */
  readonly message: string;
}

export type PolicyResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: PolicyError };

export function policyError(code: PolicyErrorCode, path: string, detail?: string): PolicyError {
  const summary = POLICY_ERROR_SUMMARIES[code];
  const text = detail === undefined ? summary : `${summary}: ${detail}`;
  return { code, path, message: path === '' ? text : `${path}: ${text}` };
}

/** Same error, attributed to document `index` of a list (e.g. an authorizer's `policyDocuments`). */
export function inDocument(error: PolicyError, index: number): PolicyError {
  return { ...error, documentIndex: index, message: `policy document ${index}: ${error.message}` };
}
