// What travels between nodes on Redis pub/sub. Every node listens on its own channel
// ({prefix}node:{id}) and on one shared channel ({prefix}all). A frame is a Buffer whose first
// byte says what it is:
//   1 message, best effort (QoS 0):   [1][origin][header][payload]
//   2 message, reliable (QoS 1/2):    [2][origin][seq: f64][header][payload]
//   3 control (JSON):                 [3][JSON text]
// where [origin] is a length byte and the sending node's id, and [header] a 4-byte length and the
// message's fields as JSON (properties as in the stores, so user-property order survives). The
// payload stays binary and is never copied into the JSON.
import type { Message } from '../broker/message.js';
import { decodeProperties, encodeProperties } from '../store/sqlite-codec.js';

export const FRAME_MESSAGE = 1;
export const FRAME_RELIABLE = 2;
export const FRAME_CONTROL = 3;

export interface ForwardedMessage {
  origin: string;
  /** 0 for best-effort frames. */
  seq: number;
  message: Message;
  /** Shared-subscription groups ("group\u0000filter") the receiving node delivers to. */
  groups: string[];
}

interface Header {
  t: string;
  q: 0 | 1 | 2;
  r: 0 | 1;
  p: string | null;
  e: number;
  i?: string;
  a?: number;
  n?: string;
  g?: string[];
}

export function encodeMessageFrame(origin: string, seq: number, message: Message, groups: readonly string[]): Buffer {
  const header: Header = {
    t: message.topic,
    q: message.qos,
    r: message.retain ? 1 : 0,
    p: encodeProperties(message.properties),
    e: message.expiresAt,
  };
  if (message.publisherId !== undefined) header.i = message.publisherId;
  if (message.receivedAt !== undefined) header.a = message.receivedAt;
  if (message.principal !== undefined) header.n = message.principal;
  if (groups.length > 0) header.g = [...groups];
  const headerBytes = Buffer.from(JSON.stringify(header));
  const originBytes = Buffer.from(origin);
  const reliable = seq > 0;
  const fixed = 1 + 1 + originBytes.length + (reliable ? 8 : 0) + 4;
  const out = Buffer.allocUnsafe(fixed + headerBytes.length + message.payload.length);
  let at = 0;
  out[at++] = reliable ? FRAME_RELIABLE : FRAME_MESSAGE;
  out[at++] = originBytes.length;
  originBytes.copy(out, at);
  at += originBytes.length;
  if (reliable) {
    out.writeDoubleBE(seq, at);
    at += 8;
  }
  out.writeUInt32BE(headerBytes.length, at);
  at += 4;
  headerBytes.copy(out, at);
  at += headerBytes.length;
  message.payload.copy(out, at);
  return out;
}

/** Throws on a frame that is not a message frame or is cut short. */
export function decodeMessageFrame(frame: Buffer): ForwardedMessage {
  const kind = frame[0];
  if (kind !== FRAME_MESSAGE && kind !== FRAME_RELIABLE) throw new Error(`not a message frame (${kind})`);
  let at = 1;
  const originLength = frame[at++]!;
  const origin = frame.toString('utf8', at, at + originLength);
  at += originLength;
  let seq = 0;
  if (kind === FRAME_RELIABLE) {
    seq = frame.readDoubleBE(at);
    at += 8;
  }
  const headerLength = frame.readUInt32BE(at);
  at += 4;
  if (at + headerLength > frame.length) throw new Error('message frame cut short');
  const header = JSON.parse(frame.toString('utf8', at, at + headerLength)) as Header;
  at += headerLength;
  const message: Message = {
    topic: header.t,
    payload: frame.subarray(at),
    qos: header.q,
    retain: header.r === 1,
    properties: decodeProperties(header.p),
    expiresAt: header.e,
    publisherId: header.i,
    ...(header.a !== undefined ? { receivedAt: header.a } : {}),
    ...(header.n !== undefined ? { principal: header.n } : {}),
  };
  return { origin, seq, message, groups: header.g ?? [] };
}

export function encodeControlFrame(control: object): Buffer {
  const text = Buffer.from(JSON.stringify(control));
  const out = Buffer.allocUnsafe(1 + text.length);
  out[0] = FRAME_CONTROL;
  text.copy(out, 1);
  return out;
}

export function decodeControlFrame(frame: Buffer): Record<string, unknown> {
  const value: unknown = JSON.parse(frame.toString('utf8', 1));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('control frame is not an object');
  return value as Record<string, unknown>;
}
