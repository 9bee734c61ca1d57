/**
 * IP addresses and CIDR blocks for the `IpAddress` / `NotIpAddress` condition operators
 * (IAM reference_policies_elements_condition_operators.md: values are RFC 4632 CIDR
 * blocks; a bare address means a single host).
 *
 *   `10.20.0.0/16` contains `10.20.31.4`, not `10.21.0.4`
 *   `203.0.113.7` is `203.0.113.7/32`;  `2001:db8::/32` contains `2001:db8::1`
 *   `::ffff:10.20.31.4` is treated as the IPv4 address `10.20.31.4`
 *
 * Host bits set in a block (`10.20.1.0/16`) are ignored, as a mask would.
 * Parsed once per policy; comparison is two shifts on a bigint.
 */

export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface CidrBlock {
  readonly family: 4 | 6;
  /** The network, already shifted right by (width - prefix). */
  readonly network: bigint;
  readonly shift: bigint;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): bigint | null {
  const m = IPV4.exec(text);
  if (m === null) return null;
  let value = 0n;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    // Leading zeros are ambiguous (octal in some parsers); refuse them rather than guess.
    if (part.length > 1 && part.startsWith('0')) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  if (text.includes('%')) return null; // zone ids have no meaning in a policy
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  const words: number[] = [];
  const all = [...head, ...(halves.length === 2 ? ['::'] : []), ...tail];
  for (let i = 0; i < all.length; i++) {
    const g = all[i] as string;
    if (g === '::') {
      words.push(-1); // placeholder for the run of zeros
      continue;
    }
    if (i === all.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (v4 === null) return null;
      words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const gap = words.indexOf(-1);
  if (gap >= 0) {
    const fill = 8 - (words.length - 1);
    if (fill < 1) return null;
    words.splice(gap, 1, ...new Array<number>(fill).fill(0));
  }
  if (words.length !== 8) return null;
  let value = 0n;
  for (const w of words) value = (value << 16n) | BigInt(w);
  return value;
}

export function parseIpAddress(text: string): IpAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, value: v4 };
  if (!text.includes(':')) return null;
  const v6 = parseIpv6(text);
  if (v6 === null) return null;
  // IPv4-mapped (::ffff:0:0/96): the same host as its IPv4 form.
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf('/');
  const address = parseIpAddress(slash < 0 ? text : text.slice(0, slash));
  if (address === null) return null;
  const width = address.family === 4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    // An IPv4-mapped block is written with an IPv6 prefix length.
    if (address.family === 4 && text.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > width) return null;
  }
  const shift = BigInt(width - prefix);
  return { family: address.family, network: address.value >> shift, shift };
}

export function cidrContains(block: CidrBlock, address: IpAddress): boolean {
  return block.family === address.family && address.value >> block.shift === block.network;
}
