/**
 * From a connection's credentials to an authorizer's inputs: which authorizer it names,
 * the token and its signature, and the event the authorizer receives.
 *
 * Where the client may put them (custom-auth docs, reference §1.2 and §6.3), first found wins:
 *   1. WebSocket Upgrade headers   x-amz-customauthorizer-name: A, <tokenKeyName>: T, x-amz-customauthorizer-signature: S
 *   2. WebSocket Upgrade query     GET /mqtt?x-amz-customauthorizer-name=A&<tokenKeyName>=T&x-amz-customauthorizer-signature=S
 *   3. MQTT CONNECT username query user?x-amz-customauthorizer-name=A&<tokenKeyName>=T&x-amz-customauthorizer-signature=S
 * Device SDKs append `SDK=<name>&Version=<v>` to the username (`?SDK=` when there is no query
 * yet); unknown parameters are ignored. Empty values count as absent.
 *
 * The two fixed parameter names (`x-amz-customauthorizer-name`, `x-amz-customauthorizer-signature`)
 * are matched case-insensitively in queries as in headers: AWS's own device SDK v1 README writes
 * `?X-Amz-CustomAuthorizer-Name=…`. The token key (`tokenKeyName`) is matched exactly in queries
 * [unconfirmed: AWS does not say; an operator chooses that name and may rely on its case] and
 * case-insensitively in headers, as HTTP header names are.
 *
 * Query values are percent-decoded; `+` is kept as a literal `+`, not read as a space
 * [unconfirmed]: AWS says values (and the base64 signature in particular) must be URL-encoded,
 * so a `+` that arrives raw is far more likely an unencoded base64 `+` than a form-encoded space.
 * A malformed percent escape leaves that value as sent.
 */
import {
  AUTHORIZER_NAME_KEY,
  AUTHORIZER_SIGNATURE_KEY,
  type AuthorizerDefinition,
  type AuthorizerEvent,
} from './authorizer.js';
import { verifyTokenSignature } from './signature.js';

export interface CredentialSources {
  transport: 'tcp' | 'tls' | 'ws' | 'wss' | 'http' | 'https';
  /**
   * The front-end's protocol, named last in the event's `protocols`: 'mqtt' (the default, as AWS),
   * or Switchboard's own 'json' (JSON over WebSocket, /ws) and 'sse' (Server-Sent Events, /events).
   */
  protocol?: 'mqtt' | 'json' | 'sse';
  /** WebSocket Upgrade URL, path and query, e.g. '/mqtt?x-amz-customauthorizer-name=A&token=abc'. */
  upgradeUrl?: string;
  /** WebSocket Upgrade headers (node lowercases the names). */
  headers?: Record<string, string | string[] | undefined>;
  /** TLS SNI host name. */
  serverName?: string;
  username?: string;
  password?: Buffer;
  clientId?: string;
}

export interface AuthorizerSelection {
  /** The authorizer the client names, if any (else the listener's default applies). */
  authorizerName?: string;
  /** URL-decoded base64 token signature, if sent. */
  signature?: string;
  /** The Upgrade URL's raw query with its leading '?', or ''. */
  queryString: string;
  /** Parameters after the first '?' of the username; null when the username has no '?'. */
  usernameParams: URLSearchParams | null;
  /** The username before its first '?' (the whole username when it has none). */
  cleanUsername?: string;
}

export function selectAuthorizer(src: CredentialSources): AuthorizerSelection {
  const upgrade = splitQuery(src.upgradeUrl);
  const user = splitUsername(src.username);
  const headerSignature = headerValue(src.headers, AUTHORIZER_SIGNATURE_KEY);
  const selection: AuthorizerSelection = {
    queryString: upgrade.queryString,
    usernameParams: user.params,
  };
  const name =
    headerValue(src.headers, AUTHORIZER_NAME_KEY) ??
    paramAnyCase(upgrade.params, AUTHORIZER_NAME_KEY) ??
    paramAnyCase(user.params, AUTHORIZER_NAME_KEY);
  // Headers are not URL-encoded, but some clients encode the signature everywhere; base64 has no '%'.
  const signature =
    (headerSignature === undefined ? undefined : decodeComponent(headerSignature)) ??
    paramAnyCase(upgrade.params, AUTHORIZER_SIGNATURE_KEY) ??
    paramAnyCase(user.params, AUTHORIZER_SIGNATURE_KEY);
  if (name !== undefined) selection.authorizerName = name;
  if (signature !== undefined) selection.signature = signature;
  if (user.clean !== undefined) selection.cleanUsername = user.clean;
  return selection;
}

/**
 * The token under `tokenKeyName`: Upgrade header, then Upgrade query, then username query; for
 * Server-Sent Events also a cookie of that name (EventSource can send no header of its own). The
 * SSE route passes a Cookie header only for a same-site request (src/api/events-route.ts).
 */
export function findToken(src: CredentialSources, tokenKeyName: string): string | undefined {
  if (tokenKeyName === '') return undefined;
  return (
    headerValue(src.headers, tokenKeyName.toLowerCase()) ??
    param(splitQuery(src.upgradeUrl).params, tokenKeyName) ??
    param(splitUsername(src.username).params, tokenKeyName) ??
    (src.protocol === 'sse' ? cookieValue(headerValue(src.headers, 'cookie'), tokenKeyName) : undefined)
  );
}

/** A cookie's value from a Cookie header (RFC 6265 §5.4: `name=value; name2=value2`); '' is absent. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value === '' ? undefined : decodeComponent(value);
  }
  return undefined;
}

/**
 * The event for this connection (custom-auth-lambda docs; reference §1.4).
 *
 * protocols: tcp ['mqtt'], tls ['tls','mqtt'], ws ['http','mqtt'], wss ['tls','http','mqtt'].
 *   [unconfirmed] AWS documents only the WSS example (all three); the others follow from
 *   which layers the connection has.
 * protocolData.tls: only when the SNI host name is known.
 * protocolData.http (ws, wss): every Upgrade header as received, repeated values joined with
 *   ','; header-name case is whatever the caller passes (node: lower case) [unconfirmed: AWS's
 *   example shows `X-Request-ID`]. queryString keeps its leading '?', '' when there is none.
 * protocolData.mqtt: username exactly as sent, including any `?x-amz-customauthorizer-...`
 *   part [unconfirmed: AWS does not say it strips it, so we do not]; password as base64 of
 *   the raw bytes; each field only when non-empty [unconfirmed for username and password;
 *   documented for clientId]. The object is omitted when all three are absent.
 */
export function buildEvent(
  src: CredentialSources,
  opts: { token?: string; signatureVerified: boolean; connectionId: string },
): AuthorizerEvent {
  // An HTTP request carries it: a WebSocket upgrade, or an SSE stream.
  const isWebSocket = src.transport === 'ws' || src.transport === 'wss' || src.transport === 'http' || src.transport === 'https';
  const isTls = src.transport === 'tls' || src.transport === 'wss' || src.transport === 'https';
  const protocols: string[] = [];
  if (isTls) protocols.push('tls');
  if (isWebSocket) protocols.push('http');
  protocols.push(src.protocol ?? 'mqtt');

  const protocolData: NonNullable<AuthorizerEvent['protocolData']> = {};
  if (isTls && src.serverName !== undefined && src.serverName !== '') {
    protocolData.tls = { serverName: src.serverName };
  }
  if (isWebSocket) {
    protocolData.http = { headers: flattenHeaders(src.headers), queryString: splitQuery(src.upgradeUrl).queryString };
  }
  const mqtt: NonNullable<NonNullable<AuthorizerEvent['protocolData']>['mqtt']> = {};
  if (src.username !== undefined && src.username !== '') mqtt.username = src.username;
  if (src.password !== undefined && src.password.length > 0) mqtt.password = src.password.toString('base64');
  if (src.clientId !== undefined && src.clientId !== '') mqtt.clientId = src.clientId;
  if (Object.keys(mqtt).length > 0) protocolData.mqtt = mqtt;

  // Key order as in AWS's example, so logged events read the same.
  return {
    ...(opts.token === undefined ? {} : { token: opts.token }),
    signatureVerified: opts.signatureVerified,
    protocols,
    ...(Object.keys(protocolData).length === 0 ? {} : { protocolData }),
    connectionMetadata: { id: opts.connectionId },
  };
}

export type PreparedEvent = { ok: true; event: AuthorizerEvent } | { ok: false; error: string };

/**
 * Everything before the invocation for one chosen authorizer: status, token lookup and, when
 * signing is on, signature verification (AWS: failure refuses the request without invoking).
 * [unconfirmed] With signing off the token is still passed when `tokenKeyName` finds one.
 */
export function prepareAuthorizerEvent(
  src: CredentialSources,
  definition: AuthorizerDefinition,
  opts: { connectionId: string },
): PreparedEvent {
  if (definition.status !== 'ACTIVE') return { ok: false, error: `authorizer ${definition.name} is ${definition.status}` };
  const token = definition.tokenKeyName === undefined ? undefined : findToken(src, definition.tokenKeyName);
  let signatureVerified = false;
  if (!definition.signingDisabled) {
    if (token === undefined) {
      return { ok: false, error: `no token under "${definition.tokenKeyName ?? ''}" (authorizer ${definition.name} requires a signed token)` };
    }
    const signature = selectAuthorizer(src).signature;
    if (signature === undefined) {
      return { ok: false, error: `no ${AUTHORIZER_SIGNATURE_KEY} (authorizer ${definition.name} requires a signed token)` };
    }
    if (!verifyTokenSignature(token, signature, definition.tokenSigningPublicKeys ?? {})) {
      return { ok: false, error: `token signature does not verify with any public key of authorizer ${definition.name}` };
    }
    signatureVerified = true;
  }
  const event = buildEvent(src, { signatureVerified, connectionId: opts.connectionId, ...(token === undefined ? {} : { token }) });
  return { ok: true, event };
}

function flattenHeaders(headers: CredentialSources['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/** First value of a header (names compared case-insensitively; `name` is lower case); '' is absent. */
function headerValue(headers: CredentialSources['headers'], name: string): string | undefined {
  if (headers === undefined) return undefined;
  let value = headers[name];
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) {
        value = headers[key];
        break;
      }
    }
  }
  if (Array.isArray(value)) value = value[0];
  return value === undefined || value === '' ? undefined : value;
}

function param(params: URLSearchParams | null, name: string): string | undefined {
  const value = params?.get(name);
  return value === undefined || value === null || value === '' ? undefined : value;
}

/** Like `param`, with the name compared case-insensitively (`name` is lower case); exact case wins. */
function paramAnyCase(params: URLSearchParams | null, name: string): string | undefined {
  if (params === null) return undefined;
  const exact = param(params, name);
  if (exact !== undefined) return exact;
  for (const [key, value] of params) {
    if (value !== '' && key.toLowerCase() === name) return value;
  }
  return undefined;
}

function splitQuery(url: string | undefined): { queryString: string; params: URLSearchParams | null } {
  if (url === undefined) return { queryString: '', params: null };
  const q = url.indexOf('?');
  if (q < 0) return { queryString: '', params: null };
  const hash = url.indexOf('#', q);
  const queryString = hash < 0 ? url.slice(q) : url.slice(q, hash);
  return { queryString, params: parseQuery(queryString.slice(1)) };
}

function splitUsername(username: string | undefined): { clean: string | undefined; params: URLSearchParams | null } {
  if (username === undefined) return { clean: undefined, params: null };
  const q = username.indexOf('?');
  if (q < 0) return { clean: username, params: null };
  return { clean: username.slice(0, q), params: parseQuery(username.slice(q + 1)) };
}

/** Like URLSearchParams, except that '+' stays '+' (see the file note). */
function parseQuery(query: string): URLSearchParams {
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([decodeComponent(name), decodeComponent(value)]);
  }
  return new URLSearchParams(pairs);
}

function decodeComponent(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
