// The JSON over WebSocket protocol's frames (docs/websocket-json.md), parsed apart from acting:
// bytes in -> a validated, typed request or a FrameError with a stable code; the client
// (json-client.ts) acts. Every field is checked for its type, unknown fields are refused (fail
// closed: a misspelt `retian` must not silently publish a non-retained message), and nothing here
// allocates more than the frame it reads.
//
// Client -> server (one JSON object per WebSocket message, text or binary):
//   {"type":"subscribe","filters":["a/+"],"id":1}                 id: optional, any string/number, echoed
//   {"type":"unsubscribe","filters":["a/+"],"id":2}
//   {"type":"publish","topic":"a/b","payload":{"t":21},"id":"p1","retain":false,
//    "contentType":"…","responseTopic":"…","correlationData":"<base64>","userProperties":{"k":"v"}}
//   {"type":"publish","topic":"a/b","payload":"aGk=","encoding":"base64"}
//   {"type":"ping","id":3}
// Invalid: `[]`, `"x"`, `{"type":"publish"}` (no topic), `{"type":"subscribe","filters":"a"}`.
import type { UserProperties } from '../shared/message.js';

export type FrameId = string | number;

export type Request =
  | { type: 'subscribe'; id: FrameId | undefined; filters: string[]; since: SinceMarker | undefined }
  | { type: 'unsubscribe'; id: FrameId | undefined; filters: string[] }
  | { type: 'publish'; id: FrameId | undefined; topic: string; payload: Buffer; retain: boolean; properties: PublishProperties }
  | { type: 'ping'; id: FrameId | undefined };

/** Where a resuming subscriber stopped: the `id` of the last message it received (a history cursor). */
export type SinceMarker = string;

export interface PublishProperties {
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  payloadFormatIndicator?: boolean;
}

export class FrameError extends Error {
  readonly code: FrameErrorCode;
  /** The request's own id when it could be read, so the client can match the error. */
  readonly id: FrameId | undefined;
  constructor(code: FrameErrorCode, message: string, id: FrameId | undefined = undefined) {
    super(message);
    this.code = code;
    this.id = id;
  }
}

/** Stable error codes (docs/websocket-json.md "Errors"). */
export type FrameErrorCode = 'bad-json' | 'bad-frame' | 'unknown-type' | 'bad-field' | 'unknown-field' | 'too-large' | 'not-authorized' | 'invalid-topic' | 'limit' | 'not-connected' | 'not-delivered';

const MAX_ID_LENGTH = 128;
const MAX_FILTERS = 1024;

const FIELDS: Record<Request['type'], ReadonlySet<string>> = {
  subscribe: new Set(['type', 'id', 'filters', 'since']),
  unsubscribe: new Set(['type', 'id', 'filters']),
  publish: new Set(['type', 'id', 'topic', 'payload', 'encoding', 'retain', 'qos', 'contentType', 'responseTopic', 'correlationData', 'userProperties']),
  ping: new Set(['type', 'id']),
};

/** Parses one message from the client. Throws FrameError. */
export function parseRequest(bytes: Buffer): Request {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FrameError('bad-json', `the message is not JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('bad-frame', 'a message must be a JSON object with a "type"');
  }
  const o = value as Record<string, unknown>;
  const id = readId(o.id);
  const type = o.type;
  if (typeof type !== 'string') throw new FrameError('bad-field', '"type" must be a string', id);
  if (!Object.hasOwn(FIELDS, type)) {
    throw new FrameError('unknown-type', `unknown type ${JSON.stringify(type.slice(0, 40))}: expected subscribe, unsubscribe, publish or ping`, id);
  }
  const fields = FIELDS[type as Request['type']];
  for (const key of Object.keys(o)) {
    if (!fields.has(key)) throw new FrameError('unknown-field', `unknown field ${JSON.stringify(key.slice(0, 40))} in ${type}`, id);
  }
  switch (type as Request['type']) {
    case 'subscribe':
      return { type: 'subscribe', id, filters: readFilters(o.filters, id), since: readSince(o.since, id) };
    case 'unsubscribe':
      return { type: 'unsubscribe', id, filters: readFilters(o.filters, id) };
    case 'ping':
      return { type: 'ping', id };
    case 'publish':
      return readPublish(o, id);
  }
}

function readId(raw: unknown): FrameId | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
  if (typeof raw === 'string' && raw.length <= MAX_ID_LENGTH) return raw;
  // The id cannot be echoed, so the error carries none.
  throw new FrameError('bad-field', `"id" must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`);
}

function readFilters(raw: unknown, id: FrameId | undefined): string[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new FrameError('bad-field', '"filters" must be a non-empty array of topic filters', id);
  if (raw.length > MAX_FILTERS) throw new FrameError('limit', `more than ${MAX_FILTERS} filters in one message`, id);
  for (const f of raw) if (typeof f !== 'string') throw new FrameError('bad-field', '"filters" must hold strings only', id);
  return raw as string[];
}

function readSince(raw: unknown, id: FrameId | undefined): SinceMarker | undefined {
  if (raw === undefined) return undefined;
  // A cursor names at most 64 origins of at most 33 characters each (shared/history-id.ts).
  if (typeof raw === 'string' && raw.length <= 2200) return raw;
  throw new FrameError('bad-field', '"since" must be the "id" of a message received before (a string)', id);
}

function readPublish(o: Record<string, unknown>, id: FrameId | undefined): Request {
  const topic = o.topic;
  if (typeof topic !== 'string' || topic === '') throw new FrameError('bad-field', '"topic" must be a non-empty string', id);
  if (o.retain !== undefined && typeof o.retain !== 'boolean') throw new FrameError('bad-field', '"retain" must be true or false', id);
  // QoS 0 only; a publish with an id is acknowledged (docs/websocket-json.md): the field is
  // accepted for clarity when it says 0 or 1.
  if (o.qos !== undefined && o.qos !== 0 && o.qos !== 1) throw new FrameError('bad-field', '"qos" must be 0 or 1', id);
  if (o.qos === 1 && id === undefined) throw new FrameError('bad-field', 'qos 1 needs an "id" to acknowledge', id);
  const properties: PublishProperties = {};
  const payload = readPayload(o, id, properties);
  for (const name of ['contentType', 'responseTopic'] as const) {
    const v = o[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.includes('\u0000') || Buffer.byteLength(v) > 0xffff) throw new FrameError('bad-field', `"${name}" must be a string (at most 65535 bytes, no U+0000)`, id);
    properties[name] = v;
  }
  if (o.correlationData !== undefined) {
    const v = o.correlationData;
    if (typeof v !== 'string' || !BASE64.test(v)) throw new FrameError('bad-field', '"correlationData" must be base64', id);
    const data = Buffer.from(v, 'base64');
    if (data.length > 0xffff) throw new FrameError('bad-field', '"correlationData" is longer than 65535 bytes', id);
    properties.correlationData = data;
  }
  if (o.userProperties !== undefined) properties.userProperties = readUserProperties(o.userProperties, id);
  return { type: 'publish', id, topic, payload, retain: o.retain === true, properties };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The payload: a JSON value is sent as its JSON text (content type application/json unless the
 * client named one), a string as UTF-8 text, or with "encoding":"base64" the decoded bytes.
 */
function readPayload(o: Record<string, unknown>, id: FrameId | undefined, properties: PublishProperties): Buffer {
  const raw = o.payload;
  const encoding = o.encoding;
  if (encoding !== undefined && encoding !== 'json' && encoding !== 'text' && encoding !== 'base64') {
    throw new FrameError('bad-field', '"encoding" must be "json", "text" or "base64"', id);
  }
  if (raw === undefined) {
    if (encoding !== undefined) throw new FrameError('bad-field', '"encoding" without a "payload"', id);
    return EMPTY;
  }
  if (encoding === 'base64' || encoding === 'text') {
    if (typeof raw !== 'string') throw new FrameError('bad-field', `"payload" must be a string with "encoding":"${encoding}"`, id);
    if (encoding === 'base64') {
      if (!BASE64.test(raw)) throw new FrameError('bad-field', '"payload" is not base64', id);
      return Buffer.from(raw, 'base64');
    }
    properties.payloadFormatIndicator = true;
    return Buffer.from(raw, 'utf8');
  }
  if (typeof raw === 'string' && encoding === undefined) {
    properties.payloadFormatIndicator = true;
    return Buffer.from(raw, 'utf8');
  }
  // A JSON value (or a string with "encoding":"json"): serialised once, by the publisher's frame.
  properties.payloadFormatIndicator = true;
  if (o.contentType === undefined) properties.contentType = 'application/json';
  return Buffer.from(JSON.stringify(raw), 'utf8');
}

function readUserProperties(raw: unknown, id: FrameId | undefined): UserProperties {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FrameError('bad-field', '"userProperties" must be an object of name -> string (or array of strings)', id);
  const out: UserProperties = {};
  for (const [name, value] of Object.entries(raw)) {
    const good = (s: unknown) => typeof s === 'string' && !s.includes('\u0000');
    if (name.includes('\u0000') || !(good(value) || (Array.isArray(value) && value.length > 0 && value.every(good)))) {
      throw new FrameError('bad-field', `user property ${JSON.stringify(name.slice(0, 40))} must be a string or a non-empty array of strings`, id);
    }
    out[name] = value as string | string[];
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

// ---- server -> client -----------------------------------------------------------------------------

/** A frame the server sends, serialised once (per connection for replies; per broadcast for messages). */
export function encodeFrame(frame: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(frame), 'utf8');
}

export function errorFrame(code: FrameErrorCode, message: string, id: FrameId | undefined, extra?: Record<string, unknown>): Buffer {
  return encodeFrame({ type: 'error', code, message, ...(id !== undefined ? { id } : {}), ...extra });
}
