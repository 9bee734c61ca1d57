/**
 * SQL values and the standard conversions (iot-sql-data-types.md).
 *
 * Values are plain JavaScript values, so a parsed payload is used as it is:
 *
 *   SQL type    JavaScript
 *   Undefined   undefined            (a missing field, a failed conversion, a bad argument)
 *   Null        null
 *   Boolean     boolean
 *   Int         number, Number.isInteger
 *   Decimal     number, not an integer
 *   String      string
 *   Array       Array (never holding undefined)
 *   Object      plain object (never holding undefined)
 *   (binary)    Buffer: the raw payload `*` of a non-JSON message
 *
 * Int versus Decimal by integrality is exactly SQL version 2016-03-23's rule ("numeric values
 * that are whole numbers, such as 10.0, are processed as an Int"). Numbers are IEEE doubles,
 * not AWS's 34-digit decimals: integers beyond 2^53 lose precision (a documented limitation).
 * No operation yields NaN or an infinity: such results become Undefined.
 */

export type Row = Record<string, unknown>;

/** A JSON object (not an array, null or Buffer). */
export function isObject(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Own property lookup; `__proto__`, `constructor` and friends are ordinary keys here. */
export function getField(v: unknown, name: string): unknown {
  return isObject(v) && Object.hasOwn(v, name) ? v[name] : undefined;
}

/** Assignment that treats `__proto__` as an ordinary key, as JSON does. */
export function setKey(obj: Row, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Shallow copy of an object's own enumerable keys into `target`. */
export function copyInto(target: Row, source: Row): void {
  for (const key of Object.keys(source)) setKey(target, key, source[key]);
}

// iot-sql-data-types.md "To decimal": strings matching ^-?\d+(\.\d+)?((?i)E-?\d+)?$ convert.
const DECIMAL_STRING = /^-?\d+(\.\d+)?([eE]-?\d+)?$/;

/** Undefined for a result that is not a finite number; -0 becomes 0. */
export function num(n: number): number | undefined {
  if (!Number.isFinite(n)) return undefined;
  return n === 0 ? 0 : n;
}

/** Standard conversion to Decimal: numbers as they are, numeric strings parsed, else Undefined. */
export function toDecimal(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && DECIMAL_STRING.test(v)) return num(Number(v));
  return undefined;
}

/**
 * Standard conversion to Int: numbers and numeric strings, truncated toward zero. The table
 * says a Decimal is "rounded to the nearest Int", but the substring() examples
 * (`substring("012345", 2.745)` = "2345") truncate, so we truncate.
 */
export function toInt(v: unknown): number | undefined {
  const d = toDecimal(v);
  return d === undefined ? undefined : num(Math.trunc(d));
}

/** Standard conversion to Boolean: booleans, and the strings "true"/"false" in any case. */
export function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (v.length === 4 && v.toLowerCase() === 'true') return true;
    if (v.length === 5 && v.toLowerCase() === 'false') return false;
  }
  return undefined;
}

/**
 * Decimal to text. "Possibly in scientific notation" (data types page): JavaScript's shortest
 * round-trip form, with Java's upper-case exponent (`1E+21`, `5E-7`).
 */
export function formatNumber(n: number): string {
  const s = String(n);
  return s.includes('e') ? s.toUpperCase() : s;
}

/** JSON text of a value; Buffers (which JSON cannot hold) are left out like Undefined. */
export function toJsonText(v: unknown): string {
  return JSON.stringify(v, jsonReplacer);
}

function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify applies Buffer#toJSON before the replacer, so look at the holder's own value.
  return Buffer.isBuffer((this as Record<string, unknown>)[key]) ? undefined : value;
}

/**
 * Standard conversion to String: arrays and objects as compact JSON; Null and Undefined (and
 * raw bytes) do not convert.
 */
export function toStr(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return formatNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null || Buffer.isBuffer(v)) return undefined;
      return toJsonText(v);
    default:
      return undefined;
  }
}

/**
 * The `=` operator (iot-sql-operators.md): Undefined on either side gives Undefined; numbers
 * compare numerically (Int converts to Decimal), strings, booleans, Null with Null, arrays
 * item by item in order, objects key by key in any order; mismatched types are not equal.
 */
export function sqlEquals(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined;
  return deepEqual(a, b);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(b) || Buffer.isBuffer(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !deepEqual((a as Row)[k], (b as Row)[k])) return false;
  }
  return true;
}

/** `v` as a plain JSON value for output: a fresh array or object never holds undefined. */
export function isOutputValue(v: unknown): boolean {
  return v !== undefined && !Buffer.isBuffer(v);
}
