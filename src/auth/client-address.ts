// Who the client is when a reverse proxy relays it: `listeners.http.trustedProxies`.
//
// The forwarded header is believed only when the direct peer is a trusted proxy, and then only
// as far as the chain of trusted proxies goes: walking the header from the right (the entry the
// proxy next to us wrote), each trusted address is skipped and the first untrusted one is the
// client. Entries further left were written by the client or by hops we do not trust, so they
// could say anything (RFC 7239 §8.1; the same rule as nginx's real_ip_recursive).
//
//   trusted 127.0.0.1/32, peer 127.0.0.1, X-Forwarded-For: 198.51.100.9, 203.0.113.5 -> 203.0.113.5
//   trusted 127.0.0.1/32, 10.0.0.0/8, peer 127.0.0.1, XFF: 203.0.113.5, 10.1.2.3     -> 203.0.113.5
//   trusted 127.0.0.1/32, peer 192.0.2.7, XFF: 203.0.113.5                          -> 192.0.2.7 (ignored)
//   trusted 127.0.0.1/32, peer 127.0.0.1, no header                                 -> 127.0.0.1
//   Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"                  -> 2001:db8::1
//
// Only one header is read, the one the proxy writes (`clientAddressHeader`): a proxy that
// appends to X-Forwarded-For passes a client's own `Forwarded: for=...` through untouched, so
// reading both would let the client choose its address.
import type { IncomingHttpHeaders } from 'node:http';
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock } from '../policy/ip-address.js';

export type ClientAddressHeader = 'x-forwarded-for' | 'forwarded';

/** A hop whose entry cannot be read (`unknown`, an obfuscated name, garbage): matched by no IpAddress condition. */
export const UNKNOWN_ADDRESS = 'unknown';

export class TrustedProxies {
  private readonly blocks: CidrBlock[];

  /** Throws naming the first entry that is not an address or CIDR block. */
  constructor(cidrs: readonly string[]) {
    this.blocks = cidrs.map((text) => {
      const block = parseCidr(text.trim());
      if (block === null) throw new Error(`${text} is not an IP address or CIDR block`);
      return block;
    });
  }

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  contains(address: string): boolean {
    if (this.blocks.length === 0) return false;
    const parsed = parseIpAddress(address);
    return parsed !== null && this.blocks.some((b) => cidrContains(b, parsed));
  }
}

export interface ClientAddress {
  /** The client's address: the direct peer's, or the one a trusted proxy forwarded. */
  address: string;
  /** The direct peer, when it is a trusted proxy (then nothing it relays is local). */
  proxiedBy: string | undefined;
}

/** `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`, `"[::1]"` -> the address; null when it is none. */
export function parseHop(text: string): string | null {
  let t = text.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0 || !/^(:\d{1,5})?$/.test(t.slice(close + 1))) return null;
    t = t.slice(1, close);
  } else if (/^[\d.]+:\d{1,5}$/.test(t)) {
    t = t.slice(0, t.indexOf(':'));
  }
  const parsed = parseIpAddress(t);
  if (parsed === null) return null;
  // One spelling per host: IPv4-mapped addresses as IPv4, as the sockets report them here.
  return t.toLowerCase().startsWith('::ffff:') && parsed.family === 4 ? t.slice(7) : t;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The `for=` values of a Forwarded header, left to right (RFC 7239 §4). */
export function forwardedFor(value: string): string[] {
  const out: string[] = [];
  // Elements are comma-separated, pairs semicolon-separated; quoted values hold no comma that
  // matters here (an IPv6 literal with a port is quoted and has none).
  for (const element of value.split(',')) {
    let found: string | undefined;
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() === 'for') found = pair.slice(eq + 1).trim();
    }
    // An element without for= still is a hop: it cannot be read.
    out.push(found ?? '');
  }
  return out;
}

/** The client address for a request whose direct peer is `peer` (see the file-top note). */
export function resolveClientAddress(
  peer: string,
  headers: IncomingHttpHeaders | undefined,
  trusted: TrustedProxies,
  header: ClientAddressHeader = 'x-forwarded-for',
): ClientAddress {
  if (!trusted.contains(peer)) return { address: peer, proxiedBy: undefined };
  const raw = headers === undefined ? undefined : headerText(headers[header]);
  if (raw === undefined || raw.trim() === '') return { address: peer, proxiedBy: peer };
  const hops = header === 'forwarded' ? forwardedFor(raw) : raw.split(',');
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseHop(hops[i]!);
    if (hop === null) return { address: UNKNOWN_ADDRESS, proxiedBy: peer };
    address = hop;
    if (!trusted.contains(hop)) break;
  }
  return { address, proxiedBy: peer };
}
