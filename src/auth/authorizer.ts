/**
 * Custom authorizers (AWS IoT Core custom authentication): the definition an operator
 * configures, the event an authorizer receives, the response it must give, and the error
 * every invocation failure becomes.
 *
 * Flow for one CONNECT (the broker wires it; each step is its own module):
 *   request.ts     credentials -> which authorizer, token, signature -> AuthorizerEvent
 *   signature.ts   verify the token signature before anything is invoked (AWS: no Lambda call on failure)
 *   functions/function-pool.ts / http-authorizer.ts   invoke -> raw result (unknown)
 *   response.ts    raw result -> AuthorizerResponse, validated as AWS validates it
 *   result-cache.ts  valid responses, reused for identical events until refreshAfterInSeconds
 *   test-invoke.ts TestInvokeAuthorizer, and `invokeAuthorizer` (function or http) for both paths
 */
import { isFunctionName } from '../functions/function-directory.js';
import { isAbsolute, resolve } from 'node:path';

import type { PolicyDocument } from '../policy/index.js';

/** AWS Lambda's hard limit for an authorizer (custom-auth docs), and our default. */
export const DEFAULT_AUTHORIZER_TIMEOUT_MS = 5000;

/** Header / query parameter / username-query key naming the authorizer. */
export const AUTHORIZER_NAME_KEY = 'x-amz-customauthorizer-name';
/** Header / query parameter / username-query key carrying the token signature. */
export const AUTHORIZER_SIGNATURE_KEY = 'x-amz-customauthorizer-signature';

/** CreateAuthorizer `authorizerName`: 1-128 characters of `[\w=,@-]`. */
export const AUTHORIZER_NAME_PATTERN = /^[\w=,@-]{1,128}$/;

export interface AuthorizerDefinition {
  /** 1-128 characters, `[\w=,@-]+`. */
  name: string;
  type: 'function' | 'http';
  /**
   * function: path to a JS module exporting `handler` (CommonJS `exports.handler` or ESM
   * `export const handler`); relative paths are resolved against the config's directory
   * with `resolveHandlerPath`.
   */
  handler?: string;
  /** http: endpoint that receives a POST of the event JSON and answers with the response JSON. */
  url?: string;
  status: 'ACTIVE' | 'INACTIVE';
  /** Header / query parameter / username-query key carrying the token. Required when signing is on. */
  tokenKeyName?: string;
  /** AWS default is false (signing on), and it cannot be changed after creation. */
  signingDisabled: boolean;
  /** keyName -> PEM public key (RSA, at least 2048 bits). Required when signing is on. */
  tokenSigningPublicKeys?: Record<string, string>;
  /** Default DEFAULT_AUTHORIZER_TIMEOUT_MS. */
  timeoutMs: number;
}

/** What the authorizer receives (custom-auth-lambda docs). Only fields that apply are present. */
export interface AuthorizerEvent {
  token?: string;
  signatureVerified: boolean;
  /** Subset of 'tls', 'http', 'mqtt', in that order. */
  protocols: string[];
  protocolData?: {
    tls?: { serverName: string };
    /** `queryString` keeps its leading '?'. */
    http?: { headers: Record<string, string>; queryString: string };
    /** `password` is base64 of the raw CONNECT password bytes. */
    mqtt?: { username?: string; password?: string; clientId?: string };
  };
  connectionMetadata: { id: string };
}

/** A response that passed `validateAuthorizerResponse`. */
export interface AuthorizerResponse {
  isAuthenticated: boolean;
  /** 1-128 alphanumeric characters. */
  principalId: string;
  policyDocuments: PolicyDocument[];
  /** The same documents as JSON strings, as TestInvokeAuthorizer returns them. */
  rawPolicyDocuments: string[];
  disconnectAfterInSeconds: number;
  refreshAfterInSeconds: number;
}

// The pool's failure vocabulary lives with the pool; authorizer code names it from here too.
export { AuthorizerInvokeError, INVOKE_ERROR_SUMMARIES, type InvokeErrorCode } from '../functions/invoke-error.js';

/**
 * What to hand the function pool for a handler: a function name as it is (the pool looks it up in
 * functions.dir), a path made absolute against `baseDir`.
 */
export function resolveHandlerPath(handler: string, baseDir: string): string {
  if (isFunctionName(handler)) return handler;
  return isAbsolute(handler) ? handler : resolve(baseDir, handler);
}

/**
 * Start-up check of a definition: null when usable, else a message naming the field.
 * The signing keys themselves are checked by `checkSigningKeys` (signature.ts).
 */
export function checkAuthorizerDefinition(def: AuthorizerDefinition): string | null {
  if (!AUTHORIZER_NAME_PATTERN.test(def.name)) {
    return `authorizer name must be 1-128 characters of letters, digits, _ = , @ -, got ${JSON.stringify(def.name)}`;
  }
  const where = `authorizer ${def.name}`;
  if (def.type === 'function' && (def.handler === undefined || def.handler === '')) {
    return `${where}: a function authorizer needs handler (a function name in functions.dir, or a path to a JS module)`;
  }
  if (def.type === 'http') {
    if (def.url === undefined) return `${where}: an http authorizer needs url`;
    let url: URL;
    try {
      url = new URL(def.url);
    } catch {
      return `${where}: url is not a valid URL: ${JSON.stringify(def.url)}`;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${where}: url must be http: or https:`;
  }
  if (!Number.isInteger(def.timeoutMs) || def.timeoutMs < 1) {
    return `${where}: timeoutMs must be a positive integer, got ${def.timeoutMs}`;
  }
  if (!def.signingDisabled) {
    // AWS: tokenKeyName and tokenSigningPublicKeys are required when signing is enabled.
    if (def.tokenKeyName === undefined || def.tokenKeyName === '') {
      return `${where}: tokenKeyName is required when signing is enabled (signingDisabled: false)`;
    }
    if (def.tokenSigningPublicKeys === undefined || Object.keys(def.tokenSigningPublicKeys).length === 0) {
      return `${where}: tokenSigningPublicKeys is required when signing is enabled (signingDisabled: false)`;
    }
  }
  return null;
}
