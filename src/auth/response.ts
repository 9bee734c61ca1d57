/**
 * The authorizer response contract (custom-auth docs; reference §1.5). A response that fails
 * any rule is an invalid response: the connection is refused, and TestInvokeAuthorizer answers
 * InvalidResponseException.
 *
 *   isAuthenticated           boolean
 *   principalId               1-128 characters of [a-zA-Z0-9]
 *   policyDocuments           array of at most 10; each a JSON object or a JSON string of one
 *                             [unconfirmed that AWS accepts strings]; each at most 2,048
 *                             characters (whitespace not counted) and a valid IoT policy
 *   disconnectAfterInSeconds  integer 300-86,400
 *   refreshAfterInSeconds     integer 300-86,400
 *
 * Valid:   {"isAuthenticated":true,"principalId":"dev1","policyDocuments":["{\"Version\":...}"],
 *           "disconnectAfterInSeconds":3600,"refreshAfterInSeconds":300}
 * Invalid: principalId "user-1" (hyphen); refreshAfterInSeconds 60; 300.5; "300" (a string).
 *
 * [unconfirmed] Every field is checked even when isAuthenticated is false (a bare
 * {"isAuthenticated":false} is invalid; either way the client is refused). Other fields are ignored.
 */
import { checkPolicyDocumentSize, parsePolicyDocument, POLICY_DOCUMENT_MAX_SIZE, type PolicyDocument } from '../policy/index.js';
import type { AuthorizerResponse } from './authorizer.js';

export const MAX_POLICY_DOCUMENTS = 10;
export const MIN_TTL_SECONDS = 300;
export const MAX_TTL_SECONDS = 86_400;
const PRINCIPAL_ID = /^[a-zA-Z0-9]{1,128}$/;

export interface ResponseValidationOptions {
  /**
   * Lower bound for disconnectAfterInSeconds and refreshAfterInSeconds instead of 300.
   * For tests only (so a test can watch a refresh after 1 s); never lower it in production.
   */
  minSeconds?: number;
}

export type ResponseValidation = { ok: true; value: AuthorizerResponse } | { ok: false; error: string };

export function validateAuthorizerResponse(value: unknown, options: ResponseValidationOptions = {}): ResponseValidation {
  const minSeconds = options.minSeconds ?? MIN_TTL_SECONDS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`authorizer response must be a JSON object, got ${describe(value)}`);
  }
  const r = value as Record<string, unknown>;

  const isAuthenticated = r['isAuthenticated'];
  if (typeof isAuthenticated !== 'boolean') return fail(`isAuthenticated must be a boolean, got ${describe(isAuthenticated)}`);

  const principalId = r['principalId'];
  if (typeof principalId !== 'string' || !PRINCIPAL_ID.test(principalId)) {
    return fail(`principalId must be 1-128 alphanumeric characters, got ${describe(principalId)}`);
  }

  const documents = r['policyDocuments'];
  if (!Array.isArray(documents)) return fail(`policyDocuments must be an array, got ${describe(documents)}`);
  if (documents.length > MAX_POLICY_DOCUMENTS) {
    return fail(`policyDocuments may hold at most ${MAX_POLICY_DOCUMENTS} documents, got ${documents.length}`);
  }
  // Many connections get the same documents (one policy per role, say): their parse is reused,
  // and compilePolicies then shares one compiled policy among them when nothing in the documents
  // depends on the connection (policy/evaluate.ts). Only the parse is cached, never a decision:
  // the authorizer still runs for every connection.
  const key = documentsKey(documents);
  const known = key === null ? undefined : parsedDocuments.get(key);
  let policyDocuments: PolicyDocument[] = [];
  let rawPolicyDocuments: string[] = [];
  if (known !== undefined) ({ policyDocuments, rawPolicyDocuments } = known);
  for (let i = 0; known === undefined && i < documents.length; i++) {
    const doc: unknown = documents[i];
    const where = `policyDocuments[${i}]`;
    if (typeof doc !== 'string' && (typeof doc !== 'object' || doc === null || Array.isArray(doc))) {
      return fail(`${where} must be a policy document object or a JSON string, got ${describe(doc)}`);
    }
    const tooLarge = checkPolicyDocumentSize(doc, POLICY_DOCUMENT_MAX_SIZE);
    if (tooLarge !== null) return fail(`${where}: ${tooLarge.message}`);
    const parsed = parsePolicyDocument(doc);
    if (!parsed.ok) return fail(`${where}: ${parsed.error.message}`);
    policyDocuments.push(parsed.value);
    rawPolicyDocuments.push(typeof doc === 'string' ? doc : JSON.stringify(doc));
  }
  if (known === undefined && key !== null) rememberDocuments(key, { policyDocuments, rawPolicyDocuments });

  const disconnectAfterInSeconds = r['disconnectAfterInSeconds'];
  const disconnectError = checkSeconds('disconnectAfterInSeconds', disconnectAfterInSeconds, minSeconds);
  if (disconnectError !== null) return fail(disconnectError);
  const refreshAfterInSeconds = r['refreshAfterInSeconds'];
  const refreshError = checkSeconds('refreshAfterInSeconds', refreshAfterInSeconds, minSeconds);
  if (refreshError !== null) return fail(refreshError);

  return {
    ok: true,
    value: {
      isAuthenticated,
      principalId,
      policyDocuments,
      rawPolicyDocuments,
      disconnectAfterInSeconds: disconnectAfterInSeconds as number,
      refreshAfterInSeconds: refreshAfterInSeconds as number,
    },
  };
}

/** Parsed documents by their text; bounded in entries and (through documentsKey) in key size. */
const PARSED_DOCUMENTS_MAX = 256;
const parsedDocuments = new Map<string, { policyDocuments: PolicyDocument[]; rawPolicyDocuments: string[] }>();

/**
 * The cache key of documents: their JSON text (strings and objects alike, so no two different
 * lists share a key); null when larger than the documents could validly be.
 */
function documentsKey(documents: readonly unknown[]): string | null {
  let key: string | undefined;
  try {
    key = JSON.stringify(documents);
  } catch {
    return null; // not JSON-shaped (cannot come from a worker's JSON); validated uncached
  }
  if (key === undefined || key.length > 2 * POLICY_DOCUMENT_MAX_SIZE * MAX_POLICY_DOCUMENTS) return null;
  return key;
}

function rememberDocuments(key: string, parsed: { policyDocuments: PolicyDocument[]; rawPolicyDocuments: string[] }): void {
  if (parsedDocuments.size >= PARSED_DOCUMENTS_MAX) {
    const oldest = parsedDocuments.keys().next();
    if (!oldest.done) parsedDocuments.delete(oldest.value);
  }
  parsedDocuments.set(key, parsed);
}

function checkSeconds(field: string, value: unknown, min: number): string | null {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= MAX_TTL_SECONDS) return null;
  return `${field} must be an integer from ${min} to ${MAX_TTL_SECONDS}, got ${describe(value)}`;
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
