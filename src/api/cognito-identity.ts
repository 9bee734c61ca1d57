// The two operations of the Amazon Cognito Identity API that a browser with an identity pool's
// unauthenticated role calls before it connects (what @aws-sdk/credential-providers'
// fromCognitoIdentityPool sends): GetId and GetCredentialsForIdentity, for the pools declared in
// `auth.identityPools`. With the SDK's endpoint pointed at Switchboard, that code runs unchanged.
//
// Wire format: AWS JSON 1.1, as the Cognito Identity service speaks it —
//   POST /   X-Amz-Target: AWSCognitoIdentityService.GetId   Content-Type: application/x-amz-json-1.1
//   {"IdentityPoolId":"us-east-1:..."}                       -> {"IdentityId":"us-east-1:..."}
//   X-Amz-Target: AWSCognitoIdentityService.GetCredentialsForIdentity
//   {"IdentityId":"us-east-1:..."} -> {"IdentityId":"...","Credentials":{"AccessKeyId":"ASIA...",
//                                       "SecretKey":"...","SessionToken":"...","Expiration":1700000000}}
// Expiration is epoch seconds (JSON 1.1 timestamps). Errors: HTTP 400 (500 for internal ones) with
// {"__type":"ResourceNotFoundException","message":"IdentityPool 'us-east-1:...' not found."} and
// the type in x-amzn-ErrorType, the names of Cognito's model so the SDK raises the same exception.
//
// Public (route access 'public'): these calls carry no credentials on AWS either. Every call
// counts against a per-address limit (the client address logic of auth/client-address.ts, i.e.
// behind a trusted proxy the forwarded address), and nothing is stored per identity or credential
// (auth/identity-pool-credentials.ts), so strangers can neither flood the store nor the memory.
// Not served: authenticated identities (Logins) -> NotAuthorizedException; CustomRoleArn; every
// other Cognito operation -> UnknownOperationException.
//
// CORS: a page on another origin calls these from the browser, as it calls Cognito on AWS (which
// answers with Access-Control-Allow-Origin: *). Nothing here rides on ambient credentials (no
// cookie is read, and `*` forbids the browser to send any), so any origin may call — unless
// listeners.http.allowedOrigins names the origins, which then also bounds these calls.
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { IdentityPools } from '../auth/identity-pools.js';
import { requestClient, type HttpApp } from './http-server.js';
import { publicRoute } from './route-access.js';
import { SignInThrottle } from './sign-in-throttle.js';
import type { Clock } from '../shared/clock.js';

const TARGET_PREFIX = 'AWSCognitoIdentityService.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Cognito's own constraint on IdentityPoolId and IdentityId: [\w-]+:[0-9a-f-]+, 1 to 55 characters. */
const ID_PATTERN = /^[\w-]+:[0-9a-f-]+$/;
const MAX_BODY_BYTES = 16 * 1024;

/** Calls per address per window; GetId and GetCredentialsForIdentity are two per credential refresh. */
export const COGNITO_REQUESTS_PER_WINDOW = 60;
export const COGNITO_WINDOW_MS = 60_000;

class CognitoError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const invalidParameter = (message: string) => new CognitoError('InvalidParameterException', message);

/** As Cognito sends it: a Buffer, so no `; charset=utf-8` is appended to the content type. */
function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', CONTENT_TYPE).header('x-amzn-RequestId', randomUUID()).send(Buffer.from(JSON.stringify(body)));
}

/** The JSON object body, every field known (SECURITY.md: an unknown field is an error, not ignored). */
function parseBody(raw: unknown, fields: readonly string[]): Record<string, unknown> {
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new CognitoError('SerializationException', 'The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CognitoError('SerializationException', 'The request body must be a JSON object.');
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) throw invalidParameter(`Unknown field ${key}: ${fields.join(', ')} expected.`);
  }
  return body as Record<string, unknown>;
}

function requiredId(body: Record<string, unknown>, field: string, member: string): string {
  const value = body[field];
  if (value === undefined || value === null) throw invalidParameter(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  if (typeof value !== 'string' || value.length > 55 || !ID_PATTERN.test(value)) {
    const shown = typeof value === 'string' ? value.slice(0, 80) : typeof value;
    throw invalidParameter(
      `1 validation error detected: Value '${shown}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+ and length at most 55`,
    );
  }
  return value;
}

/** Logins name an identity provider token: authenticated identities, which Switchboard does not serve. */
function refuseLogins(body: Record<string, unknown>): void {
  const logins = body.Logins;
  if (logins === undefined || logins === null) return;
  if (typeof logins !== 'object' || Array.isArray(logins)) throw invalidParameter("Logins must be a map of provider names to tokens.");
  if (Object.keys(logins).length > 0) {
    throw new CognitoError('NotAuthorizedException', 'Authenticated identities (Logins) are not supported by Switchboard: identity pools serve their unauthenticated role only.');
  }
}

/** Headers a preflight may ask for when it names none we can read back safely. */
const CORS_HEADERS = 'content-type, x-amz-target, x-amz-user-agent, x-amz-date, x-amz-security-token, x-amz-content-sha256, authorization, amz-sdk-invocation-id, amz-sdk-request';
const HEADER_LIST = /^[A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*$/;

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, '');

export interface CognitoIdentityOptions {
  pools: IdentityPools;
  logger: Logger;
  /** listeners.http.allowedOrigins: absent, any origin may call from a browser. */
  allowedOrigins?: readonly string[] | undefined;
  /** The rate limit's window; the system clock by default. */
  clock?: Clock;
}

export function registerCognitoIdentityRoutes(app: HttpApp, options: CognitoIdentityOptions): void {
  const { pools, logger } = options;
  const allowed = options.allowedOrigins === undefined ? null : new Set(options.allowedOrigins.map(normalizeOrigin));
  /** Access-Control-Allow-Origin for a request from `origin`, or none (the browser then withholds the answer). */
  const cors = (reply: FastifyReply, origin: string | string[] | undefined): void => {
    if (allowed === null) {
      reply.header('access-control-allow-origin', '*');
    } else if (typeof origin === 'string' && allowed.has(normalizeOrigin(origin))) {
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    } else {
      return;
    }
    reply.header('access-control-expose-headers', 'x-amzn-RequestId, x-amzn-ErrorType');
  };
  // Every call counts (an attempt, in the sign-in throttle's terms); a success clears nothing.
  const limit = new SignInThrottle({ maxFailures: COGNITO_REQUESTS_PER_WINDOW, windowMs: COGNITO_WINDOW_MS, ...(options.clock ? { clock: options.clock } : {}) });

  const operations: Record<string, (body: unknown) => unknown> = {
    GetId(raw) {
      const body = parseBody(raw, ['AccountId', 'IdentityPoolId', 'Logins']);
      const poolId = requiredId(body, 'IdentityPoolId', 'identityPoolId');
      // AccountId is optional on AWS and names the pool's account; only its form is checked here.
      if (body.AccountId !== undefined && (typeof body.AccountId !== 'string' || !/^\d{1,15}$/.test(body.AccountId))) {
        throw invalidParameter("1 validation error detected: Value at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d+");
      }
      const pool = pools.get(poolId);
      if (pool === undefined) throw new CognitoError('ResourceNotFoundException', `IdentityPool '${poolId}' not found.`);
      refuseLogins(body);
      return { IdentityId: pools.newIdentity(pool) };
    },
    GetCredentialsForIdentity(raw) {
      const body = parseBody(raw, ['IdentityId', 'Logins', 'CustomRoleArn']);
      const identityId = requiredId(body, 'IdentityId', 'identityId');
      refuseLogins(body);
      if (body.CustomRoleArn !== undefined) throw invalidParameter('CustomRoleArn is not supported: an unauthenticated identity gets its pool\'s unauthenticated policy.');
      const pool = pools.poolOfIdentity(identityId);
      if (pool === undefined) throw new CognitoError('ResourceNotFoundException', `Identity '${identityId}' not found.`);
      const issued = pools.issue(pool, identityId);
      logger.debug({ identityPool: pool.id, identityId, accessKeyId: issued.accessKeyId }, 'identity pool credentials issued');
      return {
        IdentityId: identityId,
        Credentials: { AccessKeyId: issued.accessKeyId, SecretKey: issued.secretKey, SessionToken: issued.sessionToken, Expiration: issued.expiresAt / 1000 },
      };
    },
  };

  app.register(async (scope) => {
    // The body is read here whatever its content type, so a wrong one gets Cognito's error shape.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const type = error.statusCode === 413 ? 'InvalidParameterException' : 'SerializationException';
      reply.header('x-amzn-ErrorType', type);
      send(reply, error.statusCode === 413 ? 413 : 400, { __type: type, message: error.message });
    });

    // The Cognito SDK posts to the endpoint's root. Nothing else is served on POST / (the console
    // and the data plane use GET / and their own paths).
    // The browser's CORS preflight for the POST below (a JSON 1.1 content type and X-Amz-Target).
    scope.options('/', publicRoute, async (request, reply) => {
      cors(reply, request.headers.origin);
      const asked = request.headers['access-control-request-headers'];
      reply
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', typeof asked === 'string' && HEADER_LIST.test(asked) ? asked : CORS_HEADERS)
        .header('access-control-max-age', '600')
        .code(204);
      return null;
    });

    scope.post('/', publicRoute, async (request, reply) => {
      cors(reply, request.headers.origin);
      const address = requestClient(request).address;
      const wait = limit.retryAfterSeconds(address);
      if (wait > 0) {
        reply.header('retry-after', String(wait)).header('x-amzn-ErrorType', 'TooManyRequestsException');
        return send(reply, 400, { __type: 'TooManyRequestsException', message: 'Rate exceeded' });
      }
      limit.failed(address);
      const target = request.headers['x-amz-target'];
      const name = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
      const operation = name !== undefined && Object.hasOwn(operations, name) ? operations[name] : undefined;
      try {
        if (operation === undefined) {
          throw new CognitoError('UnknownOperationException', `Switchboard serves only ${TARGET_PREFIX}GetId and ${TARGET_PREFIX}GetCredentialsForIdentity on POST /.`);
        }
        if (pools.size === 0) throw new CognitoError('ResourceNotFoundException', 'No identity pools are configured (auth.identityPools).');
        return send(reply, 200, operation(request.body));
      } catch (err) {
        if (!(err instanceof CognitoError)) {
          logger.error({ err, target }, 'Cognito identity request failed');
          reply.header('x-amzn-ErrorType', 'InternalErrorException');
          return send(reply, 500, { __type: 'InternalErrorException', message: 'An internal error occurred.' });
        }
        logger.info({ target, client: address, error: err.type, message: err.message }, 'Cognito identity request refused');
        reply.header('x-amzn-ErrorType', err.type);
        return send(reply, err.status, { __type: err.type, message: err.message });
      }
    });
  });
}
