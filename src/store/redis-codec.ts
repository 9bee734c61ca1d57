// Binary, compact encodings of what the Redis store keeps: messages, deliveries (a message plus how
// it goes to one session), subscription options, session rows, and the change notices published
// to other nodes. Payloads and correlation data stay raw bytes; v5 properties are the JSON of
// sqlite-codec.ts (user properties as [name, value] pairs, so their order survives
// [MQTT-3.3.2-18]).
//
// Message-bearing values share a fixed header so the Lua scripts (redis-scripts.ts) can read a
// value's kind and expiry without decoding it:
//   byte 0      tag: 1 message, 2 queued delivery, 3 in-flight 'publish', 4 in-flight 'pubrel'
//   bytes 1-6   expiresAt, epoch ms, unsigned 48-bit big-endian (0 = never)
//   bytes 7-12  receivedAt, likewise (0 = unknown)
//   byte 13     message flags: qos (bits 0-1), retain (2), publisherId (3), properties (4), topic (5)
//   deliveries: byte 14 delivery flags: qos (bits 0-1), retain (2), subscription ids (3);
//               then, with bit 3, a varint count and that many varint ids
//   then varint-length-prefixed topic, publisherId, properties JSON (each only if flagged)
//   then the payload: every remaining byte.
// Example: a QoS 1 retained message {payload 'hi'} on 'a/b' (topic kept in the hash field) is
//   01 000000000000 0000000000000 05 6869  -> tag, no expiry, no receivedAt, qos 1 + retain, "hi".
import type { Message, QoS } from '../shared/message.js';
import { encodeProperties } from '../shared/properties-json.js';
import { decodeStoredProperties } from './sqlite-codec.js';
import type { StoredDelivery, StoredMessage, StoredSubscription } from './session-store.js';

export const TAG_MESSAGE = 1;
export const TAG_QUEUED = 2;
export const TAG_INFLIGHT_PUBLISH = 3;
export const TAG_INFLIGHT_PUBREL = 4;

const HEADER_BYTES = 14;
const UINT48_MAX = 2 ** 48 - 1;

const M_RETAIN = 0b100;
const M_PUBLISHER = 0b1000;
const M_PROPERTIES = 0b10000;
const M_TOPIC = 0b100000;
const D_RETAIN = 0b100;
const D_SUBSCRIPTION_IDS = 0b1000;

/** A growing byte buffer with the few writes the encodings need. */
class ByteWriter {
  buf: Buffer;
  length = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  u48(v: number): void {
    this.room(6);
    this.buf.writeUIntBE(Math.min(Math.max(0, Math.trunc(v)), UINT48_MAX), this.length, 6);
    this.length += 6;
  }
  /** Unsigned LEB128; arithmetic, not bitwise, so values up to 2^53 survive. */
  varint(v: number): void {
    let n = Math.trunc(v);
    if (!(n >= 0) || n > Number.MAX_SAFE_INTEGER) throw new RangeError(`cannot encode ${v} as an unsigned varint`);
    this.room(8);
    while (n >= 0x80) {
      this.room(1);
      this.buf[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.length++] = n;
  }
  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.room(n);
    this.buf.write(s, this.length, n, 'utf8');
    this.length += n;
  }
  lengthPrefixed(b: Buffer): void {
    this.varint(b.length);
    this.bytes(b);
  }
  /**
   * What was written. Small values are copied out of the (pooled, possibly oversized) working
   * buffer; large ones are a view of it, which is sized to fit within a few dozen bytes.
   */
  done(): Buffer {
    const written = this.buf.subarray(0, this.length);
    return this.length > 4096 ? written : Buffer.from(written);
  }
}

/** Reads what ByteWriter wrote; throws CodecError on truncated or malformed input. */
class ByteReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError(`truncated value (${this.buf.length} bytes)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.pos, 6);
    this.pos += 6;
    return v;
  }
  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new CodecError('varint too long');
    }
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(): string {
    return this.bytes(this.varint()).toString('utf8');
  }
  lengthPrefixed(): Buffer {
    return this.bytes(this.varint());
  }
  rest(): Buffer {
    const b = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return b;
  }
}

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

function writeMessage(w: ByteWriter, tag: number, m: StoredMessage | Message, withTopic: boolean, delivery: StoredDelivery | undefined): void {
  const properties = encodeProperties(m.properties);
  w.u8(tag);
  w.u48(m.expiresAt);
  w.u48(m.receivedAt ?? 0);
  w.u8(
    (m.qos & 0b11) |
      (m.retain ? M_RETAIN : 0) |
      (m.publisherId !== undefined ? M_PUBLISHER : 0) |
      (properties !== null ? M_PROPERTIES : 0) |
      (withTopic ? M_TOPIC : 0),
  );
  if (delivery !== undefined) {
    const ids = delivery.subscriptionIds;
    w.u8((delivery.qos & 0b11) | (delivery.retain ? D_RETAIN : 0) | (ids !== undefined ? D_SUBSCRIPTION_IDS : 0));
    if (ids !== undefined) {
      w.varint(ids.length);
      for (const id of ids) w.varint(id);
    }
  }
  if (withTopic) w.string(m.topic);
  if (m.publisherId !== undefined) w.string(m.publisherId);
  if (properties !== null) w.string(properties);
  w.bytes(m.payload);
}

function readMessage(r: ByteReader, topic: string | undefined, withDelivery: boolean): { message: StoredMessage; delivery?: Omit<StoredDelivery, 'message'> } {
  const tag = r.u8();
  if (tag < TAG_MESSAGE || tag > TAG_INFLIGHT_PUBREL) throw new CodecError(`unknown value tag ${tag}`);
  const expiresAt = r.u48();
  const receivedAt = r.u48();
  const flags = r.u8();
  let delivery: Omit<StoredDelivery, 'message'> | undefined;
  if (withDelivery) {
    const d = r.u8();
    let subscriptionIds: number[] | undefined;
    if ((d & D_SUBSCRIPTION_IDS) !== 0) {
      const n = r.varint();
      subscriptionIds = [];
      for (let i = 0; i < n; i++) subscriptionIds.push(r.varint());
    }
    delivery = { qos: (d & 0b11) as QoS, retain: (d & D_RETAIN) !== 0, subscriptionIds };
  }
  const ownTopic = (flags & M_TOPIC) !== 0 ? r.string() : undefined;
  const publisherId = (flags & M_PUBLISHER) !== 0 ? r.string() : undefined;
  const properties = (flags & M_PROPERTIES) !== 0 ? decodeStoredProperties(r.string()) : undefined;
  // A copy: the reply buffer it was sliced from may be large and is otherwise unreferenced.
  const payload = Buffer.from(r.rest());
  const resolvedTopic = ownTopic ?? topic;
  if (resolvedTopic === undefined) throw new CodecError('message without a topic');
  const message: StoredMessage = {
    topic: resolvedTopic,
    payload,
    qos: (flags & 0b11) as QoS,
    retain: (flags & M_RETAIN) !== 0,
    properties,
    expiresAt,
    publisherId,
    ...(receivedAt !== 0 ? { receivedAt } : {}),
  };
  return delivery === undefined ? { message } : { message, delivery };
}

/** A retained message; its topic is the hash field, so it is not repeated in the value. */
export function encodeRetained(m: Message): Buffer {
  const w = new ByteWriter(HEADER_BYTES + 64 + m.payload.length);
  writeMessage(w, TAG_MESSAGE, m, false, undefined);
  return w.done();
}

export function decodeRetained(topic: string, value: Buffer): Message {
  return readMessage(new ByteReader(value), topic, false).message;
}

/** A queued delivery (tag 2) or an in-flight one (tag 3/4 by state). */
export function encodeDelivery(d: StoredDelivery, state?: 'publish' | 'pubrel'): Buffer {
  const tag = state === undefined ? TAG_QUEUED : state === 'publish' ? TAG_INFLIGHT_PUBLISH : TAG_INFLIGHT_PUBREL;
  const m = d.message;
  const w = new ByteWriter(HEADER_BYTES + 1 + 64 + m.topic.length * 3 + m.payload.length);
  writeMessage(w, tag, m, true, d);
  return w.done();
}

export function decodeDelivery(value: Buffer): { delivery: StoredDelivery; state: 'publish' | 'pubrel' | undefined } {
  const tag = value[0];
  const { message, delivery } = readMessage(new ByteReader(value), undefined, true);
  const state = tag === TAG_INFLIGHT_PUBLISH ? 'publish' : tag === TAG_INFLIGHT_PUBREL ? 'pubrel' : undefined;
  return { delivery: { message, qos: delivery!.qos, retain: delivery!.retain, subscriptionIds: delivery!.subscriptionIds }, state };
}

// Subscription options: one byte, then the subscription identifier as a varint when present.
const S_NO_LOCAL = 0b100;
const S_RETAIN_AS_PUBLISHED = 0b1000;
const S_HAS_ID = 0b1000000;

export function encodeSubscription(s: StoredSubscription): Buffer {
  const w = new ByteWriter(6);
  w.u8(
    (s.qos & 0b11) |
      (s.noLocal ? S_NO_LOCAL : 0) |
      (s.retainAsPublished ? S_RETAIN_AS_PUBLISHED : 0) |
      ((s.retainHandling & 0b11) << 4) |
      (s.subscriptionId !== undefined ? S_HAS_ID : 0),
  );
  if (s.subscriptionId !== undefined) w.varint(s.subscriptionId);
  return w.done();
}

export function decodeSubscription(key: string, value: Buffer): StoredSubscription {
  const r = new ByteReader(value);
  const flags = r.u8();
  return {
    key,
    qos: (flags & 0b11) as QoS,
    noLocal: (flags & S_NO_LOCAL) !== 0,
    retainAsPublished: (flags & S_RETAIN_AS_PUBLISHED) !== 0,
    retainHandling: ((flags >> 4) & 0b11) as 0 | 1 | 2,
    subscriptionId: (flags & S_HAS_ID) !== 0 ? r.varint() : undefined,
  };
}

export interface SessionRow {
  protocolVersion: 3 | 4 | 5;
  expirySeconds: number;
  disconnectedAt: number | null;
}

/** "5|7200|1700000000000", or "5|7200|" while connected; the purge script parses the same text. */
export function encodeSessionRow(protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): string {
  return `${protocolVersion}|${expirySeconds}|${disconnectedAt ?? ''}`;
}

export function decodeSessionRow(value: string): SessionRow {
  const m = /^([345])\|(\d+)\|(\d*)$/.exec(value);
  if (m === null) throw new CodecError(`malformed session row ${JSON.stringify(value.slice(0, 40))}`);
  return {
    protocolVersion: Number(m[1]) as 3 | 4 | 5,
    expirySeconds: Number(m[2]),
    disconnectedAt: m[3] === '' ? null : Number(m[3]),
  };
}

// --- change notices ---------------------------------------------------------------------------

/** What a change notice can be about. The default authorizer is its own kind (key ''). */
export const WireKind = { Retained: 0, Authorizer: 1, DefaultAuthorizer: 2, AccessKey: 3, Rule: 4 } as const;
export type WireKind = (typeof WireKind)[keyof typeof WireKind];

export interface Change {
  kind: WireKind;
  key: string;
  /** The new encoded value as stored in Redis; undefined: deleted. */
  value: Buffer | undefined;
}

export interface Notice {
  /** The `version` counter after this notice; consecutive in Redis order. */
  version: number;
  /** The node (store handle) that wrote the changes. */
  origin: string;
  /** That node's batch number; 0 for a conditional change (an expired retained message). */
  batch: number;
  changes: Change[];
}

/** The body of a notice; the publishing script prefixes "{version}:". */
export function encodeNoticeBody(origin: string, batch: number, changes: readonly Change[]): Buffer {
  let size = 16 + origin.length;
  for (const c of changes) size += 8 + c.key.length * 3 + (c.value?.length ?? 0);
  const w = new ByteWriter(size);
  w.string(origin);
  w.varint(batch);
  w.varint(changes.length);
  for (const c of changes) {
    w.u8(c.kind);
    w.string(c.key);
    if (c.value === undefined) w.u8(0);
    else {
      w.u8(1);
      w.lengthPrefixed(c.value);
    }
  }
  return w.done();
}

/**
 * A one-change notice body without its value part, for a script that decides the value itself
 * (redis-scripts.ts EXPIRE_RETAINED appends 0, or 1 + varint length + value).
 */
export function encodeNoticeHead(origin: string, batch: number, kind: WireKind, key: string): Buffer {
  const w = new ByteWriter(16 + origin.length + key.length * 3);
  w.string(origin);
  w.varint(batch);
  w.varint(1);
  w.u8(kind);
  w.string(key);
  return w.done();
}

const COLON = 0x3a;

/** Parses "{version}:{body}"; throws CodecError on anything else. */
export function decodeNotice(message: Buffer): Notice {
  const colon = message.indexOf(COLON);
  if (colon <= 0 || colon > 20) throw new CodecError('change notice without a version');
  const version = Number(message.toString('latin1', 0, colon));
  if (!Number.isSafeInteger(version) || version <= 0) throw new CodecError('change notice with a bad version');
  const r = new ByteReader(message.subarray(colon + 1));
  const origin = r.string();
  const batch = r.varint();
  const n = r.varint();
  const changes: Change[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind > WireKind.Rule) throw new CodecError(`unknown change kind ${kind}`);
    const key = r.string();
    const value = r.u8() === 0 ? undefined : Buffer.from(r.lengthPrefixed());
    changes.push({ kind: kind as WireKind, key, value });
  }
  return { version, origin, batch, changes };
}
