// The HTTP data plane's authenticator: SigV4 with a managed access key when the request is
// signed, otherwise what CustomAuthorization decides for HTTP (custom authorizer, default
// authorizer, unauthenticated policy, anonymous rule).
import { sameSecret } from './admin-sessions.js';
import type { CustomAuthorization } from '../auth/custom-authorization.js';
import { ApiError, unauthorized } from './errors.js';
import type { HttpAuthenticator, HttpCaller, HttpRequestInfo } from './http-auth.js';

export type SignedRequestVerifier = (request: HttpRequestInfo) => HttpCaller | ApiError;

export function isSigned(request: HttpRequestInfo): boolean {
  const auth = request.headers.authorization;
  return (typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256')) || /(^|&)X-Amz-Signature=/.test(request.query);
}

export function createHttpAuthenticator(custom: CustomAuthorization, verifySigned: SignedRequestVerifier | null, adminToken?: string): HttpAuthenticator {
  const adminBearer = adminToken !== undefined ? `Bearer ${adminToken}` : undefined;
  return async (request) => {
    // The admin token (the CLI's credential) carries every right.
    const given = request.headers.authorization;
    if (adminBearer !== undefined && typeof given === 'string' && sameSecret(given, adminBearer)) return { principal: 'admin', policy: null };
    if (isSigned(request)) {
      if (verifySigned === null) throw unauthorized('SigV4 requests need access keys, and none are configured');
      const result = verifySigned(request);
      if (result instanceof ApiError) throw result;
      return result;
    }
    const outcome = await custom.authorizeHttp(request);
    if ('refused' in outcome) throw new ApiError(outcome.status === 401 ? 'UnauthorizedException' : 'ForbiddenException', outcome.status, outcome.refused);
    return outcome;
  };
}
