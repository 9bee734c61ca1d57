// Temporary access keys: what `switchboard keys create --expires-in SECONDS` issues, in the shape
// of AWS STS credentials (an ASIA... key id, a secret, a session token and an expiration), for
// callers such as browsers that should not hold a long-lived secret.
//
// A signature made with one must carry its session token — the X-Amz-Security-Token query
// parameter of a presigned URL, or the x-amz-security-token header of a signed request — as AWS
// requires for STS credentials. Only the token's SHA-256 is stored: it is compared, never used as
// a key, so (unlike the secret) it need not be recoverable.
//
// Invariants: a key past its expiration is refused whether or not it was swept yet; the sweep
// (sweepExpiredAccessKeys, run on a timer by the server and before each creation) removes it;
// at most MAX_TEMPORARY_ACCESS_KEYS unexpired ones exist, so the store stays bounded.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type Timer } from '../shared/clock.js';
import { ID_ALPHABET, randomString, SECRET_ALPHABET, sealSecret, type AccessKeyRecord, type AccessKeyStore } from './access-key-store.js';

export const TEMPORARY_ACCESS_KEY_ID_PATTERN = /^ASIA[A-Z0-9]{16}$/;
/** AWS STS GetSessionToken's longest lifetime (36 hours). */
export const MAX_TEMPORARY_KEY_SECONDS = 129_600;
/** Unexpired temporary keys at once; creating one more is refused until some expire or are deleted. */
export const MAX_TEMPORARY_ACCESS_KEYS = 10_000;

/** Why a key's session token does not admit the caller; the messages are AWS's. */
export interface CredentialRefusal {
  refused: 'invalid-token' | 'expired-token';
  message: string;
}

const INVALID: CredentialRefusal = { refused: 'invalid-token', message: 'The security token included in the request is invalid.' };
const EXPIRED: CredentialRefusal = { refused: 'expired-token', message: 'The security token included in the request is expired' };

export interface IssuedTemporaryKey {
  record: AccessKeyRecord;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601, as STS writes Expiration. */
  expiration: string;
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** ISO 8601 without milliseconds, like STS. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function isTemporary(record: AccessKeyRecord): boolean {
  return record.expiration !== undefined;
}

/** A new Active temporary key; the secret and the token are returned once, only their sealed/hashed forms kept. */
export function createTemporaryAccessKey(
  policyDocuments: unknown[],
  sealingKey: Buffer,
  options: { expiresInSeconds: number; now?: number; description?: string },
): IssuedTemporaryKey {
  const now = options.now ?? Date.now();
  const accessKeyId = `ASIA${randomString(ID_ALPHABET, 16)}`;
  const secretAccessKey = randomString(SECRET_ALPHABET, 40);
  // Opaque to the caller like an STS token; 96 random bytes, base64 as STS writes its tokens.
  const sessionToken = randomBytes(96).toString('base64');
  const expiration = isoSeconds(now + options.expiresInSeconds * 1000);
  const record: AccessKeyRecord = {
    accessKeyId,
    secretSealed: sealSecret(accessKeyId, secretAccessKey, sealingKey),
    policyDocuments,
    status: 'Active',
    createdAt: new Date(now).toISOString(),
    expiration,
    sessionTokenHash: tokenHash(sessionToken),
  };
  if (options.description !== undefined) record.description = options.description;
  return { record, secretAccessKey, sessionToken, expiration };
}

/**
 * null when the token fits the key: a temporary key needs its own token and an unexpired
 * expiration; a permanent key needs none (AWS refuses a session token sent with long-term
 * credentials). An empty token counts as none.
 */
export function sessionTokenRefusal(record: AccessKeyRecord, sessionToken: string | undefined, now: number): CredentialRefusal | null {
  const token = sessionToken === '' ? undefined : sessionToken;
  if (record.expiration === undefined) return token === undefined ? null : INVALID;
  if (token === undefined || record.sessionTokenHash === undefined) return INVALID;
  const expected = Buffer.from(record.sessionTokenHash, 'hex');
  const given = Buffer.from(tokenHash(token), 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return INVALID;
  // After the token check, so "expired" never tells a guesser that a token was right but old.
  if (!(Date.parse(record.expiration) > now)) return EXPIRED;
  return null;
}

/** Deletes temporary keys whose expiration has passed; returns how many are left unexpired. */
export function sweepExpiredAccessKeys(store: AccessKeyStore, now: number): number {
  let live = 0;
  for (const record of store.list()) {
    if (record.expiration === undefined) continue;
    if (Date.parse(record.expiration) > now) live++;
    else store.delete(record.accessKeyId);
  }
  return live;
}

/** Sweeps every `everyMs` (every member of a cluster does; deleting twice is harmless). Cancel on stop. */
export function sweepExpiredAccessKeysEvery(store: AccessKeyStore, everyMs = 60_000, clock: Clock = systemClock): Timer {
  return clock.setInterval(() => sweepExpiredAccessKeys(store, clock.now()), everyMs);
}
