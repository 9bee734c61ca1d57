// SigV4 callers: an access key Switchboard manages, whose policy documents authorize the call;
// and the admin API that creates and manages those keys (`switchboard keys ...`).
import { compilePolicies, parsePolicyDocuments, type PolicyDocument } from '../policy/index.js';
import { createAccessKey, secretLookup, type AccessKeyStore } from '../store/access-key-store.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { HttpCaller, HttpRequestInfo } from './http-auth.js';
import type { HttpApp } from './http-server.js';
import { verifySigV4 } from './sigv4/verify.js';
import type { SignedUrlVerifier } from '../auth/signed-url.js';
import { adminRoute } from './route-access.js';

/** AWS SDKs sign data-plane calls as `iotdata`; AWS's prose says `iotdevicegateway`: accept both. */
const SERVICES = ['iotdata', 'iotdevicegateway'];

export function createSigV4Verifier(keys: AccessKeyStore, sealingKey: Buffer): (request: HttpRequestInfo) => HttpCaller | ApiError {
  const lookup = secretLookup(keys, sealingKey);
  // Parsed documents per key, re-parsed when the record changes (same object = same documents).
  // Compiled per request: a policy with conditions (aws:SourceIp) is bound to this caller's
  // context; compilePolicies itself shares the compiled form of context-free documents.
  const parsedDocs = new WeakMap<object, Parameters<typeof compilePolicies>[0]>();
  return (request) => {
    const result = verifySigV4(
      { method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body },
      lookup,
      { services: SERVICES },
    );
    if (!result.ok) return new ApiError(result.code, result.status, result.message);
    const record = keys.get(result.accessKeyId)!;
    let documents = parsedDocs.get(record);
    if (documents === undefined) {
      const parsed = parsePolicyDocuments(record.policyDocuments);
      // Documents were validated when the key was created; a bad one now denies everything.
      documents = parsed.ok ? parsed.value : [];
      parsedDocs.set(record, documents);
    }
    const policy = compilePolicies(documents, { sourceIp: request.remoteAddress });
    return { principal: result.accessKeyId, policy };
  };
}

/**
 * The same keys sign MQTT-over-WebSocket URLs (auth/signed-url.ts). AWS's SDKs presign those for
 * `iotdevicegateway` only; `iotdata` is the HTTP data plane's name and is refused here.
 */
export function createSignedUrlVerifier(keys: AccessKeyStore, sealingKey: Buffer): SignedUrlVerifier {
  const lookup = secretLookup(keys, sealingKey);
  const parsedDocs = new WeakMap<object, PolicyDocument[]>();
  return (request) => {
    const result = verifySigV4(
      { method: 'GET', path: request.path, query: request.query, headers: request.headers, body: Buffer.alloc(0) },
      lookup,
      { services: ['iotdevicegateway'] },
    );
    if (!result.ok) return { refused: `${result.reason}: ${result.message}` };
    const record = keys.get(result.accessKeyId);
    if (record === undefined) return { refused: 'unknown-key: the access key was deleted' };
    let documents = parsedDocs.get(record);
    if (documents === undefined) {
      const parsed = parsePolicyDocuments(record.policyDocuments);
      // Validated at creation; a document that no longer parses denies everything.
      documents = parsed.ok ? parsed.value : [];
      parsedDocs.set(record, documents);
    }
    return { principal: result.accessKeyId, documents };
  };
}

export function registerAccessKeyRoutes(app: HttpApp, keys: AccessKeyStore, sealingKey: Buffer): void {
  const describe = (r: ReturnType<AccessKeyStore['list']>[number]) => ({
    accessKeyId: r.accessKeyId,
    status: r.status,
    createdAt: r.createdAt,
    ...(r.description ? { description: r.description } : {}),
    admin: r.admin === true,
    policyDocuments: r.policyDocuments,
  });

  app.get('/api/keys', adminRoute, async () => ({ keys: keys.list().map(describe) }));

  app.post('/api/keys', adminRoute, async (request, reply) => {
    const body = (request.body ?? {}) as { policyDocuments?: unknown; description?: unknown; admin?: unknown };
    if (body.admin !== undefined && typeof body.admin !== 'boolean') throw badRequest('admin must be true or false');
    // An admin key needs no policy: its documents only govern the data plane.
    const docs = body.policyDocuments ?? (body.admin === true ? [] : undefined);
    if (!Array.isArray(docs) || (docs.length === 0 && body.admin !== true)) throw badRequest('policyDocuments must be a non-empty array of policy documents');
    const parsed = parsePolicyDocuments(docs);
    if (!parsed.ok) throw badRequest(`policyDocuments[${parsed.error.documentIndex ?? 0}] ${parsed.error.path}: ${parsed.error.message}`);
    if (body.description !== undefined && typeof body.description !== 'string') throw badRequest('description must be a string');
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
