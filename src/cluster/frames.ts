// What travels between nodes on Redis pub/sub. Every node listens on its own channel
// ({prefix}node:{id}) and on one shared channel ({prefix}all). A frame is a Buffer whose first
// byte says what it is:
//   1 message, best effort (QoS 0):   [1][origin][header][payload]
//   2 message, reliable (QoS 1/2):    [2][origin][seq: f64][header][payload]
//   3 control (JSON):                 [3][JSON text]   (control-messages.ts)
// where [origin] is a length byte and the sending node's id, and [header] a 4-byte length and the
// message's fields as JSON (properties as in the stores, so user-property order survives). The
// payload stays binary and is never copied into the JSON.
//
// Anyone who can publish to the Redis channels can write a frame, and a decoded message goes
// straight into sessions, stores and the trie, which assume a validated message. So decoding
// checks every field and throws on anything the encoder would not have written:
//   valid header:   {"t":"a/b","q":1,"r":0,"p":null,"e":0}
//                   {"t":"a","q":0,"r":1,"p":"{\"contentType\":\"text/plain\"}","e":1700000000000,"i":"c1","g":["g\u0000a/#"]}
//                   {"t":"a","q":1,"r":0,"p":null,"e":0,"g":["g\u0000a"],"v":[{"g":"g\u0000a","n":["node-2"],"k":"node-1"}]}
//   invalid header: {"t":"a/+"} (wildcard in a name), {"t":""}, "q":7, "r":true, "e":"soon", "e":-1,
//                   "i":{"x":1}, "g":"x", "p":"garbage", "p":"{\"contentType\":5}", a reliable seq of NaN,
//                   "v" naming a group not in "g", or with more than MAX_VIA_NODES nodes
import type { Message, MessageProperties, QoS } from '../shared/message.js';
import { formatHistoryId, parseHistoryId } from '../shared/history-id.js';
import { validateTopicName, type TopicLimits } from '../protocol/topic.js';
import { decodeProperties, encodeProperties } from '../shared/properties-json.js';

export const FRAME_MESSAGE = 1;
export const FRAME_RELIABLE = 2;
export const FRAME_CONTROL = 3;

/** One session a delivery is diverted to (a session moving between nodes), as it is sent to it. */
export interface SessionTarget {
  clientId: string;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | undefined;
}

/**
 * Where a shared group's message goes next when the receiving node has no connected member
 * allowed to receive it (forwarding.ts): `next`, the live candidate nodes not yet tried, in
 * order; `keep`, a node already tried that has a persistent member allowed to receive it, which
 * queues it (QoS 1/2) when no node further on has a connected one.
 */
export interface GroupVia {
  group: string;
  next: string[];
  keep?: string;
}

/** At most this many nodes in one via list (a cluster larger than that tries only the first ones). */
export const MAX_VIA_NODES = 64;

export interface ForwardedMessage {
  origin: string;
  /** 0 for best-effort frames. */
  seq: number;
  message: Message;
  /** Shared-subscription groups ("group\u0000filter") the receiving node delivers to. */
  groups: string[];
  /** Set when the message is one delivery to one session rather than a publish to route. */
  session?: SessionTarget;
  /**
   * Set when the message was held for a node that died before acknowledging it: the receiver
   * adopted that node's sessions and delivers it to those sessions only (links.ts).
   */
  adoptedFrom?: string;
  /** For some of `groups`: where to pass the message on if no connected member here may receive it. */
  via?: GroupVia[];
  /**
   * Set on a message another node passed on for its shared groups (forwarding.ts passOn): only
   * those groups take it here; this node's other subscriptions had their copy from the publisher.
   */
  sharedOnly?: boolean;
}

interface TargetHeader {
  c: string;
  q: QoS;
  r: 0 | 1;
  u?: number[];
}

interface Header {
  t: string;
  q: QoS;
  r: 0 | 1;
  p: string | null;
  e: number;
  i?: string;
  a?: number;
  n?: string;
  g?: string[];
  s?: TargetHeader;
  /** The history id the origin node stamped (docs/history.md), as text. */
  h?: string;
  d?: string;
  v?: Array<{ g: string; n: string[]; k?: string }>;
  /** 1: for the shared groups in `g` only (ForwardedMessage.sharedOnly). */
  o?: 1;
}

// Only the protocol's own cap [MQTT-4.7.3-3]: the sending node applied its configured limits
// when the message came in, and members are not required to share them.
const FRAME_TOPIC_LIMITS: TopicLimits = { maxTopicBytes: 65_535, maxTopicLevels: Number.POSITIVE_INFINITY };
// A Subscription Identifier is 1..268,435,455 (MQTT 5.0 §3.8.2.1.2; 0 is a Protocol Error).
const MAX_SUBSCRIPTION_ID = 268_435_455;
const PROPERTY_NAMES = new Set(['payloadFormatIndicator', 'contentType', 'responseTopic', 'correlationData', 'userProperties']);

export function encodeMessageFrame(
  origin: string,
  seq: number,
  message: Message,
  groups: readonly string[],
  target: SessionTarget | null = null,
  adoptedFrom: string | null = null,
  via: readonly GroupVia[] | null = null,
  sharedOnly = false,
): Buffer {
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
  if (message.historyId !== undefined) header.h = formatHistoryId(message.historyId);
  if (groups.length > 0) header.g = [...groups];
  if (target !== null) {
    header.s = { c: target.clientId, q: target.qos, r: target.retain ? 1 : 0 };
    if (target.subscriptionIds !== undefined) header.s.u = [...target.subscriptionIds];
  }
  if (adoptedFrom !== null) header.d = adoptedFrom;
  if (via !== null && via.length > 0) header.v = via.map((v) => (v.keep !== undefined ? { g: v.group, n: v.next, k: v.keep } : { g: v.group, n: v.next }));
  if (sharedOnly) header.o = 1;
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

/** Throws on a frame that is not a well-formed message frame (see the examples at the top). */
export function decodeMessageFrame(frame: Buffer): ForwardedMessage {
  const kind = frame[0];
  if (kind !== FRAME_MESSAGE && kind !== FRAME_RELIABLE) throw new Error(`not a message frame (${kind})`);
  let at = 1;
  if (frame.length < at + 1) throw new Error('message frame cut short');
  const originLength = frame[at++]!;
  if (originLength === 0) throw new Error('message frame has no origin');
  if (frame.length < at + originLength + (kind === FRAME_RELIABLE ? 8 : 0) + 4) throw new Error('message frame cut short');
  const origin = frame.toString('utf8', at, at + originLength);
  at += originLength;
  let seq = 0;
  if (kind === FRAME_RELIABLE) {
    seq = frame.readDoubleBE(at);
    at += 8;
    // The sender numbers reliable frames 1, 2, 3... (OutboundLink.take).
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`reliable frame has a bad sequence number (${seq})`);
  }
  const headerLength = frame.readUInt32BE(at);
  at += 4;
  if (at + headerLength > frame.length) throw new Error('message frame cut short');
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.toString('utf8', at, at + headerLength));
  } catch {
    throw new Error('message frame header is not JSON');
  }
  at += headerLength;
  const header = checkHeader(parsed);
  let properties: MessageProperties | undefined;
  if (header.p !== null) {
    try {
      properties = decodeProperties(header.p);
    } catch (err) {
      throw new Error(`message frame has bad properties (${(err as Error).message})`);
    }
    checkProperties(properties);
  }
  const message: Message = {
    topic: header.t,
    payload: frame.subarray(at),
    qos: header.q,
    retain: header.r === 1,
    properties,
    expiresAt: header.e,
    publisherId: header.i,
    ...(header.a !== undefined ? { receivedAt: header.a } : {}),
    ...(header.n !== undefined ? { principal: header.n } : {}),
    ...(header.h !== undefined ? { historyId: parseHistoryId(header.h)! } : {}),
  };
  const forwarded: ForwardedMessage = { origin, seq, message, groups: header.g ?? [] };
  if (header.s !== undefined) {
    forwarded.session = { clientId: header.s.c, qos: header.s.q, retain: header.s.r === 1, subscriptionIds: header.s.u };
  }
  if (header.d !== undefined) forwarded.adoptedFrom = header.d;
  if (header.v !== undefined) forwarded.via = header.v.map((v) => (v.k !== undefined ? { group: v.g, next: v.n, keep: v.k } : { group: v.g, next: v.n }));
  if (header.o === 1) forwarded.sharedOnly = true;
  return forwarded;
}

const isQoS = (v: unknown): v is QoS => v === 0 || v === 1 || v === 2;
const isFlag = (v: unknown): v is 0 | 1 => v === 0 || v === 1;
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function checkHeader(h: unknown): Header {
  if (!isPlainObject(h)) throw new Error('message frame header is not an object');
  if (typeof h.t !== 'string') throw new Error('message frame topic is not a string');
  const topicError = validateTopicName(h.t, FRAME_TOPIC_LIMITS);
  if (topicError !== null) throw new Error(`message frame topic is not a valid topic name (${topicError})`);
  if (!isQoS(h.q)) throw new Error(`message frame has a bad QoS (${String(h.q)})`);
  if (!isFlag(h.r)) throw new Error('message frame has a bad retain flag');
  if (h.p !== null && typeof h.p !== 'string') throw new Error('message frame properties are neither null nor a string');
  if (typeof h.e !== 'number' || !Number.isFinite(h.e) || h.e < 0) throw new Error('message frame has a bad expiry');
  if (h.i !== undefined && typeof h.i !== 'string') throw new Error('message frame publisher is not a string');
  if (h.a !== undefined && (typeof h.a !== 'number' || !Number.isFinite(h.a))) throw new Error('message frame has a bad receive time');
  if (h.n !== undefined && typeof h.n !== 'string') throw new Error('message frame principal is not a string');
  if (h.h !== undefined && (typeof h.h !== 'string' || parseHistoryId(h.h) === null)) throw new Error('message frame has a bad history id');
  if (h.g !== undefined && !isStringArray(h.g)) throw new Error('message frame groups are not a list of strings');
  if (h.s !== undefined) checkTarget(h.s);
  if (h.d !== undefined && !isNodeId(h.d)) throw new Error('message frame adopted-from node is not a node id');
  if (h.v !== undefined) checkVia(h.v, h.g);
  if (h.o !== undefined && (h.o !== 1 || !Array.isArray(h.g) || h.g.length === 0)) throw new Error('message frame shared-only flag is not 1 with groups');
  return h as unknown as Header;
}

const isNodeId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) <= 255;

/** A via list names only groups the frame carries, and node ids, boundedly (no endless passing on). */
function checkVia(v: unknown, groups: unknown): void {
  if (!Array.isArray(v) || !Array.isArray(groups) || v.length > groups.length) throw new Error('message frame via is not a list for its groups');
  for (const entry of v) {
    if (!isPlainObject(entry) || typeof entry.g !== 'string' || !groups.includes(entry.g)) throw new Error('message frame via names a group it does not carry');
    if (!Array.isArray(entry.n) || entry.n.length > MAX_VIA_NODES || !entry.n.every(isNodeId)) throw new Error('message frame via has a bad node list');
    if (entry.k !== undefined && !isNodeId(entry.k)) throw new Error('message frame via has a bad keeping node');
  }
}

function checkTarget(s: unknown): void {
  if (!isPlainObject(s)) throw new Error('message frame session target is not an object');
  if (typeof s.c !== 'string' || s.c.length === 0) throw new Error('message frame session target has no client ID');
  if (!isQoS(s.q)) throw new Error(`message frame session target has a bad QoS (${String(s.q)})`);
  if (!isFlag(s.r)) throw new Error('message frame session target has a bad retain flag');
  if (s.u !== undefined && !(Array.isArray(s.u) && s.u.every((id) => Number.isInteger(id) && id >= 1 && id <= MAX_SUBSCRIPTION_ID))) {
    throw new Error('message frame session target has bad subscription identifiers');
  }
}

/** The properties a PUBLISH forwards [MQTT-3.3.2-4 ... 3.3.2-20], each of its wire type. */
function checkProperties(p: MessageProperties | undefined): void {
  if (!isPlainObject(p)) throw new Error('message frame properties are not an object');
  for (const [name, value] of Object.entries(p)) {
    if (!PROPERTY_NAMES.has(name)) throw new Error(`message frame has an unknown property (${name})`);
    const ok =
      name === 'payloadFormatIndicator'
        ? typeof value === 'boolean'
        : name === 'correlationData'
          ? Buffer.isBuffer(value)
          : name === 'userProperties'
            ? isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string' || isStringArray(v))
            : typeof value === 'string'; // contentType, responseTopic (checked where it came in, as on one node)
    if (!ok) throw new Error(`message frame has a bad ${name} property`);
  }
}
