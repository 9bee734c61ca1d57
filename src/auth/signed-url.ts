// SigV4-presigned MQTT-over-WebSocket URLs (GET /mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&...), the
// way AWS's browser and mobile SDKs connect by default. The signature is checked above this layer
// (api/ owns SigV4 and the access-key store); CustomAuthorization receives the check as a
// function of this type, so auth/ does not import api/ (DESIGN: api sits above auth).
import type { PolicyDocument } from '../policy/index.js';

export interface SignedUrlRequest {
  /** Raw path of the upgrade request, e.g. /mqtt. */
  path: string;
  /** Raw query without '?'. */
  query: string;
  /** The upgrade request's lower-cased headers (Host is signed). */
  headers: Record<string, string | string[] | undefined>;
}

/** The access key's id and policy documents, or why the URL does not verify (for the log and connect_failed). */
export type SignedUrlVerdict =
  | {
      principal: string;
      documents: PolicyDocument[];
      /** Temporary credentials: when they expire (epoch ms), and with them the connection. */
      expiresAt?: number;
    }
  | { refused: string };

export type SignedUrlVerifier = (request: SignedUrlRequest) => SignedUrlVerdict;

/**
 * The upgrade URL carries a SigV4 presignature: X-Amz-Signature or X-Amz-Algorithm in its query.
 * Such a URL is judged by its signature alone and never falls through to anonymous admission.
 * Matched case-insensitively so that a mis-cased parameter is refused by the verifier, not ignored.
 */
export function signedUrlOf(url: string | undefined): { path: string; query: string } | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const query = url.slice(q + 1);
  if (!/(?:^|&)X-Amz-(?:Signature|Algorithm)=/i.test(query)) return undefined;
  return { path: url.slice(0, q), query };
}
