// Identities and temporary credentials of the Cognito identity pools in `auth.identityPools`
// (the unauthenticated role only): what GetId and GetCredentialsForIdentity hand out
// (api/cognito-identity.ts), and how a SigV4 signature made with those credentials is checked.
//
// Nothing is remembered. Anyone on the internet may ask for an identity and credentials, so
// keeping them would let strangers fill the store; instead both are signed, under keys derived
// from the store's sealing key, so every member sharing the store (`--workers N`, the nodes of a
// cluster) recognises what any of them issued:
//   identity id    <region>:<uuid>, the uuid's first half random, its second half an HMAC of the
//                  pool id and the first half (version/variant bits set, so it reads as a v4 uuid).
//                  62 bits of MAC: a guessed identity id is refused as "not found".
//   session token  sbip1.<base64url JSON {k: access key id, p: pool id, i: identity id, e: expiry
//                  in epoch seconds}>.<base64url HMAC of the same>
//   secret key     HMAC of the access key id and the token under a third key: recomputed from the
//                  token at every check, so it never needs storing.
// Invariants: a credential verifies only with its own token and access key id, only until its
// expiry, and only while its pool is still configured (a pool removed from the config takes its
// identities' credentials with it at the next check).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ID_ALPHABET, randomString } from '../store/access-key-store.js';
import type { CredentialRefusal } from '../store/temporary-access-key.js';

const TOKEN_PREFIX = 'sbip1.';
/** Longest token accepted for parsing; ours are about 250 characters. */
const MAX_TOKEN_CHARS = 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface PoolCredentials {
  accessKeyId: string;
  secretKey: string;
  sessionToken: string;
  /** Epoch milliseconds (whole seconds). */
  expiresAt: number;
}

export interface OpenedCredential {
  poolId: string;
  identityId: string;
  expiresAt: number;
  secretKey: string;
}

interface TokenBody {
  k: string;
  p: string;
  i: string;
  e: number;
}

function derive(sealingKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', sealingKey).update(`switchboard identity pool ${purpose} v1`).digest();
}

function mac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when the text could be one of our session tokens (cheap test before any HMAC). */
export function isPoolSessionToken(token: string | undefined): token is string {
  return token !== undefined && token.startsWith(TOKEN_PREFIX) && token.length <= MAX_TOKEN_CHARS;
}

export class IdentityPoolCredentials {
  private readonly identityKey: Buffer;
  private readonly tokenKey: Buffer;
  private readonly secretKey: Buffer;

  constructor(sealingKey: Buffer, private readonly now: () => number = Date.now) {
    // Keys of their own, so nothing signed here doubles as anything else the sealing key signs.
    this.identityKey = derive(sealingKey, 'identity');
    this.tokenKey = derive(sealingKey, 'token');
    this.secretKey = derive(sealingKey, 'secret');
  }

  /** A new identity id in `poolId`'s region (AWS writes identity ids as region:uuid, like pool ids). */
  newIdentityId(poolId: string): string {
    const half = randomBytes(8);
    half[6] = (half[6]! & 0x0f) | 0x40; // version 4
    return `${regionOf(poolId)}:${uuidOf(half, this.identityMac(poolId, half))}`;
  }

  /** Whether `identityId` was issued for `poolId` here (or by any member sharing the sealing key). */
  isIdentityOf(poolId: string, identityId: string): boolean {
    const colon = identityId.indexOf(':');
    if (colon < 0 || identityId.slice(0, colon) !== regionOf(poolId)) return false;
    const uuid = identityId.slice(colon + 1);
    if (!UUID.test(uuid)) return false;
    const bytes = Buffer.from(uuid.replace(/-/g, ''), 'hex');
    const half = bytes.subarray(0, 8);
    return sameBytes(bytes.subarray(8), this.identityMac(poolId, half));
  }

  issue(poolId: string, identityId: string, ttlSeconds: number): PoolCredentials {
    const accessKeyId = `ASIA${randomString(ID_ALPHABET, 16)}`;
    const expiresAt = (Math.floor(this.now() / 1000) + ttlSeconds) * 1000;
    const body = Buffer.from(JSON.stringify({ k: accessKeyId, p: poolId, i: identityId, e: expiresAt / 1000 } satisfies TokenBody)).toString('base64url');
    const sessionToken = `${TOKEN_PREFIX}${body}.${mac(this.tokenKey, body).toString('base64url')}`;
    return { accessKeyId, secretKey: this.secretOf(accessKeyId, sessionToken), sessionToken, expiresAt };
  }

  /**
   * The credential a signature names: its pool, identity and secret; a refusal when the token is
   * not ours, not this key's, or expired; `undefined` when the token is not one of ours at all.
   */
  open(accessKeyId: string, sessionToken: string | undefined): OpenedCredential | CredentialRefusal | undefined {
    if (!isPoolSessionToken(sessionToken)) return undefined;
    const invalid: CredentialRefusal = { refused: 'invalid-token', message: 'The security token included in the request is invalid.' };
    const rest = sessionToken.slice(TOKEN_PREFIX.length);
    const dot = rest.indexOf('.');
    if (dot < 0) return invalid;
    const body = rest.slice(0, dot);
    // Compared as text: Node's base64url decoder skips characters outside the alphabet, so
    // decoding first would accept many spellings of one MAC.
    if (!sameBytes(Buffer.from(rest.slice(dot + 1), 'utf8'), Buffer.from(mac(this.tokenKey, body).toString('base64url'), 'utf8'))) return invalid;
    let parsed: TokenBody;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenBody;
    } catch {
      return invalid;
    }
    if (parsed.k !== accessKeyId || typeof parsed.p !== 'string' || typeof parsed.i !== 'string' || typeof parsed.e !== 'number') return invalid;
    if (!(parsed.e * 1000 > this.now())) return { refused: 'expired-token', message: 'The security token included in the request is expired' };
    return { poolId: parsed.p, identityId: parsed.i, expiresAt: parsed.e * 1000, secretKey: this.secretOf(accessKeyId, sessionToken) };
  }

  private secretOf(accessKeyId: string, sessionToken: string): string {
    // 40 characters like an AWS secret key; base64url keeps it free of '+' and '/'.
    return mac(this.secretKey, `${accessKeyId}\n${sessionToken}`).toString('base64url').slice(0, 40);
  }

  private identityMac(poolId: string, half: Buffer): Buffer {
    const out = createHmac('sha256', this.identityKey).update(poolId, 'utf8').update(half).digest().subarray(0, 8);
    out[0] = (out[0]! & 0x3f) | 0x80; // RFC 4122 variant
    return Buffer.from(out);
  }
}

/** `us-east-1:1c9d...` -> `us-east-1`. */
export function regionOf(poolId: string): string {
  return poolId.slice(0, poolId.indexOf(':'));
}

function uuidOf(first: Buffer, second: Buffer): string {
  const hex = Buffer.concat([first, second]).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
