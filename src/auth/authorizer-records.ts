// Turning an authorizer definition (config file, admin API) into a stored record: paths resolved,
// public keys read, timestamps set. Validation is the config schema's.
//
// Paths are the config file's alone (the operator wrote them): there a handler may be a path
// (resolved against the config's directory) or a function name, and a public key may be a PEM
// file's path. Over the admin API a handler is a function name in functions.dir and a key is PEM
// text; checkApiValues() refuses anything else, and toRecord(..., 'api') never reads a file.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { authorizerSchema, type AuthConfig, type AuthorizerConfig } from '../config/schema.js';
import type { AuthorizerRecord, AuthorizerStore } from '../store/authorizer-store.js';
import { FunctionNameError, isFunctionName, type FunctionDirectory } from '../functions/function-directory.js';
import { checkSigningKeys } from './signature.js';

/** PEM text of a public key (SPKI or PKCS#1); a private key or anything else is not one. */
const PEM_PUBLIC_KEY = /^\s*-----BEGIN (RSA )?PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1PUBLIC KEY-----\s*$/;

export class AuthorizerDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestException';
  }
}

/** Config: reads PEM files named by path; PEM text is kept as it is. API: text only. */
function resolveKeys(keys: Record<string, string> | undefined, baseDir: string, source: 'config' | 'api'): Record<string, string> | undefined {
  if (keys === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(keys)) {
    if (value.includes('-----BEGIN')) out[name] = value;
    else if (source === 'api') throw new AuthorizerDefinitionError(`tokenSigningPublicKeys.${name}: must be the PEM text of a public key (a file path is accepted only in the config file)`);
    else {
      try {
        out[name] = readFileSync(isAbsolute(value) ? value : resolve(baseDir, value), 'utf8');
      } catch (err) {
        throw new AuthorizerDefinitionError(`tokenSigningPublicKeys.${name}: cannot read ${value}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/**
 * Checks the values an admin API request supplies (POST body, or a PATCH's changes): a handler
 * must name a function that exists in functions.dir, each public key must be PEM text of an RSA
 * public key. Throws AuthorizerDefinitionError naming the field.
 */
export function checkApiValues(body: unknown, functions: FunctionDirectory): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const { handler, tokenSigningPublicKeys: keys } = body as Record<string, unknown>;
  if (handler !== undefined) {
    try {
      functions.resolve(handler as string);
    } catch (err) {
      if (err instanceof FunctionNameError) throw new AuthorizerDefinitionError(`handler: ${err.message}`);
      throw err;
    }
  }
  if (keys !== undefined && typeof keys === 'object' && keys !== null && !Array.isArray(keys)) {
    for (const [name, value] of Object.entries(keys as Record<string, unknown>)) {
      if (typeof value !== 'string' || !PEM_PUBLIC_KEY.test(value)) {
        throw new AuthorizerDefinitionError(`tokenSigningPublicKeys.${name}: must be the PEM text of a public key (-----BEGIN PUBLIC KEY-----); file paths are accepted only in the config file`);
      }
    }
    const problem = checkSigningKeys(keys as Record<string, string>);
    if (problem !== null) throw new AuthorizerDefinitionError(problem);
  }
}

/** Handlers from the config: a function name stays a name (looked up when invoked), a path is made absolute. */
function configHandler(handler: string, baseDir: string): string {
  if (isFunctionName(handler)) return handler;
  return isAbsolute(handler) ? handler : resolve(baseDir, handler);
}

/**
 * The record to store. 'config': paths resolved against `baseDir`, key files read. 'api': values
 * kept as given (checked by checkApiValues; a handler stays a name, so a restart looks it up
 * again) and no file is ever read.
 */
export function toRecord(definition: AuthorizerConfig, baseDir: string, previous?: AuthorizerRecord, source: 'config' | 'api' = 'config'): AuthorizerRecord {
  const now = new Date().toISOString();
  const keys = resolveKeys(definition.tokenSigningPublicKeys, baseDir, source);
  return {
    ...definition,
    ...(definition.handler && source === 'config' ? { handler: configHandler(definition.handler, baseDir) } : {}),
    ...(keys ? { tokenSigningPublicKeys: keys } : {}),
    creationDate: previous?.creationDate ?? now,
    lastModifiedDate: now,
  };
}

/** Parses an untrusted definition (admin API); throws AuthorizerDefinitionError naming the field. */
export function parseDefinition(input: unknown): AuthorizerConfig {
  const result = authorizerSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new AuthorizerDefinitionError(`${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}

/** Loads the config file's authorizers into the store at start; the file wins over stored copies. */
export function seedAuthorizers(store: AuthorizerStore, auth: AuthConfig, baseDir: string): void {
  for (const definition of auth.authorizers) store.put(toRecord(definition, baseDir, store.get(definition.name)));
  if (auth.defaultAuthorizer !== undefined) store.setDefault(auth.defaultAuthorizer);
}

/** The AWS DescribeAuthorizer shape (public keys included, as AWS returns them). */
export function describe(record: AuthorizerRecord, arnPrefix: string, isDefault: boolean) {
  return {
    authorizerName: record.name,
    authorizerArn: `${arnPrefix}authorizer/${record.name}`,
    type: record.type,
    ...(record.handler ? { handler: record.handler } : {}),
    ...(record.url ? { url: record.url } : {}),
    ...(record.tokenKeyName ? { tokenKeyName: record.tokenKeyName } : {}),
    ...(record.tokenSigningPublicKeys ? { tokenSigningPublicKeys: publicKeysOnly(record.tokenSigningPublicKeys) } : {}),
    status: record.status,
    signingDisabled: record.signingDisabled,
    timeoutMs: record.timeoutMs,
    isDefault,
    creationDate: record.creationDate,
    lastModifiedDate: record.lastModifiedDate,
  };
}

/**
 * Public keys as DescribeAuthorizer shows them: a stored value that is not a PEM public key (a
 * record an older version filled by reading a path sent over the API) is withheld, not echoed.
 */
function publicKeysOnly(keys: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(keys)) out[name] = /-----BEGIN (RSA )?PUBLIC KEY-----/.test(value) && !value.includes('PRIVATE') ? value : '(withheld: not a PEM public key)';
  return out;
}
