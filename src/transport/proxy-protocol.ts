// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a header a load balancer
// sends before the client's own bytes, naming the client's address. Pure: bytes in, a verdict
// out; tcp.ts reads the header from trusted senders before MQTT sees anything.
//
// v1 (text), at most 107 bytes with its CRLF:
//   "PROXY TCP4 203.0.113.5 192.0.2.1 56324 1883\r\n"     -> source 203.0.113.5:56324
//   "PROXY TCP6 2001:db8::5 2001:db8::1 56324 1883\r\n"   -> source 2001:db8::5:56324
//   "PROXY UNKNOWN\r\n"                                    -> no source (the proxy's own connection)
// v2 (binary): the 12-byte signature, version/command, family/protocol, a 16-bit length, then
// the addresses (IPv4: 12 bytes, IPv6: 36) and TLVs, which are skipped. LOCAL (a health check
// by the proxy itself) and non-IP families carry no client address.
//
// Refused (the connection is closed): anything else — a wrong signature, a v1 line without CRLF
// within 107 bytes, malformed or out-of-range addresses and ports, a v2 version other than 2, a
// command other than LOCAL/PROXY, a declared length over MAX_V2_PAYLOAD or shorter than its
// address block.
import { isIPv4, isIPv6 } from 'node:net';

export const V1_MAX_BYTES = 107;
/** v2 payload (addresses + TLVs) we accept; AWS NLB and HAProxy send far less. */
export const MAX_V2_PAYLOAD = 1024;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');

export interface ProxySource {
  address: string;
  port: number;
  /** The address and port the client connected to at the proxy (GetConnection's targetIp/targetPort). */
  destination: { address: string; port: number };
}

export type ProxyHeaderResult =
  /** More bytes are needed (never more than V1_MAX_BYTES or 16 + MAX_V2_PAYLOAD in all). */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** `consumed` bytes were the header; `source` is null when it names no client (LOCAL, UNKNOWN). */
  | { kind: 'header'; consumed: number; source: ProxySource | null };

const INCOMPLETE: ProxyHeaderResult = { kind: 'incomplete' };
const invalid = (reason: string): ProxyHeaderResult => ({ kind: 'invalid', reason });

/** The most bytes a header can take: a reader that has this many without an answer has a bug. */
export const MAX_HEADER_BYTES = 16 + MAX_V2_PAYLOAD;

/**
 * The first byte of a v1 ('P') or v2 (CR) header. Neither starts an MQTT packet a client may send
 * first (CONNECT is 0x10 [MQTT-3.1.0-1]), so a listener can tell a header apart at once.
 */
export function looksLikeProxyHeader(chunk: Buffer): boolean {
  return chunk.length > 0 && (chunk[0] === V1_PREFIX[0] || chunk[0] === V2_SIGNATURE[0]);
}

/** Parses a PROXY header at the start of `buf` (everything received so far). */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  return invalid('no PROXY protocol header');
}

function startsWithPrefix(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function parsePort(text: string): number | null {
  // Decimal without leading zeros (the spec's wording), 0-65535.
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  if (!startsWithPrefix(buf, V1_PREFIX)) return invalid('not a PROXY protocol v1 header');
  const window = buf.subarray(0, V1_MAX_BYTES);
  const cr = window.indexOf('\r\n');
  if (cr < 0) return buf.length >= V1_MAX_BYTES ? invalid('v1 header longer than 107 bytes') : INCOMPLETE;
  const line = window.subarray(0, cr).toString('latin1');
  const consumed = cr + 2;
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'header', consumed, source: null };
  if (parts.length !== 6) return invalid('v1 header does not have 6 fields');
  const [, family, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : null;
  if (valid === null) return invalid(`v1 protocol ${family} is not TCP4, TCP6 or UNKNOWN`);
  // net.isIPv4 refuses leading zeros and out-of-range octets; TCP6 takes no zone id.
  if (!valid(src) || !valid(dst) || src.includes('%') || dst.includes('%')) return invalid('v1 header has a malformed address');
  const port = parsePort(sport);
  if (port === null || parsePort(dport) === null) return invalid('v1 header has a malformed port');
  const norm = (a: string) => (family === 'TCP6' ? mappedToV4(a.toLowerCase()) : a);
  return { kind: 'header', consumed, source: { address: norm(src), port, destination: { address: norm(dst), port: parsePort(dport)! } } };
}

function mappedToV4(address: string): string {
  // The sockets report IPv4-mapped peers as IPv4 here; so does the PROXY source.
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  return m ? m[1]! : address;
}

function ipv6Text(b: Buffer): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  // Longest run of zero words (length >= 2) becomes '::' (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  if (!startsWithPrefix(buf, V2_SIGNATURE)) return invalid('not a PROXY protocol v2 signature');
  if (buf.length < 16) return INCOMPLETE;
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`v2 header version ${versionCommand >> 4} is not 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 command ${command} is not LOCAL or PROXY`);
  const length = buf.readUInt16BE(14);
  if (length > MAX_V2_PAYLOAD) return invalid(`v2 header of ${length} bytes is over the ${MAX_V2_PAYLOAD}-byte limit`);
  if (buf.length < 16 + length) return INCOMPLETE;
  const consumed = 16 + length;
  // LOCAL: the proxy's own connection (health check); the addresses, if any, are to be ignored.
  if (command === 0) return { kind: 'header', consumed, source: null };
  const family = buf[13]! >> 4;
  const body = buf.subarray(16, consumed);
  if (family === 1) {
    if (length < 12) return invalid('v2 IPv4 address block is short');
    const address = `${body[0]}.${body[1]}.${body[2]}.${body[3]}`;
    const destination = { address: `${body[4]}.${body[5]}.${body[6]}.${body[7]}`, port: body.readUInt16BE(10) };
    return { kind: 'header', consumed, source: { address, port: body.readUInt16BE(8), destination } };
  }
  if (family === 2) {
    if (length < 36) return invalid('v2 IPv6 address block is short');
    // IPv4-mapped (::ffff:a.b.c.d): reported as IPv4, as the sockets do.
    const text = (raw: Buffer) => {
      const mapped = raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff;
      return mapped ? `${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}` : ipv6Text(raw);
    };
    const destination = { address: text(body.subarray(16, 32)), port: body.readUInt16BE(34) };
    return { kind: 'header', consumed, source: { address: text(body.subarray(0, 16)), port: body.readUInt16BE(32), destination } };
  }
  // UNSPEC or UNIX: no IP address to report; the connection stays the proxy's.
  if (family === 0 || family === 3) return { kind: 'header', consumed, source: null };
  return invalid(`v2 address family ${family} is unknown`);
}
