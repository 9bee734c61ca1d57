// Reading AWS IoT control-plane requests: restJson1 bodies (JSON objects whose members the
// operation's model names; an unknown member is refused, not ignored) and query parameters.
import { badRequest } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** The body as an object with only `allowed` members; no body is an empty object. */
export function bodyOf(body: unknown, allowed: readonly string[]): JsonObject {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  const object = body as JsonObject;
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) throw badRequest(`unknown member ${key}; this operation accepts ${allowed.join(', ')}`);
  }
  return object;
}

export function optionalString(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${key} must be a string`);
  return value;
}

export function optionalBoolean(object: JsonObject, key: string): boolean | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`${key} must be true or false`);
  return value;
}

/** A boolean query parameter (`true`/`false`); absent: undefined. */
export function queryBoolean(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`${name} must be true or false`);
}

export function queryInteger(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** restJson1 timestamps in a body are epoch seconds. */
export function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/**
 * One page of `items` (sorted by `key`) after the marker, and the marker of the next page. The
 * marker is the base64 of the last key returned (AWS's Marker pattern is base64).
 */
export function page<T>(items: readonly T[], key: (item: T) => string, marker: string | undefined, size: number, descending = false): { items: T[]; next: string | undefined } {
  let start = 0;
  if (marker !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(marker)) throw badRequest('the marker (nextToken) is not one this API returned');
    const after = Buffer.from(marker, 'base64').toString('utf8');
    start = items.findIndex((item) => (descending ? key(item) < after : key(item) > after));
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + size);
  const next = start + size < items.length && slice.length > 0 ? Buffer.from(key(slice[slice.length - 1]!)).toString('base64') : undefined;
  return { items: slice, next };
}
