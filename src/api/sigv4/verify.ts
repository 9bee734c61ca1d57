// AWS Signature Version 4 verification for the HTTP data plane (what @aws-sdk/client-iot-data-plane
// sends) and for SigV4-presigned MQTT-over-WebSocket URLs (GET /mqtt?X-Amz-..., empty body).
//
// Two forms:
//   header  Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/iotdata/aws4_request,
//           SignedHeaders=host;x-amz-date, Signature=<64 hex>     plus X-Amz-Date: 20240501T120000Z
//   query   ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240501%2F...&X-Amz-Date=...
//           &X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>[&X-Amz-Expires=86400][&X-Amz-Security-Token=...]
//
// Status and error type of each failure (the `FAILURES` table below). AWS's IoT data plane reports
// rejected credentials as 403 ForbiddenException ("Forbidden", "The security token included in the
// request is invalid." — aws-sdk-js-v3#5562, aws-iot-device-sdk-js#146; a failed SigV4 WebSocket
// upgrade is also a 403), while its model declares 401 UnauthorizedException and 400
// InvalidRequestException. So:
//   no SigV4 at all                                   401 UnauthorizedException
//   malformed/incomplete SigV4, bad x-amz-content-sha256, both forms at once
//                                                     400 InvalidRequestException
//   unknown/inactive key, wrong signature, service not allowed, date outside the skew window,
//   expired presigned URL, credential date != X-Amz-Date                  403 ForbiddenException
// Messages follow the generic AWS SigV4 wording, so they read like what AWS says.
//
// Deliberate tolerances (each costs at most one more HMAC, and every variant still proves the
// caller holds the secret):
//   - X-Amz-Security-Token in a presigned URL: the AWS IoT device SDKs add it after signing (not in
//     the canonical query, as AWS IoT's docs ask); @smithy/signature-v4 signs it. Both canonical
//     forms are tried. Its value (or the x-amz-security-token header's, for a signed request) goes to
//     the secret lookup, which refuses a temporary key without its own token, or expired, and a
//     permanent key with any token (store/temporary-access-key.ts).
//   - Host "name:443" / "name:80": also tried without the port (some embedded clients send the port
//     they did not sign, §6.2 of the reference).
// Not accepted: UNSIGNED-PAYLOAD / STREAMING-* payload hashes (S3 only), the Date header instead of
// X-Amz-Date, signatures not in lower-case hex, and raw paths with empty, "." or ".." segments
// (AWS normalises them before signing, so the signature would not pin the route the server reads).
// An x-amz-content-sha256 header must equal the body's SHA-256, else the body would be unsigned.
import { timingSafeEqual } from 'node:crypto';
import {
  ALGORITHM,
  canonicalHeaderValue,
  canonicalPath,
  canonicalQuery,
  canonicalRequest,
  hmacHex,
  parseQuery,
  sha256Hex,
  signingKey,
  stringToSign,
  type QueryPair,
} from './canonical.js';

export interface SigV4Request {
  method: string;
  /** Raw path as received, e.g. /topics/a%2Fb. */
  path: string;
  /** Raw query without '?'. */
  query: string;
  /** Node's lower-cased headers. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type SigV4FailureReason = keyof typeof FAILURES;

export type SigV4Result =
  | { ok: true; accessKeyId: string; region: string; service: string; sessionToken?: string }
  | {
      ok: false;
      status: 400 | 401 | 403;
      /** AWS error type, sent as x-amzn-ErrorType so SDKs raise the matching exception. */
      code: string;
      message: string;
      /** Stable Switchboard reason, for logs and metrics. */
      reason: SigV4FailureReason;
    };

export interface SigV4Options {
  /** SigV4 service names accepted in the credential scope, e.g. ['iotdata', 'iotdevicegateway']. */
  services: readonly string[];
  /** Allowed difference between X-Amz-Date and the server clock. Default 5 minutes. */
  clockSkewMs?: number;
  now?: () => number;
}

export type SigV4Kind = 'header' | 'query';

const MISSING = [401, 'UnauthorizedException'] as const;
const INVALID = [400, 'InvalidRequestException'] as const;
const FORBIDDEN = [403, 'ForbiddenException'] as const;

const FAILURES = {
  missing: MISSING,
  malformed: INVALID,
  'both-forms': INVALID,
  'unsupported-payload-hash': INVALID,
  'payload-hash-mismatch': INVALID,
  'service-not-allowed': FORBIDDEN,
  'scope-date-mismatch': FORBIDDEN,
  'not-yet-current': FORBIDDEN,
  expired: FORBIDDEN,
  'unknown-key': FORBIDDEN,
  'invalid-token': FORBIDDEN,
  'expired-token': [403, 'ExpiredTokenException'],
  'signed-header-missing': FORBIDDEN,
  'signature-mismatch': FORBIDDEN,
} as const;

const DEFAULT_SKEW_MS = 5 * 60_000;
/** AWS: presigned URLs live at most 7 days. */
const MAX_EXPIRES_S = 604_800;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function fail(reason: SigV4FailureReason, message: string): SigV4Result {
  const [status, code] = FAILURES[reason];
  return { ok: false, status, code, message, reason };
}

function header(headers: SigV4Request['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Which SigV4 form a request carries, if any: lets the HTTP authenticator pick SigV4 over other schemes. */
export function sigV4Kind(req: Pick<SigV4Request, 'headers' | 'query'>): SigV4Kind | undefined {
  if (header(req.headers, 'authorization')?.startsWith('AWS4-')) return 'header';
  // Cheap textual test; verifySigV4 parses properly.
  if (/(?:^|&)X-Amz-(?:Algorithm|Signature|Credential)=/.test(req.query)) return 'query';
  return undefined;
}

/** What both forms provide once parsed. */
interface Claim {
  kind: SigV4Kind;
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string;
  /** Presigned URL lifetime in seconds, query form only. */
  expires: number | undefined;
}

type Parsed = { claim: Claim; pairs: QueryPair[] } | SigV4Result;

function parse(req: SigV4Request, pairs: QueryPair[]): Parsed {
  const authorization = header(req.headers, 'authorization');
  const params = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (!name.startsWith('X-Amz-')) continue;
    if (params.has(name)) return fail('malformed', `Query parameter ${name} appears more than once.`);
    params.set(name, value);
  }
  const queryForm = params.has('X-Amz-Algorithm') || params.has('X-Amz-Signature') || params.has('X-Amz-Credential');

  if (authorization !== undefined && authorization.startsWith('AWS4-')) {
    if (queryForm) {
      return fail(
        'both-forms',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
    }
    const space = authorization.indexOf(' ');
    const algorithm = space < 0 ? authorization : authorization.slice(0, space);
    if (algorithm !== ALGORITHM) return fail('malformed', `Unsupported AWS 'algorithm': '${algorithm}'.`);
    const fields = new Map<string, string>();
    for (const part of authorization.slice(space + 1).split(',')) {
      const item = part.trim();
      if (item === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) return fail('malformed', `Authorization header is malformed near '${item}'.`);
      const key = item.slice(0, eq);
      if (fields.has(key)) return fail('malformed', `Authorization header has '${key}' more than once.`);
      fields.set(key, item.slice(eq + 1));
    }
    const credential = fields.get('Credential');
    const signedHeaders = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    const amzDate = header(req.headers, 'x-amz-date');
    const missing = [
      credential === undefined ? "Authorization header requires 'Credential' parameter." : '',
      signedHeaders === undefined ? "Authorization header requires 'SignedHeaders' parameter." : '',
      signature === undefined ? "Authorization header requires 'Signature' parameter." : '',
      amzDate === undefined ? "Authorization header requires existence of a 'X-Amz-Date' header." : '',
    ].filter(Boolean);
    if (missing.length > 0) return fail('malformed', missing.join(' '));
    return {
      claim: { kind: 'header', credential: credential!, signedHeaders: signedHeaders!, signature: signature!, amzDate: amzDate!, expires: undefined },
      pairs,
    };
  }

  if (!queryForm) return fail('missing', 'Missing Authentication Token');
  const algorithm = params.get('X-Amz-Algorithm');
  if (algorithm === undefined) return fail('malformed', 'AWS query-string parameters must include X-Amz-Algorithm.');
  if (algorithm !== ALGORITHM) return fail('malformed', `Unsupported AWS 'algorithm': '${algorithm}'.`);
  const required = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
  const absent = required.filter((name) => !params.has(name));
  if (absent.length > 0) return fail('malformed', `AWS query-string parameters must include ${absent.join(', ')}.`);
  let expires: number | undefined;
  const rawExpires = params.get('X-Amz-Expires');
  if (rawExpires !== undefined) {
    expires = /^\d{1,7}$/.test(rawExpires) ? Number(rawExpires) : NaN;
    if (!(expires >= 1 && expires <= MAX_EXPIRES_S)) {
      return fail('malformed', `X-Amz-Expires must be a number of seconds from 1 to ${MAX_EXPIRES_S} (a week).`);
    }
  }
  return {
    claim: {
      kind: 'query',
      credential: params.get('X-Amz-Credential')!,
      signedHeaders: params.get('X-Amz-SignedHeaders')!,
      signature: params.get('X-Amz-Signature')!,
      amzDate: params.get('X-Amz-Date')!,
      expires,
    },
    pairs,
  };
}

function parseAmzDate(amzDate: string): number | undefined {
  const m = AMZ_DATE.exec(amzDate);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 20240231 over to March; a real date survives the round trip.
  const back = new Date(t);
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? t : undefined;
}

function amzDateOf(t: number): string {
  return new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Checks an AWS SigV4 request (Authorization header or presigned query) against the secret the
 * lookup returns for its access key id. Synchronous: a handful of HMACs, no I/O.
 */
/**
 * The secret of an access key, given the session token the request carries (undefined: none):
 * undefined for an unknown or inactive key, or why the token does not fit the key.
 */
export type SecretLookup = (accessKeyId: string, sessionToken: string | undefined) => string | undefined | { refused: 'invalid-token' | 'expired-token'; message: string };

export function verifySigV4(req: SigV4Request, lookupSecret: SecretLookup, options: SigV4Options): SigV4Result {
  let pairs: QueryPair[];
  try {
    pairs = parseQuery(req.query);
  } catch {
    return fail('malformed', 'The query string has malformed percent-encoding.');
  }
  const parsed = parse(req, pairs);
  if (!('claim' in parsed)) return parsed;
  const { claim } = parsed;

  // Credential scope: <access key id>/<yyyymmdd>/<region>/<service>/aws4_request
  const scopeParts = claim.credential.split('/');
  if (scopeParts.length !== 5 || scopeParts.some((p) => p === '')) {
    return fail('malformed', `Credential should have the form <access key id>/<date>/<region>/<service>/aws4_request, not '${claim.credential}'.`);
  }
  const [accessKeyId, shortDate, region, service, terminator] = scopeParts as [string, string, string, string, string];
  if (terminator !== 'aws4_request') return fail('malformed', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
  if (!options.services.includes(service)) {
    return fail('service-not-allowed', `Credential should be scoped to correct service: '${options.services[0] ?? ''}', not '${service}'.`);
  }

  const signedAt = parseAmzDate(claim.amzDate);
  if (signedAt === undefined) return fail('malformed', `X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z', not '${claim.amzDate}'.`);
  if (shortDate !== claim.amzDate.slice(0, 8)) {
    return fail(
      'scope-date-mismatch',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${claim.amzDate.slice(0, 8)}', from '${claim.amzDate}'.`,
    );
  }
  const now = (options.now ?? Date.now)();
  const skew = options.clockSkewMs ?? DEFAULT_SKEW_MS;
  if (signedAt > now + skew) {
    return fail('not-yet-current', `Signature not yet current: ${claim.amzDate} is still later than ${amzDateOf(now + skew)} (${amzDateOf(now)} + ${skew / 60_000} min.)`);
  }
  if (claim.kind === 'query' && claim.expires !== undefined) {
    if (now > signedAt + claim.expires * 1000) {
      return fail('expired', `Signature expired: ${amzDateOf(signedAt + claim.expires * 1000)} is now earlier than ${amzDateOf(now)} (X-Amz-Expires ${claim.expires} s from ${claim.amzDate}).`);
    }
  } else if (signedAt < now - skew) {
    return fail('expired', `Signature expired: ${claim.amzDate} is now earlier than ${amzDateOf(now - skew)} (${amzDateOf(now)} - ${skew / 60_000} min.)`);
  }

  // Signed headers: lower-case names separated by ';', host among them (AWS requires it).
  const names = claim.signedHeaders.split(';');
  if (names.some((n) => !HEADER_NAME.test(n))) return fail('malformed', `SignedHeaders must be lower-case header names separated by ';', not '${claim.signedHeaders}'.`);
  if (!names.includes('host')) return fail('malformed', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  const values: string[] = [];
  for (const name of names) {
    const value = req.headers[name];
    if (value === undefined) return fail('signed-header-missing', `The signed header '${name}' is not in the request.`);
    values.push(canonicalHeaderValue(value));
  }

  // Payload hash: x-amz-content-sha256 if sent (then it must be the body's), else the body's own hash.
  const bodyHash = sha256Hex(req.body);
  const claimedHash = header(req.headers, 'x-amz-content-sha256') ?? (claim.kind === 'query' ? pairValue(pairs, 'X-Amz-Content-Sha256') : undefined);
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    if (!HEX64.test(claimedHash)) return fail('unsupported-payload-hash', `x-amz-content-sha256 '${claimedHash}' is not supported: send the hex SHA-256 of the body.`);
    return fail('payload-hash-mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const sessionToken = claim.kind === 'query' ? pairValue(pairs, 'X-Amz-Security-Token') : header(req.headers, 'x-amz-security-token');
  const secret = lookupSecret(accessKeyId, sessionToken);
  if (secret === undefined) return fail('unknown-key', 'The security token included in the request is invalid.');
  if (typeof secret !== 'string') return fail(secret.refused, secret.message);
  if (!HEX64.test(claim.signature)) return fail('signature-mismatch', SIGNATURE_MISMATCH);

  // The signature covers the normalised path, but routes read the raw one: /topics/x/../a/b or
  // /topics/a//b would carry a signature made for /topics/a/b to another topic. Refuse them (the
  // SDKs percent-encode '/' inside labels, so they only send such paths for an id of "." or "..").
  if (!isNormalisedPath(req.path)) return fail('malformed', 'The request path must not contain empty, "." or ".." segments.');
  let path: string;
  try {
    path = canonicalPath(req.path);
  } catch {
    return fail('malformed', 'The request path cannot be URI-encoded.');
  }
  const scope = `${shortDate}/${region}/${service}/aws4_request`;
  const key = signingKey(secret, shortDate, region, service);
  const provided = Buffer.from(claim.signature, 'latin1');
  const hostAt = names.indexOf('host');
  const host = values[hostAt]!;
  const hosts = /:(?:443|80)$/.test(host) ? [host, host.replace(/:\d+$/, '')] : [host];
  for (const query of queryCandidates(pairs, claim.kind)) {
    for (const h of hosts) {
      values[hostAt] = h;
      const canonical = canonicalRequest({
        method: req.method.toUpperCase(),
        canonicalPath: path,
        canonicalQuery: query,
        headers: names.map((n, i) => [n, values[i]!] as const),
        payloadHash: bodyHash,
      });
      const expected = Buffer.from(hmacHex(key, stringToSign(claim.amzDate, scope, canonical)), 'latin1');
      if (timingSafeEqual(expected, provided)) return { ok: true, accessKeyId, region, service, ...(sessionToken ? { sessionToken } : {}) };
    }
  }
  return fail('signature-mismatch', SIGNATURE_MISMATCH);
}

/** '/' followed by non-empty segments other than '.' and '..'; a trailing '/' is allowed. */
function isNormalisedPath(rawPath: string): boolean {
  if (!rawPath.startsWith('/')) return false;
  const segments = rawPath.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.' || s === '..' || (s === '' && i < segments.length - 1)) return false;
  }
  return true;
}

function pairValue(pairs: readonly QueryPair[], name: string): string | undefined {
  for (const [n, v] of pairs) if (n === name) return v;
  return undefined;
}

/**
 * The canonical query strings to try. X-Amz-Signature is never signed (any case, like
 * @smithy/signature-v4). A presigned URL's X-Amz-Security-Token: first without it (AWS IoT device
 * SDKs), then with it (@smithy/signature-v4, most generic signers).
 */
function queryCandidates(pairs: readonly QueryPair[], kind: SigV4Kind): string[] {
  const signed = pairs.filter(([name]) => name.toLowerCase() !== 'x-amz-signature');
  if (kind === 'query' && signed.some(([name]) => name === 'X-Amz-Security-Token')) {
    return [canonicalQuery(signed.filter(([name]) => name !== 'X-Amz-Security-Token')), canonicalQuery(signed)];
  }
  return [canonicalQuery(signed)];
}
