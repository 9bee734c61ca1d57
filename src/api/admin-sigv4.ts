// Admin-plane callers that sign with AWS SigV4 — the AWS CLI (`aws iot ...`), boto3's
// client('iot') and @aws-sdk/client-iot, pointed at Switchboard with --endpoint-url. They sign for
// service `iot` or `execute-api` (AWS IoT's control-plane names, below; the data plane's are
// iotdata and iotdevicegateway, and a request signed for those is refused here) with an access
// key created as an admin key (`switchboard keys create --admin`). A valid signature by a key without the admin
// flag is refused: the flag, not the key's policy documents, opens the admin plane.
//
// Error types are the ones AWS's control plane sends for the same failures (the generic SigV4
// errors of AWS's REST services), so the SDKs raise what they would raise against AWS:
//   unknown or inactive key                 403 UnrecognizedClientException
//   wrong signature, expired or future date, credential scope wrong
//                                           403 InvalidSignatureException
//   malformed SigV4                         400 InvalidRequestException (verify.ts)
//   a good signature by a non-admin key     401 UnauthorizedException (AWS IoT's "not authorized")
import { secretLookup, type AccessKeyStore } from '../store/access-key-store.js';
import { ApiError } from './errors.js';
import { verifySigV4, type SigV4FailureReason, type SigV4Request } from './sigv4/verify.js';

/**
 * The SigV4 service names of the AWS IoT control plane: the API model's signingName `iot`, and
 * `execute-api`, the credential scope AWS's endpoints.json gives the `iot` endpoints (so
 * botocore, the AWS CLI and boto3 sign with it).
 */
export const CONTROL_PLANE_SERVICES: readonly string[] = ['iot', 'execute-api'];

const AWS_CODES: Partial<Record<SigV4FailureReason, string>> = {
  'unknown-key': 'UnrecognizedClientException',
  'signature-mismatch': 'InvalidSignatureException',
  'signed-header-missing': 'InvalidSignatureException',
  'service-not-allowed': 'InvalidSignatureException',
  'scope-date-mismatch': 'InvalidSignatureException',
  'not-yet-current': 'InvalidSignatureException',
  expired: 'InvalidSignatureException',
};

/** The admin caller a signed request names (its access key id), or the ApiError refusing it. */
export type SignedAdminVerifier = ((request: SigV4Request) => string | ApiError) & {
  precheck: (request: Pick<SigV4Request, 'headers' | 'query'>) => ApiError | null;
};

/** The access key id a SigV4 request names (header or presigned query), without verifying anything. */
export function claimedAccessKeyId(request: Pick<SigV4Request, 'headers' | 'query'>): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const m = /Credential=([^/,\s]{1,128})\//.exec(authorization);
    if (m !== null) return m[1];
  }
  const credential = new URLSearchParams(request.query).get('X-Amz-Credential');
  const id = credential?.split('/')[0];
  return id !== undefined && id !== '' && id.length <= 128 ? id : undefined;
}

const notAdmin = (accessKeyId: string) =>
  new ApiError('UnauthorizedException', 401, `access key ${accessKeyId} is not an admin key, so it may not call the admin plane (create one with switchboard keys create --admin)`);

export function createAdminSigV4Verifier(keys: AccessKeyStore, sealingKey: Buffer): SignedAdminVerifier {
  const lookup = secretLookup(keys, sealingKey);
  // Refuses from the headers what needs no secret, so only an admin key's holder gets the body read.
  const precheck = (request: Pick<SigV4Request, 'headers' | 'query'>): ApiError | null => {
    const accessKeyId = claimedAccessKeyId(request);
    if (accessKeyId === undefined) return new ApiError('InvalidRequestException', 400, 'the SigV4 signature names no access key (Credential=...)');
    const record = keys.get(accessKeyId);
    if (record === undefined || record.status !== 'Active') return new ApiError('UnrecognizedClientException', 403, 'The security token included in the request is invalid.');
    return record.admin === true ? null : notAdmin(accessKeyId);
  };
  const verify = (request: SigV4Request): string | ApiError => {
    const result = verifySigV4(request, lookup, { services: CONTROL_PLANE_SERVICES });
    if (!result.ok) return new ApiError(AWS_CODES[result.reason] ?? result.code, result.status, result.message);
    const record = keys.get(result.accessKeyId);
    if (record?.admin !== true) return notAdmin(result.accessKeyId);
    return result.accessKeyId;
  };
  return Object.assign(verify, { precheck });
}
