// The pure parts of AWS Signature Version 4: canonical path, query and headers, the string to
// sign and the signing key. No I/O, no clock; verify.ts decides what to accept.
//
// Rules (AWS "Create a canonical request", non-S3 services such as iotdata):
//   path    normalised (empty and "." segments dropped, ".." pops) then URI-encoded once more on
//           top of the encoding it travelled with, "/" kept:
//             /topics/a%2Fb        -> /topics/a%252Fb
//             /topics/a%20b        -> /topics/a%2520b
//             /connections/x/../y  -> /connections/y
//             ""                   -> /
//   query   each name and value percent-decoded, re-encoded RFC 3986 (only A-Z a-z 0-9 - _ . ~
//           left bare), sorted by name then value, "name=value" joined by "&":
//             retain=true&qos=1&b  -> b=&qos=1&retain=true
//   headers lower-case names in SignedHeaders order, values with line breaks turned into spaces,
//           runs of spaces/tabs squeezed to one, outer spaces dropped; repeated headers joined ",".
// This is what @smithy/signature-v4 (the AWS SDK for JavaScript v3) computes with
// uriEscapePath: true, botocore for non-S3 services, and the SigV4 documentation.
import { createHash, createHmac } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** encodeURIComponent plus the RFC 3986 reserved characters it leaves alone. Throws URIError on a lone surrogate. */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Canonical URI of a raw request path (as received, percent-encoding kept). Throws URIError. */
export function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const lead = rawPath.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  // escapeUri encodes '/' too; the separators are put back, encoded slashes inside a segment
  // arrive as %2F and become %252F, which the replace leaves alone.
  const path = escapeUri(`${lead}${segments.join('/')}${trail}`).replace(/%2F/g, '/');
  return path === '' ? '/' : path;
}

export type QueryPair = readonly [name: string, value: string];

/**
 * Splits a raw query (without '?') into decoded pairs, in order. '+' is kept literally (AWS signers
 * encode a space as %20). Throws URIError on malformed percent-encoding.
 */
export function parseQuery(rawQuery: string): QueryPair[] {
  const pairs: QueryPair[] = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([decodeURIComponent(name), decodeURIComponent(value)]);
  }
  return pairs;
}

/** Canonical query string of decoded pairs (the caller drops X-Amz-Signature). */
export function canonicalQuery(pairs: readonly QueryPair[]): string {
  const encoded = pairs.map(([name, value]) => [escapeUri(name), escapeUri(value)] as const);
  // Encoded strings are ASCII, so UTF-16 order is byte order, as AWS requires.
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([name, value]) => `${name}=${value}`).join('&');
}

/** AWS "Trimall" of one header value; repeated headers (an array) are joined with ','. */
export function canonicalHeaderValue(value: string | readonly string[]): string {
  const trim = (v: string) => v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
  return typeof value === 'string' ? trim(value) : value.map(trim).join(',');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface CanonicalRequestParts {
  method: string;
  canonicalPath: string;
  canonicalQuery: string;
  /** name -> canonical value, in SignedHeaders order. */
  headers: readonly (readonly [string, string])[];
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalRequestParts): string {
  let headerBlock = '';
  for (const [name, value] of p.headers) headerBlock += `${name}:${value}\n`;
  const signedHeaders = p.headers.map(([name]) => name).join(';');
  return `${p.method}\n${p.canonicalPath}\n${p.canonicalQuery}\n${headerBlock}\n${signedHeaders}\n${p.payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function signingKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(shortDate).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}
