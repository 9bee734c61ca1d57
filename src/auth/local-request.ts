// The loopback rule: when a caller may use the conveniences meant for this machine (anonymous
// access under `auth.anonymous: loopback`, the admin API and console without signing in).
//
// A loopback peer address alone is not trust. A reverse proxy on the same host connects from
// loopback for every client on the internet; a page on another site opens ws://localhost:8080
// or posts to http://localhost:8080 from the developer's own browser; a DNS-rebinding page
// reaches 127.0.0.1 under its own name. So a request is local only when all of these hold:
//   - the direct peer is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) and the connection
//     did not come through a proxy (no PROXY protocol header, peer not a trusted proxy);
//   - it carries no proxy header (Forwarded, X-Forwarded-For, X-Real-IP, ...; see PROXY_HEADERS);
//   - its Host is a loopback name or address: localhost, *.localhost (RFC 6761 §6.3: always
//     loopback, browsers never ask DNS for them), 127.x.y.z, [::1], with or without a port —
//     a rebinding page's Host is its own name, so it fails here;
//   - its Origin, if any, is a loopback origin (http or https, same host rule, any port).
// MQTT over TCP has no headers: the peer address (after the PROXY protocol) decides.
//
//   local:     peer 127.0.0.1, Host 127.0.0.1:8080, no Origin
//   local:     peer ::1, Host localhost:8080, Origin http://localhost:5173
//   not local: peer 127.0.0.1, Host rebind.evil.example:8080                 (DNS rebinding)
//   not local: peer 127.0.0.1, Host localhost:8080, Origin http://evil.example (cross-site)
//   not local: peer 127.0.0.1, Host app.example.com, X-Forwarded-For: 203.0.113.5 (a proxy)
//   not local: peer 127.0.0.1, Host localhost, Origin null                   (sandboxed page, file:)
import type { IncomingHttpHeaders } from 'node:http';
import { parseIpAddress } from '../policy/ip-address.js';

/**
 * Headers a proxy adds. Any of them means another hop relayed the request, so the loopback peer
 * says nothing about the caller. (A proxy that adds none of them and keeps a loopback Host
 * cannot be told from a local caller: docs/deployment.md says what to set.)
 */
export const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
  'true-client-ip',
  'cf-connecting-ip',
  'x-client-ip',
] as const;

/** 127.0.0.0/8, ::1, and IPv4-mapped 127.x. */
export function isLoopbackAddress(address: string): boolean {
  const parsed = parseIpAddress(address);
  if (parsed === null) return false;
  return parsed.family === 4 ? parsed.value >> 24n === 127n : parsed.value === 1n;
}

/** A host name or address literal (no port, IPv6 without brackets) that always means this machine. */
function isLoopbackName(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return /^[a-z0-9.-]+$/.test(name) && !name.includes('..');
  return isLoopbackAddress(name);
}

/** Splits `host[:port]` / `[v6][:port]`; null when it is not of that shape. */
function splitHostPort(value: string): string | null {
  let host: string;
  let rest: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return null;
    host = value.slice(1, close);
    rest = value.slice(close + 1);
  } else {
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    rest = colon < 0 ? '' : value.slice(colon);
  }
  if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
  return host === '' ? null : host;
}

/** A Host header value naming this machine: localhost[:port], 127.0.0.1[:port], [::1][:port]. */
export function isLoopbackHost(value: string): boolean {
  const host = splitHostPort(value.trim());
  return host !== null && isLoopbackName(host);
}

/** An Origin (RFC 6454 serialisation) on this machine: http(s)://<loopback host>[:port]. */
export function isLoopbackOrigin(value: string): boolean {
  const m = /^https?:\/\/(.+)$/i.exec(value.trim());
  return m !== null && isLoopbackHost(m[1]!);
}

function single(value: string | string[] | undefined): string | undefined {
  // A repeated Host or Origin is ambiguous: treat it as absent-and-wrong (callers fail closed).
  if (Array.isArray(value)) return value.length === 1 ? value[0] : '\0';
  return value;
}

export interface LocalCheck {
  /** The direct peer's address (the socket's, or the PROXY protocol source on TCP). */
  peerAddress: string;
  /** True when a proxy relayed the connection (PROXY protocol, or the peer is a trusted proxy). */
  proxied: boolean;
  /** HTTP request headers; undefined for MQTT over TCP, which has none. */
  headers: IncomingHttpHeaders | undefined;
  /**
   * With headers: the request target and how many Host lines came. An absolute-form target
   * (`GET http://rebind.example/events`) names the host and the Host header must be ignored
   * (RFC 9112 §3.2.2); a repeated Host is ambiguous (Node keeps the first, a proxy may have used
   * another). Browsers send neither to a server: not local. Absent: not checked.
   */
  target?: string;
  hostCount?: number;
}

/** The loopback rule (see the file-top note). */
export function isLocalRequest(check: LocalCheck): boolean {
  if (check.proxied || !isLoopbackAddress(check.peerAddress)) return false;
  const headers = check.headers;
  if (headers === undefined) return true;
  for (const name of PROXY_HEADERS) if (headers[name] !== undefined) return false;
  if (check.target !== undefined && !check.target.startsWith('/')) return false;
  if (check.hostCount !== undefined && check.hostCount !== 1) return false;
  const host = single(headers.host);
  if (host === undefined || !isLoopbackHost(host)) return false;
  const origin = single(headers.origin);
  return origin === undefined || isLoopbackOrigin(origin);
}
