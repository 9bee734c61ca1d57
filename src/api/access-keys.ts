// SigV4 callers: an access key Switchboard manages, whose policy documents authorize the call;
// and the admin API that creates and manages those keys (`switchboard keys ...`).
import { compilePolicies, parsePolicyDocuments, type PolicyDocument } from '../policy/index.js';
import { createAccessKey, secretLookup, type AccessKeyStore } from '../store/access-key-store.js';
import { ApiError, badRequest, notFound } from './errors.js';
import {
  createTemporaryAccessKey,
  MAX_TEMPORARY_ACCESS_KEYS,
  MAX_TEMPORARY_KEY_SECONDS,
  sweepExpiredAccessKeys,
} from '../store/temporary-access-key.js';
import type { HttpCaller, HttpRequestInfo } from './http-auth.js';
import type { HttpApp } from './http-server.js';
import { verifySigV4, type SecretLookup } from './sigv4/verify.js';
import { isPoolSessionToken } from '../auth/identity-pool-credentials.js';
import type { IdentityPools } from '../auth/identity-pools.js';
import type { SignedUrlVerifier } from '../auth/signed-url.js';
import { adminRoute } from './route-access.js';

/** AWS SDKs sign data-plane calls as `iotdata`; AWS's prose says `iotdevicegateway`: accept both. */
const SERVICES = ['iotdata', 'iotdevicegateway'];

/** Who signed, with what documents, until when (temporary credentials); or why the credentials do not admit. */
interface SignedCaller {
  principal: string;
  documents: PolicyDocument[];
  /** Epoch ms; absent for permanent keys. */
  expiresAt?: number;
}

/**
 * One secret lookup for verifySigV4 over both kinds of credentials: access keys in the store
 * (permanent, or temporary with a session token) and identity-pool credentials, which are not
 * stored (auth/identity-pool-credentials.ts) and recognised by their session token. Then, once the
 * signature verified, who signed and their documents.
 */
function credentialCheck(keys: AccessKeyStore, sealingKey: Buffer, pools: IdentityPools | undefined, now: () => number) {
  const storeLookup = secretLookup(keys, sealingKey, now);
  const isPoolCredential = (accessKeyId: string, sessionToken: string | undefined): sessionToken is string =>
    pools !== undefined && isPoolSessionToken(sessionToken) && keys.get(accessKeyId) === undefined;
  const lookup: SecretLookup = (accessKeyId, sessionToken) => {
    if (!isPoolCredential(accessKeyId, sessionToken)) return storeLookup(accessKeyId, sessionToken);
    const opened = pools!.open(accessKeyId, sessionToken);
    return opened === undefined || 'refused' in opened ? opened : opened.secretKey;
  };
  // Parsed documents per key, re-parsed when the record changes (same object = same documents).
  const parsedDocs = new WeakMap<object, PolicyDocument[]>();
  const callerOf = (accessKeyId: string, sessionToken: string | undefined): SignedCaller | { refused: string } => {
    if (isPoolCredential(accessKeyId, sessionToken)) {
      const opened = pools!.open(accessKeyId, sessionToken);
      if (opened === undefined || 'refused' in opened) return { refused: 'invalid-token: the identity pool credential no longer verifies' };
      return { principal: opened.principal, documents: opened.documents, expiresAt: opened.expiresAt };
    }
    const record = keys.get(accessKeyId);
    if (record === undefined) return { refused: 'unknown-key: the access key was deleted' };
    let documents = parsedDocs.get(record);
    if (documents === undefined) {
      const parsed = parsePolicyDocuments(record.policyDocuments);
      // Documents were validated when the key was created; a bad one now denies everything.
      documents = parsed.ok ? parsed.value : [];
      parsedDocs.set(record, documents);
    }
    return { principal: accessKeyId, documents, ...(record.expiration !== undefined ? { expiresAt: Date.parse(record.expiration) } : {}) };
  };
  return { lookup, callerOf };
}

export function createSigV4Verifier(
  keys: AccessKeyStore,
  sealingKey: Buffer,
  pools?: IdentityPools,
  now: () => number = Date.now,
): (request: HttpRequestInfo) => HttpCaller | ApiError {
  const check = credentialCheck(keys, sealingKey, pools, now);
  return (request) => {
    const result = verifySigV4(
      { method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body },
      check.lookup,
      { services: SERVICES, now },
    );
    if (!result.ok) return new ApiError(result.code, result.status, result.message);
    const caller = check.callerOf(result.accessKeyId, result.sessionToken);
    if ('refused' in caller) return new ApiError('ForbiddenException', 403, 'The security token included in the request is invalid.');
    // Compiled per request: a policy with conditions (aws:SourceIp) is bound to this caller's
    // context; compilePolicies itself shares the compiled form of context-free documents.
    const policy = compilePolicies(caller.documents, { sourceIp: request.remoteAddress });
    return { principal: caller.principal, policy };
  };
}

/**
 * The same keys sign MQTT-over-WebSocket URLs (auth/signed-url.ts). AWS's SDKs presign those for
 * `iotdevicegateway` only; `iotdata` is the HTTP data plane's name and is refused here.
 */
export function createSignedUrlVerifier(
  keys: AccessKeyStore,
  sealingKey: Buffer,
  pools?: IdentityPools,
  now: () => number = Date.now,
): SignedUrlVerifier {
  const check = credentialCheck(keys, sealingKey, pools, now);
  return (request) => {
    const result = verifySigV4(
      { method: 'GET', path: request.path, query: request.query, headers: request.headers, body: Buffer.alloc(0) },
      check.lookup,
      { services: ['iotdevicegateway'], now },
    );
    if (!result.ok) return { refused: `${result.reason}: ${result.message}` };
    return check.callerOf(result.accessKeyId, result.sessionToken);
  };
}

export function registerAccessKeyRoutes(app: HttpApp, keys: AccessKeyStore, sealingKey: Buffer, now: () => number = Date.now): void {
  const describe = (r: ReturnType<AccessKeyStore['list']>[number]) => ({
    accessKeyId: r.accessKeyId,
    status: r.status,
    createdAt: r.createdAt,
    ...(r.description ? { description: r.description } : {}),
    admin: r.admin === true,
    policyDocuments: r.policyDocuments,
    ...(r.expiration !== undefined ? { expiration: r.expiration } : {}),
  });

  app.get('/api/keys', adminRoute, async () => ({ keys: keys.list().map(describe) }));

  app.post('/api/keys', adminRoute, async (request, reply) => {
    const body = (request.body ?? {}) as { policyDocuments?: unknown; description?: unknown; admin?: unknown; expiresInSeconds?: unknown };
    if (body.admin !== undefined && typeof body.admin !== 'boolean') throw badRequest('admin must be true or false');
    // Temporary keys are handed to browsers and scripts; the admin plane is for long-lived operator keys.
    if (body.admin === true && body.expiresInSeconds !== undefined) throw badRequest('a temporary key (expiresInSeconds) cannot be an admin key');
    // An admin key needs no policy: its documents only govern the data plane.
    const docs = body.policyDocuments ?? (body.admin === true ? [] : undefined);
    if (!Array.isArray(docs) || (docs.length === 0 && body.admin !== true)) throw badRequest('policyDocuments must be a non-empty array of policy documents');
    const parsed = parsePolicyDocuments(docs);
    if (!parsed.ok) throw badRequest(`policyDocuments[${parsed.error.documentIndex ?? 0}] ${parsed.error.path}: ${parsed.error.message}`);
    if (body.description !== undefined && typeof body.description !== 'string') throw badRequest('description must be a string');
    if (body.expiresInSeconds !== undefined) {
      const seconds = body.expiresInSeconds;
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TEMPORARY_KEY_SECONDS) {
        throw badRequest(`expiresInSeconds must be a whole number of seconds from 1 to ${MAX_TEMPORARY_KEY_SECONDS} (36 hours, STS's longest)`);
      }
      // Expired keys go first, so only live ones count against the bound.
      if (sweepExpiredAccessKeys(keys, now()) >= MAX_TEMPORARY_ACCESS_KEYS) {
        throw new ApiError('LimitExceededException', 400, `at most ${MAX_TEMPORARY_ACCESS_KEYS} temporary keys may exist at once; delete some or wait for them to expire`);
      }
      const issued = createTemporaryAccessKey(docs, sealingKey, { expiresInSeconds: seconds, now: now(), description: body.description as string | undefined });
      keys.put(issued.record);
      reply.code(201);
      // Shown once; the session token must accompany every signature (X-Amz-Security-Token).
      return {
        accessKeyId: issued.record.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
        expiration: issued.expiration,
        status: issued.record.status,
      };
    }
    const { record, secretAccessKey } = createAccessKey(docs, sealingKey, body.description as string | undefined);
    if (body.admin === true) record.admin = true;
    keys.put(record);
    reply.code(201);
    // The secret is shown once, as AWS does for IAM access keys.
    return { accessKeyId: record.accessKeyId, secretAccessKey, status: record.status, admin: record.admin === true };
  });

  app.patch<{ Params: { id: string } }>('/api/keys/:id', adminRoute, async (request) => {
    const record = keys.get(request.params.id);
    if (record === undefined) throw notFound(`access key ${request.params.id} does not exist`);
    const body = (request.body ?? {}) as { status?: unknown; policyDocuments?: unknown; description?: unknown; admin?: unknown };
    const next = { ...record };
    if (body.admin !== undefined) {
      if (typeof body.admin !== 'boolean') throw badRequest('admin must be true or false');
      if (body.admin && record.expiration !== undefined) throw badRequest('a temporary key cannot be an admin key');
      next.admin = body.admin;
    }
    if (body.status !== undefined) {
      if (body.status !== 'Active' && body.status !== 'Inactive') throw badRequest('status must be Active or Inactive');
      next.status = body.status;
    }
    if (body.policyDocuments !== undefined) {
      if (!Array.isArray(body.policyDocuments)) throw badRequest('policyDocuments must be an array');
      const parsed = parsePolicyDocuments(body.policyDocuments);
      if (!parsed.ok) throw badRequest(`policyDocuments: ${parsed.error.path}: ${parsed.error.message}`);
      next.policyDocuments = body.policyDocuments;
    }
    if (typeof body.description === 'string') next.description = body.description;
    keys.put(next);
    return describe(next);
  });

  app.delete<{ Params: { id: string } }>('/api/keys/:id', adminRoute, async (request, reply) => {
    if (!keys.delete(request.params.id)) throw notFound(`access key ${request.params.id} does not exist`);
    reply.code(204);
    return null;
  });
}
