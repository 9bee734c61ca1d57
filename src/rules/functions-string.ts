/**
 * String, regex, encoding and hashing functions (iot-sql-functions.md). Non-string arguments
 * go through the standard conversion to String: numbers and Booleans as text, Arrays and
 * Objects as JSON, Null and Undefined do not convert (the result is Undefined).
 */
import { createHash } from 'node:crypto';

import { literalArg, type CallSite, type FunctionSpec, type FunctionTable } from './function-types.js';
import { compileJavaRegex, parseJavaReplacement, RegexCache, replaceAll, type CompiledRegex } from './regex.js';
import { isOutputValue, toDecimal, toInt, toStr } from './values.js';

function stringUnary(f: (s: string) => unknown): FunctionSpec {
  return {
    min: 1,
    max: 1,
    impl: (args) => {
      const s = toStr(args[0]);
      return s === undefined ? undefined : f(s);
    },
  };
}

function stringBinary(f: (a: string, b: string) => unknown): FunctionSpec {
  return {
    min: 2,
    max: 2,
    impl: (args) => {
      const a = toStr(args[0]);
      const b = toStr(args[1]);
      return a === undefined || b === undefined ? undefined : f(a, b);
    },
  };
}

// Java String.trim() removes code points <= U+0020; ltrim/rtrim: "tabs and spaces".
const TRIM = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g;
const LTRIM = /^[ \t]+/;
const RTRIM = /[ \t]+$/;

/** lpad/rpad count: Int or Decimal rounded down, or a numeric String; clamped to 0..1000. */
function padCount(v: unknown): number | undefined {
  if (typeof v !== 'number' && typeof v !== 'string') return undefined;
  const d = toDecimal(v);
  return d === undefined ? undefined : Math.min(1000, Math.max(0, Math.floor(d)));
}

function pad(left: boolean): FunctionSpec {
  return {
    min: 2,
    max: 2,
    impl: (args) => {
      const s = toStr(args[0]);
      const n = padCount(args[1]);
      if (s === undefined || n === undefined) return undefined;
      return left ? ' '.repeat(n) + s : s + ' '.repeat(n);
    },
  };
}

/**
 * concat(): no arguments is Undefined; one is returned unmodified; with an Array among them
 * the result is one array of all arguments (arrays spliced in); otherwise, with a String
 * among them, the concatenated String forms; otherwise Undefined.
 */
function concat(args: readonly unknown[]): unknown {
  const n = args.length;
  if (n === 0) return undefined;
  if (n === 1) return args[0];
  let anyArray = false;
  let anyString = false;
  for (const a of args) {
    if (Array.isArray(a)) anyArray = true;
    else if (typeof a === 'string') anyString = true;
  }
  if (anyArray) {
    const out: unknown[] = [];
    for (const a of args) {
      if (Array.isArray(a)) for (const x of a) out.push(x);
      else if (isOutputValue(a)) out.push(a);
    }
    return out;
  }
  if (!anyString) return undefined;
  let s = '';
  for (const a of args) {
    const t = toStr(a);
    if (t === undefined) return undefined;
    s += t;
  }
  return s;
}

/**
 * substring(String, Int[, Int]): 0-based, end exclusive; indices below 0 become 0 and above
 * the length become the length; start >= end gives "". Indices convert like Ints
 * (`substring("012345", 2.745)` = "2345").
 */
function substring(args: readonly unknown[]): unknown {
  const s = toStr(args[0]);
  const from = toInt(args[1]);
  if (s === undefined || from === undefined) return undefined;
  const len = s.length;
  const start = Math.min(len, Math.max(0, from));
  if (args.length < 3) return s.slice(start);
  const to = toInt(args[2]);
  if (to === undefined) return undefined;
  const end = Math.min(len, Math.max(0, to));
  return start >= end ? '' : s.slice(start, end);
}

/** The pattern argument at `i`: compiled once when it is a literal, else through a small cache. */
function patternOf(site: CallSite, i: number): (v: unknown) => CompiledRegex | undefined {
  const lit = literalArg(site, i);
  if (lit) {
    const text = toStr(lit.value);
    const re = text === undefined ? undefined : compileJavaRegex(text);
    return () => re;
  }
  const cache = new RegexCache();
  return (v) => {
    const text = toStr(v);
    return text === undefined ? undefined : cache.get(text);
  };
}

const regexpMatches: FunctionSpec = {
  min: 2,
  max: 2,
  compile(site) {
    const subject = site.arg(0);
    const pattern = site.arg(1);
    const regexOf = patternOf(site, 1);
    return (ctx) => {
      const s = toStr(subject(ctx));
      const re = regexOf(pattern(ctx));
      return s === undefined || re === undefined ? undefined : re.find.test(s);
    };
  },
};

const regexpSubstr: FunctionSpec = {
  min: 2,
  max: 2,
  compile(site) {
    const subject = site.arg(0);
    const pattern = site.arg(1);
    const regexOf = patternOf(site, 1);
    // No match: Undefined (the docs leave it open).
    return (ctx) => {
      const s = toStr(subject(ctx));
      const re = regexOf(pattern(ctx));
      return s === undefined || re === undefined ? undefined : re.find.exec(s)?.[0];
    };
  },
};

const regexpReplace: FunctionSpec = {
  min: 3,
  max: 3,
  compile(site) {
    const subject = site.arg(0);
    const pattern = site.arg(1);
    const replacement = site.arg(2);
    const regexOf = patternOf(site, 1);
    return (ctx) => {
      const s = toStr(subject(ctx));
      const re = regexOf(pattern(ctx));
      const r = toStr(replacement(ctx));
      if (s === undefined || re === undefined || r === undefined) return undefined;
      const parts = parseJavaReplacement(r, re);
      return parts === undefined ? undefined : replaceAll(s, re, parts);
    };
  },
};

/** The encoding scheme argument must be the literal 'base64' (the docs: "a literal string"). */
function checkScheme(site: CallSite, fn: string): void {
  const scheme = literalArg(site, 1);
  const pos = site.args[1]!.pos;
  if (!scheme || typeof scheme.value !== 'string') {
    throw site.error(pos, 'SQL_INVALID_ARGUMENT', `${fn}() takes the encoding scheme as a literal string such as 'base64'`);
  }
  const v = scheme.value.toLowerCase();
  if (v === 'proto' && fn === 'decode') {
    throw site.error(pos, 'SQL_UNSUPPORTED_FUNCTION', "decode(value, 'proto', ...) needs protobuf descriptors from S3; only 'base64' is supported");
  }
  if (v !== 'base64') throw site.error(pos, 'SQL_INVALID_ARGUMENT', `unsupported scheme '${scheme.value}'; only 'base64' is supported`);
}

/**
 * encode(value, 'base64'): `*` encodes the raw payload bytes whatever their format; any
 * other expression is converted to a String first (UTF-8).
 */
const encode: FunctionSpec = {
  min: 2,
  max: 2,
  since: '2016-03-23',
  compile(site) {
    checkScheme(site, 'encode');
    if (site.args[0]!.kind === 'wildcard' && site.topLevel) return (ctx) => ctx.input.payload.toString('base64');
    const value = site.arg(0);
    return (ctx) => {
      const v = value(ctx);
      if (Buffer.isBuffer(v)) return v.toString('base64');
      const s = toStr(v);
      return s === undefined ? undefined : Buffer.from(s, 'utf8').toString('base64');
    };
  },
};

// Java's basic Base64 decoder: the standard alphabet, padding optional, nothing else.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * decode(value, 'base64'): a decoded JSON text becomes an addressable value, anything else
 * the decoded string; Null when the input is not valid base64 (iot-sql-functions.md:
 * "The function returns NULL if the string cannot be decoded").
 */
export function decodeBase64(v: unknown): unknown {
  const text = Buffer.isBuffer(v) ? v.toString('latin1') : typeof v === 'string' ? v : undefined;
  if (text === undefined) return undefined;
  const body = text.replace(/=+$/, '');
  const padded = text.length !== body.length;
  if (!BASE64.test(text) || body.length % 4 === 1 || (padded && text.length % 4 !== 0)) return null;
  const decoded = Buffer.from(body, 'base64').toString('utf8');
  try {
    return JSON.parse(decoded) as unknown;
  } catch {
    return decoded;
  }
}

const decode: FunctionSpec = {
  min: 2,
  max: 6,
  since: '2016-03-23',
  compile(site) {
    checkScheme(site, 'decode');
    if (site.args.length !== 2) throw site.error(site.pos, 'SQL_WRONG_ARITY', "decode(value, 'base64') takes 2 arguments");
    const value = site.arg(0);
    return (ctx) => decodeBase64(value(ctx));
  },
};

/** Hash of the String form (UTF-8), or of the raw bytes for `*` on a non-JSON payload; lower-case hex. */
function hash(algorithm: string): FunctionSpec {
  return {
    min: 1,
    max: 1,
    impl: (args) => {
      const v = args[0];
      if (Buffer.isBuffer(v)) return createHash(algorithm).update(v).digest('hex');
      const s = toStr(v);
      return s === undefined ? undefined : createHash(algorithm).update(s, 'utf8').digest('hex');
    },
  };
}

export const STRING_FUNCTIONS: FunctionTable = {
  concat: { min: 0, max: Infinity, impl: concat },
  lower: stringUnary((s) => s.toLowerCase()),
  upper: stringUnary((s) => s.toUpperCase()),
  length: { ...stringUnary((s) => s.length), since: '2016-03-23' },
  numbytes: { ...stringUnary((s) => Buffer.byteLength(s, 'utf8')), since: '2016-03-23' },
  trim: stringUnary((s) => s.replace(TRIM, '')),
  ltrim: stringUnary((s) => s.replace(LTRIM, '')),
  rtrim: stringUnary((s) => s.replace(RTRIM, '')),
  lpad: pad(true),
  rpad: pad(false),
  substring: { min: 2, max: 3, impl: substring },
  replace: {
    min: 3,
    max: 3,
    impl: (args) => {
      const s = toStr(args[0]);
      const from = toStr(args[1]);
      const to = toStr(args[2]);
      if (s === undefined || from === undefined || to === undefined) return undefined;
      return s.replaceAll(from, () => to); // a function, so `$` in the replacement is literal
    },
  },
  startswith: stringBinary((a, b) => a.startsWith(b)),
  endswith: stringBinary((a, b) => a.endsWith(b)),
  indexof: { ...stringBinary((a, b) => a.indexOf(b)), since: '2016-03-23' },
  chr: {
    min: 1,
    max: 1,
    impl: (args) => {
      const d = toDecimal(args[0]);
      if (d === undefined) return undefined;
      const code = Math.floor(d);
      return code >= 0 && code <= 127 ? String.fromCharCode(code) : undefined;
    },
  },
  regexp_matches: regexpMatches,
  regexp_replace: regexpReplace,
  regexp_substr: regexpSubstr,
  encode,
  decode,
  md5: hash('md5'),
  sha1: hash('sha1'),
  sha224: hash('sha224'),
  sha256: hash('sha256'),
  sha384: hash('sha384'),
  sha512: hash('sha512'),
};
