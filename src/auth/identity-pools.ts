// The identity pools of `auth.identityPools`, checked once at start-up: each pool's unauthenticated
// policy (its own, else auth.unauthenticatedPolicy) parsed, ids unique. Credentials are issued and
// opened by IdentityPoolCredentials; this adds which policy documents they carry.
import type { AuthConfig } from '../config/schema.js';
import { parsePolicyDocuments, type PolicyDocument } from '../policy/index.js';
import type { CredentialRefusal } from '../store/temporary-access-key.js';
import { IdentityPoolCredentials, type PoolCredentials } from './identity-pool-credentials.js';

export interface IdentityPool {
  id: string;
  documents: PolicyDocument[];
  credentialsTtlSeconds: number;
}

export interface PoolCaller {
  /** The identity id: the principal in logs and lifecycle events, as AWS names Cognito identities. */
  principal: string;
  documents: PolicyDocument[];
  expiresAt: number;
  secretKey: string;
}

export class IdentityPools {
  private readonly pools = new Map<string, IdentityPool>();
  readonly credentials: IdentityPoolCredentials;

  /** Throws naming the field when a pool is declared twice or has no valid policy. */
  constructor(config: Pick<AuthConfig, 'identityPools' | 'unauthenticatedPolicy'>, sealingKey: Buffer, now: () => number = Date.now) {
    this.credentials = new IdentityPoolCredentials(sealingKey, now);
    config.identityPools.forEach((pool, i) => {
      const field = `auth.identityPools[${i}]`;
      if (this.pools.has(pool.id)) throw new Error(`${field}.id: identity pool ${pool.id} is declared twice`);
      const raw = pool.unauthenticatedPolicy ?? config.unauthenticatedPolicy;
      if (raw === undefined) throw new Error(`${field}.unauthenticatedPolicy: required when auth.unauthenticatedPolicy is not set`);
      const parsed = parsePolicyDocuments(Array.isArray(raw) ? raw : [raw]);
      const where = pool.unauthenticatedPolicy !== undefined ? `${field}.unauthenticatedPolicy` : 'auth.unauthenticatedPolicy';
      if (!parsed.ok) throw new Error(`${where} is invalid: ${parsed.error.path}: ${parsed.error.message}`);
      this.pools.set(pool.id, { id: pool.id, documents: parsed.value, credentialsTtlSeconds: pool.credentialsTtlSeconds });
    });
  }

  get size(): number {
    return this.pools.size;
  }

  get(id: string): IdentityPool | undefined {
    return this.pools.get(id);
  }

  /** A new identity in the pool (the pool must exist). */
  newIdentity(pool: IdentityPool): string {
    return this.credentials.newIdentityId(pool.id);
  }

  /** The pool an identity id belongs to, if it was issued for one of the configured pools. */
  poolOfIdentity(identityId: string): IdentityPool | undefined {
    for (const pool of this.pools.values()) if (this.credentials.isIdentityOf(pool.id, identityId)) return pool;
    return undefined;
  }

  issue(pool: IdentityPool, identityId: string): PoolCredentials {
    return this.credentials.issue(pool.id, identityId, pool.credentialsTtlSeconds);
  }

  /** What a signature's credentials grant; see IdentityPoolCredentials.open. */
  open(accessKeyId: string, sessionToken: string | undefined): PoolCaller | CredentialRefusal | undefined {
    const opened = this.credentials.open(accessKeyId, sessionToken);
    if (opened === undefined || 'refused' in opened) return opened;
    const pool = this.pools.get(opened.poolId);
    if (pool === undefined) return { refused: 'invalid-token', message: 'The security token included in the request is invalid.' };
    return { principal: opened.identityId, documents: pool.documents, expiresAt: opened.expiresAt, secretKey: opened.secretKey };
  }
}
