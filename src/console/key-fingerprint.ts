// What the Authorizers page shows for a token-signing public key instead of its PEM text: the
// SHA-256 fingerprint of the key's DER bytes and, for RSA, the modulus size. Computed here, not
// with crypto.subtle, because browsers offer crypto.subtle only in secure contexts and the console
// may be opened over plain HTTP on a LAN address.
//
// The fingerprint is the one `openssl` prints for the same bytes:
//   openssl pkey -pubin -in key.pem -outform DER | openssl dgst -sha256
// (for a "BEGIN PUBLIC KEY" PEM; a PKCS#1 "BEGIN RSA PUBLIC KEY" PEM is hashed as written).
//
// Valid:   "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A…\n-----END PUBLIC KEY-----\n"
// Invalid: "(withheld: not a PEM public key)", a PEM whose body is not base64 -> null.

export interface KeySummary {
  /** SHA-256 of the DER bytes, 64 lowercase hex digits. */
  sha256: string;
  /** The first 8 bytes as colon-separated hex ("3f:a9:…"): enough to tell keys apart at a glance. */
  short: string;
  /** "RSA 2048-bit", or the PEM label when the key is not RSA or not parsed. */
  kind: string;
}

const PEM = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function summarizeKey(pem: string): KeySummary | null {
  const m = PEM.exec(pem);
  if (!m) return null;
  const label = m[1]!;
  const body = m[2]!.replace(/\s+/g, '');
  if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) return null;
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  const hex = Array.from(sha256(der), (b) => b.toString(16).padStart(2, '0')).join('');
  const bits = rsaModulusBits(der, label === 'RSA PUBLIC KEY');
  return { sha256: hex, short: hex.slice(0, 16).replace(/(..)(?!$)/g, '$1:'), kind: bits ? `RSA ${bits}-bit` : label.toLowerCase() };
}

// ---------- DER (X.690), just enough to find an RSA modulus ----------

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** One tag-length-value at `at`, or null when it does not fit in `limit`. */
function readTlv(der: Uint8Array, at: number, limit: number): Tlv | null {
  if (at + 2 > limit) return null;
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  return start + len <= limit ? { tag, start, end: start + len } : null;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
/** 1.2.840.113549.1.1.1 (rsaEncryption), DER-encoded OID contents. */
const RSA_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/**
 * Bits in the modulus of an RSA key: `RSAPublicKey ::= SEQUENCE { modulus INTEGER, ... }` (RFC
 * 8017 A.1.1), either bare (PKCS#1) or inside `SubjectPublicKeyInfo` (RFC 5280 4.1) as the
 * BIT STRING of an rsaEncryption key. Null for anything else.
 */
function rsaModulusBits(der: Uint8Array, pkcs1: boolean): number | null {
  let rsaKey: Tlv | null;
  if (pkcs1) {
    rsaKey = readTlv(der, 0, der.length);
  } else {
    const spki = readTlv(der, 0, der.length);
    if (!spki || spki.tag !== SEQUENCE) return null;
    const alg = readTlv(der, spki.start, spki.end);
    if (!alg || alg.tag !== SEQUENCE) return null;
    const oid = readTlv(der, alg.start, alg.end);
    if (!oid || oid.end - oid.start !== RSA_OID.length || RSA_OID.some((b, i) => der[oid.start + i] !== b)) return null;
    const bits = readTlv(der, alg.end, spki.end);
    // The BIT STRING's first content byte counts unused bits: 0 for a DER-encoded key.
    if (!bits || bits.tag !== BIT_STRING || der[bits.start] !== 0) return null;
    rsaKey = readTlv(der, bits.start + 1, bits.end);
  }
  if (!rsaKey || rsaKey.tag !== SEQUENCE) return null;
  const n = readTlv(der, rsaKey.start, rsaKey.end);
  if (!n || n.tag !== INTEGER) return null;
  let i = n.start;
  while (i < n.end && der[i] === 0) i++;
  if (i === n.end) return null;
  return (n.end - i) * 8 - Math.clz32(der[i]!) + 24;
}

// ---------- SHA-256 (FIPS 180-4) ----------

const PRIMES = (() => {
  const out: number[] = [];
  for (let p = 2; out.length < 64; p++) if (out.every((q) => p % q !== 0)) out.push(p);
  return out;
})();
/** The first 32 bits of the fractional parts of the primes' roots (FIPS 180-4 4.2.2, 5.3.3). */
const frac32 = (x: number) => ((x - Math.floor(x)) * 2 ** 32) >>> 0;
const K = Uint32Array.from(PRIMES, (p) => frac32(Math.cbrt(p)));
const H0 = Uint32Array.from(PRIMES.slice(0, 8), (p) => frac32(Math.sqrt(p)));

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

export function sha256(data: Uint8Array): Uint8Array {
  // Padding: 0x80, zeros, then the length in bits as a 64-bit big-endian number (5.1.1).
  const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(data.length / 2 ** 29));
  view.setUint32(padded.length - 4, (data.length * 8) >>> 0);
  const hash = H0.slice();
  const w = new Uint32Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15]!;
      const b = w[t - 2]!;
      w[t] = w[t - 16]! + (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + w[t - 7]! + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10));
    }
    let a = hash[0]!;
    let b = hash[1]!;
    let c = hash[2]!;
    let d = hash[3]!;
    let e = hash[4]!;
    let f = hash[5]!;
    let g = hash[6]!;
    let h = hash[7]!;
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    // Uint32Array stores each sum modulo 2^32.
    [a, b, c, d, e, f, g, h].forEach((v, i) => (hash[i] = hash[i]! + v));
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, hash[i]!);
  return out;
}
