// The common inbound PUBLISH, decoded in one pass over its bytes.
//
// Why: with one message per publisher in flight, or one topic per publisher (chat, devices), every
// PUBLISH is decoded once and delivered once, and mqtt-packet's general parser (a BufferList, a
// state machine, `debug` calls on every step) plus the separate wire check cost about a third of
// the broker's CPU per delivery (docs/benchmarks.md, "Issue #18: many publishers").
//
// What: the forms a client almost always sends — any MQTT 3.1/3.1.1 PUBLISH, and an MQTT 5 PUBLISH
// whose property block is empty. Everything else (v5 properties, anything this decoder would have
// to refuse) returns null, and the caller takes the general path (wire-check.ts + mqtt-packet +
// checkPacket), which accepts or refuses it with its usual reason. So this decoder never refuses a
// packet itself: it only accepts what the general path would accept, and returns the object the
// general path would return (same fields, same order; the payload a view of the packet's bytes,
// as mqtt-packet's is). test/protocol/publish-decoder.test.ts checks both on seeded mutations.
//
// Accepted only if (the checks of wire-check.ts and codec.ts's checkPacket for a PUBLISH):
//   - QoS is not 3 [MQTT-3.3.1-4]; DUP is 0 on QoS 0 [MQTT-3.3.1-2];
//   - the topic name's length fits the packet, it is well-formed UTF-8 without U+0000
//     [MQTT-1.5.4-1, 1.5.4-2] (3.1.1 [MQTT-1.5.3-1, 1.5.3-2]);
//   - QoS 1/2: a packet identifier fits and is not 0 [MQTT-2.2.1-3];
//   - v5: a property block length of 0 fits.
// Topic *semantics* (wildcards, empty names, `$` prefixes) stay with the PUBLISH handler.
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';

/**
 * `packet` is one whole packet, fixed header included, whose type is PUBLISH; `version` is the
 * connection's protocol version. Returns the decoded packet, or null for the general path.
 */
export function decodePublish(packet: Buffer, version: 3 | 4 | 5): IPublishPacket | null {
  const first = packet[0]!;
  const bits = (first >> 1) & 3;
  const dup = (first & 0x08) !== 0;
  if (bits === 3 || (bits === 0 && dup)) return null;
  const qos: 0 | 1 | 2 = bits === 0 ? 0 : bits === 1 ? 1 : 2;
  // The Remaining Length was read by the framer (at most 4 bytes); skip it.
  let pos = 1;
  while ((packet[pos++]! & 0x80) !== 0 && pos < 5);
  const end = packet.length;
  const bodyStart = pos;
  if (pos + 2 > end) return null;
  const topicLength = (packet[pos]! << 8) | packet[pos + 1]!;
  pos += 2;
  const topicEnd = pos + topicLength;
  if (topicEnd > end) return null;
  // Topics are almost always ASCII: one pass decides them; in UTF-8 the byte 0 only ever encodes U+0000.
  let i = pos;
  for (; i < topicEnd; i++) {
    const b = packet[i]!;
    if (b === 0) return null;
    if (b >= 0x80) break;
  }
  let topic: string;
  if (i === topicEnd) topic = packet.toString('latin1', pos, topicEnd);
  else {
    const rest = packet.subarray(i, topicEnd);
    if (!isUtf8(rest) || rest.includes(0)) return null;
    topic = packet.toString('utf8', pos, topicEnd);
  }
  pos = topicEnd;
  let messageId = 0;
  if (qos > 0) {
    if (pos + 2 > end) return null;
    messageId = (packet[pos]! << 8) | packet[pos + 1]!;
    if (messageId === 0) return null;
    pos += 2;
  }
  if (version === 5) {
    // An empty property block is one byte 0; anything else is for the general path.
    if (pos >= end || packet[pos] !== 0) return null;
    pos += 1;
  }
  const decoded: IPublishPacket = {
    cmd: 'publish',
    retain: (first & 0x01) !== 0,
    qos,
    dup,
    length: end - bodyStart,
    topic,
    payload: packet.subarray(pos, end),
  };
  if (qos > 0) decoded.messageId = messageId;
  return decoded;
}
