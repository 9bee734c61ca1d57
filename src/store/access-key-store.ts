// Access keys for AWS SigV4 callers of the HTTP API (and SigV4 WebSocket URLs): an AWS-style key
// id, a secret shown once at creation, and the IAM-style policy documents the key is allowed.
//
// Why the secret is encrypted, not hashed: SigV4 is an HMAC keyed by (a derivation of) the secret,
// so the server must hold the plain secret to recompute the signature — a one-way hash would make
// verification impossible. It is therefore sealed at rest with AES-256-GCM under a 32-byte sealing
// key that lives outside the store (the server loads or generates it in a file next to the store,
// mode 0600), so a copied database alone does not reveal any secret. The key id is the GCM
// additional data: a sealed secret moved onto another record fails to open.
//
// Sealed form: "v1." + base64url(12-byte IV | 16-byte tag | ciphertext).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sessionTokenRefusal, type CredentialRefusal } from './temporary-access-key.js';

export interface AccessKeyRecord {
  /** 'AKIA' + 16 upper-case letters/digits, like AWS. */
  accessKeyId: string;
  /** The secret access key, encrypted at rest (see the file note). */
  secretSealed: string;
  description?: string;
  policyDocuments: unknown[];
  status: 'Active' | 'Inactive';
  createdAt: string;
  /**
   * The key may call the admin plane (the AWS IoT control plane and /api/, signed for service
   * `iot`). Set only through the admin API (`switchboard keys create --admin`); absent: false.
   */
  admin?: boolean;
  /** Temporary keys (ASIA...) only: when the key stops working, ISO 8601 (temporary-access-key.ts). */
  expiration?: string;
  /** Temporary keys only: hex SHA-256 of the session token a signature must carry. */
  sessionTokenHash?: string;
}

export interface AccessKeyStore {
  list(): AccessKeyRecord[];
  get(id: string): AccessKeyRecord | undefined;
  put(r: AccessKeyRecord): void;
  delete(id: string): boolean;
}

export class MemoryAccessKeyStore implements AccessKeyStore {
  private readonly records = new Map<string, AccessKeyRecord>();

  list(): AccessKeyRecord[] {
    return [...this.records.values()].sort((a, b) => (a.accessKeyId < b.accessKeyId ? -1 : a.accessKeyId > b.accessKeyId ? 1 : 0));
  }
  get(id: string): AccessKeyRecord | undefined {
    return this.records.get(id);
  }
  put(r: AccessKeyRecord): void {
    this.records.set(r.accessKeyId, r);
  }
  delete(id: string): boolean {
    return this.records.delete(id);
  }
}

export const ACCESS_KEY_ID_PATTERN = /^AKIA[A-Z0-9]{16}$/;
export const SEALING_KEY_BYTES = 32;

export const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SEAL_VERSION = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Uniform characters: rejection sampling, so 36 letters are not skewed by 256 % 36. */
export function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

function checkSealingKey(sealingKey: Buffer): void {
  if (sealingKey.length !== SEALING_KEY_BYTES) {
    throw new RangeError(`the access-key sealing key must be ${SEALING_KEY_BYTES} bytes, got ${sealingKey.length}`);
  }
}

export function sealSecret(accessKeyId: string, secret: string, sealingKey: Buffer): string {
  checkSealingKey(sealingKey);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey, iv);
  cipher.setAAD(Buffer.from(accessKeyId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return SEAL_VERSION + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/** The plain secret of a record. Throws if the sealing key is wrong or the record was tampered with. */
export function unsealSecret(record: AccessKeyRecord, sealingKey: Buffer): string {
  checkSealingKey(sealingKey);
  if (!record.secretSealed.startsWith(SEAL_VERSION)) throw new Error(`access key ${record.accessKeyId}: unknown sealed-secret format`);
  const raw = Buffer.from(record.secretSealed.slice(SEAL_VERSION.length), 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) throw new Error(`access key ${record.accessKeyId}: sealed secret is truncated`);
  const decipher = createDecipheriv('aes-256-gcm', sealingKey, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(record.accessKeyId, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(`access key ${record.accessKeyId}: the secret cannot be unsealed (wrong sealing key, or the record was altered)`);
  }
}

/** A new Active key. The plain secret is returned once, for the caller to show; only its sealed form is kept. */
export function createAccessKey(
  policyDocuments: unknown[],
  sealingKey: Buffer,
  description?: string,
): { record: AccessKeyRecord; secretAccessKey: string } {
  checkSealingKey(sealingKey);
  const accessKeyId = `AKIA${randomString(ID_ALPHABET, 16)}`;
  const secretAccessKey = randomString(SECRET_ALPHABET, 40);
  const record: AccessKeyRecord = {
    accessKeyId,
    secretSealed: sealSecret(accessKeyId, secretAccessKey, sealingKey),
    policyDocuments,
    status: 'Active',
    createdAt: new Date().toISOString(),
  };
  if (description !== undefined) record.description = description;
  return { record, secretAccessKey };
}

/**
 * The secret lookup verifySigV4 wants: the plain secret of an Active key, else undefined; for a
 * temporary key, also a refusal when the session token is missing or wrong or the key expired
 * (a permanent key with a session token is refused too, as AWS refuses it). Unsealed secrets are
 * memoised per sealed value, so a put() with a new secret or status is seen at once and a deleted
 * key is forgotten on its next lookup.
 */
/** Permanent keys whose unsealed secret is kept; past it, the oldest entry goes. */
const SECRET_CACHE_SIZE = 10_000;

export function secretLookup(
  store: AccessKeyStore,
  sealingKey: Buffer,
  now: () => number = Date.now,
): (accessKeyId: string, sessionToken?: string) => string | CredentialRefusal | undefined {
  checkSealingKey(sealingKey);
  const cache = new Map<string, { sealed: string; secret: string }>();
  return (accessKeyId, sessionToken) => {
    const record = store.get(accessKeyId);
    if (record === undefined || record.status !== 'Active') {
      cache.delete(accessKeyId);
      return undefined;
    }
    const refusal = sessionTokenRefusal(record, sessionToken, now());
    if (refusal !== null) return refusal;
    const hit = cache.get(accessKeyId);
    if (hit !== undefined && hit.sealed === record.secretSealed) return hit.secret;
    let secret: string;
    try {
      secret = unsealSecret(record, sealingKey);
    } catch {
      return undefined;
    }
    // Temporary keys come and go by the thousand and are swept from the store; keeping their
    // secrets here would outlive the sweep. Unsealing one per request costs microseconds.
    if (record.expiration !== undefined) return secret;
    if (cache.size >= SECRET_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(accessKeyId, { sealed: record.secretSealed, secret });
    return secret;
  };
}
