// The structure of a whole packet, checked on its bytes before mqtt-packet reads it.
//
// mqtt-packet is lenient: a string whose length runs past the end of the packet or of its
// property block becomes null (and parsing goes on from the wrong place), ill-formed UTF-8 becomes
// U+FFFD, bytes after the last field are ignored. What it returns for such a packet is not what the
// client sent, and a null where a string belongs breaks every later encoding of the message (a
// retained message that no v5 subscriber can receive). So every field of every packet a client may
// send is walked here, and anything the packet cannot hold is a Malformed Packet:
//   - a length (string, binary, property block) running past the end of what contains it, or a
//     packet with bytes left over after its last field [MQTT-2.2.2-?, v5 §2.2.2.2, §1.5];
//   - a UTF-8 string that is ill-formed (surrogates and overlong forms included) or contains
//     U+0000 [MQTT-1.5.4-1, 1.5.4-2] (3.1.1 [MQTT-1.5.3-1, 1.5.3-2]): topic names and filters,
//     client identifier, user name, will topic, property strings and user property pairs;
//   - a property identifier unknown or not valid for the packet type (v5 §2.2.2.2);
//   - PINGREQ, and v3.1.1 acknowledgements and DISCONNECT, with a body they do not have.
// Semantics (duplicate properties, packet identifier 0, flags) stay with checkPacket in codec.ts.
//
// Also the protocol name and level go together [MQTT-3.1.2-1, 3.1.2-2]: "MQIsdp" is MQTT 3.1
// (level 3), "MQTT" is 3.1.1 (level 4) or 5.0 (level 5); any other pair is refused with CONNACK
// "unacceptable protocol version" (0x01), as Mosquitto does.
//
// Cost on the hot path: a PUBLISH is its topic (already checked), packet identifier and property
// block; the payload is never looked at. The PUBACK fast path in codec.ts skips this entirely.
import { isUtf8 } from 'node:buffer';
import { ProtocolError, malformed } from './errors.js';
import { RC } from './reason-codes.js';

// Property value types (v5 §2.2.2.2).
const BYTE = 1;
const INT16 = 2;
const INT32 = 3;
const VARINT = 4;
const STRING = 5;
const BINARY = 6;
const PAIR = 7;

/** Value type by property identifier; 0 = no such property. */
const TYPES = new Uint8Array(0x2b);
TYPES[0x01] = BYTE; // Payload Format Indicator
TYPES[0x02] = INT32; // Message Expiry Interval
TYPES[0x03] = STRING; // Content Type
TYPES[0x08] = STRING; // Response Topic
TYPES[0x09] = BINARY; // Correlation Data
TYPES[0x0b] = VARINT; // Subscription Identifier
TYPES[0x11] = INT32; // Session Expiry Interval
TYPES[0x12] = STRING; // Assigned Client Identifier
TYPES[0x13] = INT16; // Server Keep Alive
TYPES[0x15] = STRING; // Authentication Method
TYPES[0x16] = BINARY; // Authentication Data
TYPES[0x17] = BYTE; // Request Problem Information
TYPES[0x18] = INT32; // Will Delay Interval
TYPES[0x19] = BYTE; // Request Response Information
TYPES[0x1a] = STRING; // Response Information
TYPES[0x1c] = STRING; // Server Reference
TYPES[0x1f] = STRING; // Reason String
TYPES[0x21] = INT16; // Receive Maximum
TYPES[0x22] = INT16; // Topic Alias Maximum
TYPES[0x23] = INT16; // Topic Alias
TYPES[0x24] = BYTE; // Maximum QoS
TYPES[0x25] = BYTE; // Retain Available
TYPES[0x26] = PAIR; // User Property
TYPES[0x27] = INT32; // Maximum Packet Size
TYPES[0x28] = BYTE; // Wildcard Subscription Available
TYPES[0x29] = BYTE; // Subscription Identifier Available
TYPES[0x2a] = BYTE; // Shared Subscription Available

/** Which properties each packet a client sends may carry (v5 §3.x.2.2). */
function allowed(...ids: number[]): Uint8Array {
  const set = new Uint8Array(TYPES.length);
  for (const id of ids) set[id] = 1;
  return set;
}
const CONNECT_PROPS = allowed(0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16);
const WILL_PROPS = allowed(0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26);
const PUBLISH_PROPS = allowed(0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0b, 0x03);
const ACK_PROPS = allowed(0x1f, 0x26);
const SUBSCRIBE_PROPS = allowed(0x0b, 0x26);
const UNSUBSCRIBE_PROPS = allowed(0x26);
const DISCONNECT_PROPS = allowed(0x11, 0x1f, 0x26, 0x1c);
const AUTH_PROPS = allowed(0x15, 0x16, 0x1f, 0x26);

// The packet being walked. Module state is safe: a check runs synchronously from start to end.
let buf: Buffer = Buffer.alloc(0);
let pos = 0;
/** End of the innermost structure being read (the packet, or a property block inside it). */
let end = 0;
/** The property being read, for the refusal's message (-1: none). Messages are built only on refusal. */
let property = -1;

/** Thrown inside the walk; checkWire turns it into its result. */
class Refusal {
  constructor(readonly error: ProtocolError) {}
}

function refuse(message: string): never {
  const where = property >= 0 ? ` (property 0x${property.toString(16)})` : '';
  throw new Refusal(malformed(message + where));
}

function need(n: number, what: string): void {
  if (pos + n > end) refuse(`${what} runs past the end of the ${end === buf.length ? 'packet' : 'property block'}`);
}

function u8(what: string): number {
  need(1, what);
  return buf[pos++]!;
}

function u16(what: string): number {
  need(2, what);
  const v = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  return v;
}

function varint(what: string): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const byte = u8(what);
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return value;
    multiplier *= 128;
  }
  return refuse(`${what} is a variable byte integer longer than 4 bytes`); // [MQTT-1.5.5-1]
}

/** A UTF-8 Encoded String: well-formed and without U+0000 [MQTT-1.5.4-1, 1.5.4-2]. */
function utf8(what: string): void {
  const length = u16(what);
  need(length, what);
  const stop = pos + length;
  // Topics and most other strings are ASCII: one pass over the bytes, no copy, decides them.
  // In UTF-8 the byte 0x00 only ever encodes U+0000.
  let i = pos;
  for (; i < stop; i++) {
    const b = buf[i]!;
    if (b === 0) refuse(`${what} contains U+0000`);
    if (b >= 0x80) break;
  }
  if (i < stop) {
    const bytes = buf.subarray(i, stop);
    if (!isUtf8(bytes)) refuse(`${what} is not well-formed UTF-8`);
    if (bytes.includes(0)) refuse(`${what} contains U+0000`);
  }
  pos = stop;
}

function binary(what: string): void {
  const length = u16(what);
  need(length, what);
  pos += length;
}

function properties(permitted: Uint8Array, what: string): void {
  const length = varint('property length');
  need(length, 'property block');
  const outer = end;
  end = pos + length;
  while (pos < end) {
    const id = varint('property identifier');
    const type = id < TYPES.length && permitted[id] === 1 ? TYPES[id]! : 0;
    if (type === 0) refuse(`property 0x${id.toString(16)} is not valid in ${what}`); // v5 §2.2.2.2
    property = id;
    switch (type) {
      case BYTE: {
        const v = u8('property value');
        // Request Problem / Response Information: 0 or 1, else a Protocol Error (§3.1.2.11.6-7).
        if ((id === 0x17 || id === 0x19) && v > 1) {
          throw new Refusal(new ProtocolError('protocol-error', RC.protocolError, `property 0x${id.toString(16)} must be 0 or 1`));
        }
        break;
      }
      case INT16:
        need(2, 'property value');
        pos += 2;
        break;
      case INT32:
        need(4, 'property value');
        pos += 4;
        break;
      case VARINT:
        varint('property value');
        break;
      case STRING:
        utf8('property value');
        break;
      case BINARY:
        binary('property value');
        break;
      case PAIR:
        utf8('user property name');
        utf8('user property value');
        break;
    }
    property = -1;
  }
  end = outer;
}

function noMore(what: string): void {
  if (pos !== end) refuse(`${end - pos} unexpected bytes after the end of ${what}`);
}

/**
 * Checks the structure of one whole packet (fixed header included). `version` is the connection's
 * protocol version (ignored for CONNECT, which names its own). Returns the refusal, or null.
 */
export function checkWire(packet: Buffer, version: 3 | 4 | 5): ProtocolError | null {
  buf = packet;
  pos = 1;
  while ((packet[pos++]! & 0x80) !== 0 && pos < 5);
  end = packet.length;
  property = -1;
  try {
    walk(packet[0]!, version);
    return null;
  } catch (err) {
    if (err instanceof Refusal) return err.error;
    throw err;
  } finally {
    buf = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

function walk(first: number, version: 3 | 4 | 5): void {
  const v5 = version === 5;
  switch (first >> 4) {
    case 1:
      return connect();
    case 3: {
      utf8('topic name');
      const qos = (first >> 1) & 3;
      if (qos === 3) refuse('PUBLISH with both QoS bits set'); // [MQTT-3.3.1-4]
      if (qos > 0) u16('packet identifier');
      if (v5) properties(PUBLISH_PROPS, 'PUBLISH');
      return; // the rest is the payload
    }
    case 4:
    case 5:
    case 6:
    case 7:
      u16('packet identifier');
      if (v5) {
        if (pos < end) u8('reason code');
        if (pos < end) properties(ACK_PROPS, 'acknowledgement');
      }
      return noMore('the acknowledgement');
    case 8:
      u16('packet identifier');
      if (v5) properties(SUBSCRIBE_PROPS, 'SUBSCRIBE');
      // An empty list is a protocol error the handler reports [MQTT-3.8.3-3].
      while (pos < end) {
        utf8('topic filter');
        u8('subscription options');
      }
      return;
    case 10:
      u16('packet identifier');
      if (v5) properties(UNSUBSCRIBE_PROPS, 'UNSUBSCRIBE');
      while (pos < end) utf8('topic filter');
      return;
    case 12:
      return noMore('PINGREQ');
    case 14:
      if (v5) {
        if (pos < end) u8('reason code');
        if (pos < end) properties(DISCONNECT_PROPS, 'DISCONNECT');
      }
      return noMore('DISCONNECT');
    case 15:
      if (v5) {
        if (pos < end) u8('reason code');
        if (pos < end) properties(AUTH_PROPS, 'AUTH');
        return noMore('AUTH');
      }
      return; // not a v3.1.1 packet: the parser refuses it
    default:
      // Reserved type 0, and the server's own packets: the parser or the dispatcher refuses them.
      return;
  }
}

function connect(): void {
  const nameLength = u16('protocol name');
  need(nameLength, 'protocol name');
  const name = buf.toString('latin1', pos, pos + nameLength);
  pos += nameLength;
  if (name !== 'MQTT' && name !== 'MQIsdp') {
    throw new Refusal(new ProtocolError('unsupported-protocol', RC.unsupportedProtocolVersion, `unknown protocol name ${JSON.stringify(name)}`));
  }
  // The high bit marks a bridge (Mosquitto's convention); the level is the low seven bits.
  const level = u8('protocol level') & 0x7f;
  if (name === 'MQIsdp' ? level !== 3 : level !== 4 && level !== 5) {
    throw new Refusal(
      new ProtocolError('unsupported-protocol-version', RC.unsupportedProtocolVersion, `protocol name ${name} with protocol level ${level} is not supported`),
    );
  }
  const flags = u8('connect flags');
  u16('keep alive');
  if (level === 5) properties(CONNECT_PROPS, 'CONNECT');
  utf8('client identifier'); // [MQTT-3.1.3-4]
  if ((flags & 0x04) !== 0) {
    if (level === 5) properties(WILL_PROPS, 'will');
    utf8('will topic');
    binary('will payload');
  }
  if ((flags & 0x80) !== 0) utf8('user name'); // [MQTT-3.1.3-11]
  if ((flags & 0x40) !== 0) binary('password');
  noMore('CONNECT');
}
