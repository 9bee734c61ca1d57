/**
 * Token signatures (custom-auth docs, "Signing the token"): base64 of an RSA PKCS#1 v1.5
 * SHA-256 signature over the token's UTF-8 bytes, as made by
 *   printf %s "$TOKEN" | openssl dgst -sha256 -sign key.pem | base64 -w0
 * When signing is on and no key verifies the signature, the request is refused without
 * invoking the authorizer.
 *
 * Valid:   "mE0Gva...pkDzYvwjQ==" (344 characters for a 2048-bit key)
 * Invalid: "not base64!", "" , a signature made over a different token or with another key.
 *
 * The signature arrives URL-decoded (request.ts). Two transport artefacts are repaired here
 * because base64 never contains them: spaces (a `+` that went through form decoding) become
 * `+`, and line breaks (`base64` without -w0 wraps at 76 columns) are dropped.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** AWS: signing keys must be at least 2048 bits. */
export const MIN_SIGNING_KEY_BITS = 2048;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// Keys are parsed once per key map (definitions are immutable after start-up), not per CONNECT.
const compiled = new WeakMap<Record<string, string>, readonly KeyObject[]>();

function keysOf(publicKeys: Record<string, string>): readonly KeyObject[] {
  const known = compiled.get(publicKeys);
  if (known !== undefined) return known;
  const keys: KeyObject[] = [];
  for (const pem of Object.values(publicKeys)) {
    const key = parseRsaPublicKey(pem);
    // A key that does not parse cannot verify anything; checkSigningKeys reports it at start-up.
    if (typeof key !== 'string') keys.push(key);
  }
  compiled.set(publicKeys, keys);
  return keys;
}

function parseRsaPublicKey(pem: string): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    return `not a PEM public key (${(e as Error).message})`;
  }
  if (key.asymmetricKeyType !== 'rsa') return `expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`;
  return key;
}

/** Decodes a base64 signature, or null when it is not base64 at all. */
export function decodeSignature(signatureBase64: string): Buffer | null {
  const text = signatureBase64.replace(/ /g, '+').replace(/[\r\n]/g, '');
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/** True when some key in `publicKeys` verifies the signature over the token. Never throws. */
export function verifyTokenSignature(
  token: string,
  signatureBase64: string,
  publicKeys: Record<string, string>,
): boolean {
  const signature = decodeSignature(signatureBase64);
  if (signature === null) return false;
  const data = Buffer.from(token, 'utf8');
  // [unconfirmed] AWS does not say whether every key of the map is tried; we try each.
  for (const key of keysOf(publicKeys)) {
    try {
      if (verify('sha256', data, key, signature)) return true;
    } catch {
      // A wrong-length signature for this key: not verified by it.
    }
  }
  return false;
}

/** Start-up check: null when every key is an RSA public key of at least 2048 bits, else which is not. */
export function checkSigningKeys(publicKeys: Record<string, string>): string | null {
  for (const [name, pem] of Object.entries(publicKeys)) {
    const key = parseRsaPublicKey(pem);
    if (typeof key === 'string') return `tokenSigningPublicKeys.${name}: ${key}`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_SIGNING_KEY_BITS) {
      return `tokenSigningPublicKeys.${name}: key is ${bits} bits, at least ${MIN_SIGNING_KEY_BITS} required`;
    }
  }
  return null;
}
