// MQTT 3.1.1 for the load generator: the handful of packets a client sends, encoded by hand, and a
// streaming reader that walks the fixed header and Remaining Length of each incoming packet and
// looks no deeper than it must (packet identifier for QoS 1 acks, payload marker for latency).
// It never builds a packet object: counting, not decoding, is what keeps the generator cheap.
//
// All three brokers speak 3.1.1, so it is the common ground; nothing here depends on a broker.
// Checked against mqtt-packet by bench/selftest.js.

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;
export const PINGRESP = 13;

/** First payload byte of a latency probe: the next 8 bytes are process.hrtime.bigint() at send. */
export const LATENCY_MARKER = 0x4c; // 'L'
/** First payload byte of a fan-out or throughput message. */
export const PLAIN_MARKER = 0x46; // 'F'

function remainingLengthSize(n) {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeRemainingLength(buf, off, n) {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[off++] = byte;
  } while (n > 0);
  return off;
}

function writeString(buf, off, bytes) {
  buf.writeUInt16BE(bytes.length, off);
  bytes.copy(buf, off + 2);
  return off + 2 + bytes.length;
}

/**
 * CONNECT, protocol level 4 [MQTT-3.1.2-2]. `keepalive` 0 would be the natural choice for a
 * benchmark, but some brokers cap or refuse it; callers pass a value longer than any run.
 */
export function encodeConnect({ clientId, username, clean = true, keepalive = 900 }) {
  const id = Buffer.from(clientId);
  const user = username === undefined ? null : Buffer.from(username);
  const bodyLength = 10 + 2 + id.length + (user ? 2 + user.length : 0);
  const buf = Buffer.allocUnsafe(1 + remainingLengthSize(bodyLength) + bodyLength);
  buf[0] = 0x10;
  let off = writeRemainingLength(buf, 1, bodyLength);
  off = writeString(buf, off, Buffer.from('MQTT'));
  buf[off++] = 4;
  buf[off++] = (user ? 0x80 : 0) | (clean ? 0x02 : 0);
  buf.writeUInt16BE(keepalive, off);
  off += 2;
  off = writeString(buf, off, id);
  if (user) writeString(buf, off, user);
  return buf;
}

/** SUBSCRIBE with fixed-header flags 0b0010 [MQTT-3.8.1-1]. `filters`: [{ topic, qos }]. */
export function encodeSubscribe(packetId, filters) {
  const topics = filters.map((f) => Buffer.from(f.topic));
  const bodyLength = 2 + topics.reduce((n, t) => n + 2 + t.length + 1, 0);
  const buf = Buffer.allocUnsafe(1 + remainingLengthSize(bodyLength) + bodyLength);
  buf[0] = 0x82;
  let off = writeRemainingLength(buf, 1, bodyLength);
  buf.writeUInt16BE(packetId, off);
  off += 2;
  for (let i = 0; i < topics.length; i++) {
    off = writeString(buf, off, topics[i]);
    buf[off++] = filters[i].qos;
  }
  return buf;
}

/**
 * A PUBLISH template: the caller patches the packet identifier (QoS 1) and the payload in place,
 * so a burst costs one allocation per batch rather than one encode per message.
 * Returns { bytes, packetIdOffset, payloadOffset }.
 */
export function publishTemplate(topic, payloadSize, qos) {
  const t = Buffer.from(topic);
  const bodyLength = 2 + t.length + (qos > 0 ? 2 : 0) + payloadSize;
  const bytes = Buffer.alloc(1 + remainingLengthSize(bodyLength) + bodyLength);
  bytes[0] = 0x30 | (qos << 1);
  let off = writeRemainingLength(bytes, 1, bodyLength);
  off = writeString(bytes, off, t);
  const packetIdOffset = qos > 0 ? off : -1;
  if (qos > 0) off += 2;
  const payloadOffset = off;
  bytes[payloadOffset] = PLAIN_MARKER;
  return { bytes, packetIdOffset, payloadOffset };
}

export function encodePuback(packetId) {
  return Buffer.from([0x40, 0x02, packetId >> 8, packetId & 0xff]);
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);
export const PINGREQ = Buffer.from([0xc0, 0x00]);

/**
 * Streaming reader. `state` is the per-connection object; it owns `pending` (the copied tail of a
 * packet split across reads) and receives `state.onPacket(type, flags, buf, bodyStart, bodyEnd)`
 * for every packet except PUBLISH, which `sink.onPublish(state, buf, headerByte, bodyStart,
 * bodyEnd)` handles so the hot path is one call. `buf` may be a shared read buffer that is reused
 * after this returns, so nothing may keep a reference to it: the tail is copied.
 */
export function readPackets(state, sink, chunk, start, end) {
  let buf = chunk;
  let i = start;
  if (state.pending !== null) {
    const p = state.pending;
    buf = Buffer.allocUnsafe(p.length + (end - start));
    p.copy(buf, 0);
    chunk.copy(buf, p.length, start, end);
    state.pending = null;
    i = 0;
    end = buf.length;
  }
  while (i < end) {
    if (end - i < 2) break;
    // Remaining Length: up to four 7-bit groups [MQTT-2.2.3].
    let len = 0;
    let mul = 1;
    let j = i + 1;
    let complete = false;
    while (j < end && j < i + 5) {
      const b = buf[j++];
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete) {
      if (j - i >= 5) throw new Error('malformed Remaining Length');
      break;
    }
    const packetEnd = j + len;
    if (packetEnd > end) break;
    const header = buf[i];
    if (header >> 4 === PUBLISH) sink.onPublish(state, buf, header, j, packetEnd);
    else state.onPacket(header >> 4, header & 0x0f, buf, j, packetEnd);
    i = packetEnd;
  }
  if (i < end) {
    const tail = Buffer.allocUnsafe(end - i);
    buf.copy(tail, 0, i, end);
    state.pending = tail;
  }
}
