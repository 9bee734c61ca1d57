// Turning an authorizer definition (config file, admin API) into a stored record: paths resolved,
// public keys read, timestamps set. Validation is the config schema's.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { authorizerSchema, type AuthConfig, type AuthorizerConfig } from '../config/schema.js';
import type { AuthorizerRecord, AuthorizerStore } from '../store/authorizer-store.js';

export class AuthorizerDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestException';
  }
}

/** Reads PEM files named by path; PEM text is kept as it is. */
function resolveKeys(keys: Record<string, string> | undefined, baseDir: string): Record<string, string> | undefined {
  if (keys === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(keys)) {
    if (value.includes('-----BEGIN')) out[name] = value;
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

export function toRecord(definition: AuthorizerConfig, baseDir: string, previous?: AuthorizerRecord): AuthorizerRecord {
  const now = new Date().toISOString();
  const keys = resolveKeys(definition.tokenSigningPublicKeys, baseDir);
  return {
    ...definition,
    ...(definition.handler ? { handler: isAbsolute(definition.handler) ? definition.handler : resolve(baseDir, definition.handler) } : {}),
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
    ...(record.tokenSigningPublicKeys ? { tokenSigningPublicKeys: record.tokenSigningPublicKeys } : {}),
    status: record.status,
    signingDisabled: record.signingDisabled,
    timeoutMs: record.timeoutMs,
    isDefault,
    creationDate: record.creationDate,
    lastModifiedDate: record.lastModifiedDate,
  };
}
