// Who is calling the HTTP data plane, and what their policy documents allow: AWS SigV4 with an
// access key Switchboard manages, a custom authorizer (x-amz-customauthorizer-name + token), or
// the anonymous rule (loopback by default). The same policy engine as for MQTT clients decides.
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledPolicy } from '../policy/index.js';

export interface HttpCaller {
  /** Access key id, authorizer principal, or 'anonymous'. */
  principal: string;
  /** null: every action allowed (anonymous under `auth.anonymous`). */
  policy: CompiledPolicy | null;
}

export interface HttpRequestInfo {
  method: string;
  /** Raw path as received (percent-encoding kept). */
  path: string;
  /** Raw query without '?'. */
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The client's address (forwarded by a trusted proxy, else the peer's). */
  remoteAddress: string;
  /** The loopback rule holds (auth/local-request.ts); absent: not local. */
  local?: boolean;
  secure: boolean;
}

/** Resolves the caller or throws an ApiError (401/403) saying what was wrong. */
export type HttpAuthenticator = (request: HttpRequestInfo) => Promise<HttpCaller>;
