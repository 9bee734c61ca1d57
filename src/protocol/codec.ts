// Bytes <-> packets. mqtt-packet does the parsing and encoding; this module adds what a server
// needs around it: a packet size bound enforced from the fixed header, before the body is buffered
// (so a client announcing a 200 MB packet costs us nothing), and one parser per connection that
// switches to v5 property parsing once it has seen a v5 CONNECT.
import { isUtf8 } from 'node:buffer';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { ProtocolError, malformed } from './errors.js';
import { RC } from './reason-codes.js';

export type { Packet } from 'mqtt-packet';
export type {
  IConnectPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  IPubackPacket,
  IPubrecPacket,
  IPubrelPacket,
  IPubcompPacket,
  IDisconnectPacket,
  ISubscription,
  UserProperties,
} from 'mqtt-packet';

export type ProtocolVersion = 3 | 4 | 5;

interface Sink {
  onPacket(packet: Packet): void;
  onError(err: ProtocolError): void;
}

/**
 * Splits a byte stream into whole MQTT packets and parses each one.
 * Invariant: `pending` never holds more than one packet's bytes, bounded by maxPacketBytes.
 */
export class PacketReader {
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly sink: Sink;
  private maxPacketBytes: number;
  /** Bytes of an unfinished packet, kept as chunks and joined once the packet is whole. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Size of the unfinished packet once its header has arrived, else 0. */
  private need = 0;
  private failed = false;
  private current: Packet | null = null;
  private parseError: Error | null = null;

  constructor(maxPacketBytes: number, sink: Sink) {
    this.maxPacketBytes = maxPacketBytes;
    this.sink = sink;
    this.parser = mqttPacket.parser({ protocolVersion: 4 });
    this.parser.on('packet', (p: Packet) => {
      this.current = p;
    });
    this.parser.on('error', (e: Error) => {
      this.parseError = e;
    });
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    if (this.pendingLength > 0) {
      // Joining on every chunk would copy a large packet sent in small pieces quadratically.
      if (this.need > 0 && this.pendingLength + chunk.length < this.need) {
        this.pending.push(chunk);
        this.pendingLength += chunk.length;
        return;
      }
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingLength + chunk.length);
      this.pending = [];
      this.pendingLength = 0;
      this.need = 0;
    }
    let offset = 0;
    const end = buf.length;
    while (offset < end && !this.failed) {
      // Fixed header: 1 byte type/flags, then the Remaining Length as a variable byte integer
      // of at most 4 bytes [MQTT-2.2.3], [MQTT-1.5.5-1].
      let length = 0;
      let multiplier = 1;
      let pos = offset + 1;
      let complete = false;
      for (let i = 0; i < 4; i++) {
        if (pos >= end) break;
        const byte = buf[pos++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (i === 3) {
          return this.fail(malformed('remaining length is longer than 4 bytes'));
        }
      }
      if (!complete) break;
      const total = pos - offset + length;
      this.need = total;
      if (total > this.maxPacketBytes) {
        return this.fail(
          new ProtocolError('packet-too-large', RC.packetTooLarge, `packet of ${total} bytes exceeds the maximum of ${this.maxPacketBytes}`),
        );
      }
      if (offset + total > end) break;
      this.need = 0;
      const packet = this.parseOne(buf.subarray(offset, offset + total));
      if (packet === null) return;
      offset += total;
      this.sink.onPacket(packet);
    }
    if (offset < end && !this.failed) {
      // Copy so that a large socket chunk is not kept alive by a small unfinished tail.
      const tail = Buffer.from(buf.subarray(offset));
      this.pending = [tail];
      this.pendingLength = tail.length;
    } else {
      this.need = 0;
    }
  }

  /** A v5 client may lower what we accept only for what we send; this is what we accept. */
  setMaxPacketBytes(n: number): void {
    this.maxPacketBytes = n;
  }

  private parseOne(bytes: Buffer): Packet | null {
    // mqtt-packet decodes strings leniently (bad bytes become U+FFFD); topics must be well-formed
    // UTF-8 [MQTT-1.5.3-1], so check the raw bytes of the strings that name topics.
    if (!topicsAreUtf8(bytes)) {
      this.fail(malformed('topic is not well-formed UTF-8'));
      return null;
    }
    this.current = null;
    this.parseError = null;
    this.parser.parse(bytes);
    // Both fields are set by the parser's synchronous callbacks above, which TS cannot see.
    const error = this.parseError as Error | null;
    if (error !== null || this.current === null) {
      const message = error ? error.message : 'packet could not be parsed';
      this.fail(classifyParseError(message));
      return null;
    }
    const problem = checkPacket(this.current);
    if (problem !== null) {
      this.fail(problem);
      return null;
    }
    return this.current;
  }

  private fail(err: ProtocolError): void {
    this.failed = true;
    this.pending = [];
    this.pendingLength = 0;
    this.sink.onError(err);
  }
}

/**
 * Checks the topic of a PUBLISH (the hot path, where a bad topic would be stored and forwarded).
 * Filters in SUBSCRIBE are not checked here: a mangled filter matches nothing real.
 */
function topicsAreUtf8(bytes: Buffer): boolean {
  if (bytes[0]! >> 4 !== 3) return true;
  let pos = 1;
  while ((bytes[pos++]! & 0x80) !== 0);
  if (pos + 2 > bytes.length) return true; // too short: the parser reports it
  const len = bytes.readUInt16BE(pos);
  return isUtf8(bytes.subarray(pos + 2, Math.min(bytes.length, pos + 2 + len)));
}

/** v5 properties allowed in a client's PUBLISH [MQTT-3.3.2.3]; others are a protocol error. */
const PUBLISH_PROPERTIES = new Set([
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'topicAlias',
  'responseTopic',
  'correlationData',
  'userProperties',
  'subscriptionIdentifier',
  'contentType',
]);

/**
 * What mqtt-packet accepts but the specification does not: a property other than User Property
 * given twice (mqtt-packet turns it into an array) [MQTT-2.2.2-?, v5 2.2.2.2], packet identifier 0
 * [MQTT-2.2.1-3], DUP on QoS 0 [MQTT-3.3.1-2], PUBLISH properties that belong to other packets.
 */
function checkPacket(packet: Packet): ProtocolError | null {
  const p = packet as { cmd: string; messageId?: number; qos?: number; dup?: boolean; properties?: Record<string, unknown>; will?: { properties?: Record<string, unknown> } };
  const duplicate = repeatedProperty(p.properties) ?? repeatedProperty(p.will?.properties);
  if (duplicate !== null) return protocolErrorFor(`property ${duplicate} appears more than once`);
  switch (p.cmd) {
    case 'publish':
      if (p.qos === 0 && p.dup) return malformed('DUP must be 0 on a QoS 0 PUBLISH');
      if (p.qos! > 0 && !(p.messageId! > 0)) return malformed('a QoS 1/2 PUBLISH needs a non-zero packet identifier');
      if (p.properties) {
        for (const key of Object.keys(p.properties)) {
          if (!PUBLISH_PROPERTIES.has(key)) return protocolErrorFor(`property ${key} is not allowed in PUBLISH`);
        }
      }
      return null;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'subscribe':
    case 'unsubscribe':
      if (!(p.messageId! > 0)) return malformed(`${p.cmd.toUpperCase()} needs a non-zero packet identifier`);
      return null;
    default:
      return null;
  }
}

function repeatedProperty(properties: Record<string, unknown> | undefined): string | null {
  if (properties === undefined) return null;
  for (const [key, value] of Object.entries(properties)) {
    if (key !== 'userProperties' && Array.isArray(value)) return key;
  }
  return null;
}

const protocolErrorFor = (message: string) => new ProtocolError('protocol-error', RC.protocolError, message);

function classifyParseError(message: string): ProtocolError {
  if (/protocol version/i.test(message)) {
    return new ProtocolError('unsupported-protocol-version', RC.unsupportedProtocolVersion, message);
  }
  if (/protocolId/i.test(message)) {
    return new ProtocolError('unsupported-protocol', RC.unsupportedProtocolVersion, message);
  }
  return malformed(message);
}

export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, { protocolVersion });
}
