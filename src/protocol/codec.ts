// Bytes <-> packets. mqtt-packet does the parsing and encoding; this module adds what a server
// needs around it: a packet size bound enforced from the fixed header, before the body is buffered
// (so a client announcing a 200 MB packet costs us nothing), the structure of every packet checked
// on its bytes before mqtt-packet reads it (wire-check.ts), and one parser per connection that
// switches to v5 property parsing once it has seen a v5 CONNECT.
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { ProtocolError, malformed } from './errors.js';
import { RC } from './reason-codes.js';
import { checkWire } from './wire-check.js';
import { decodePublish } from './publish-decoder.js';

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
  /** Asked after each packet that has more behind it: true stops reading there (see holding). */
  holdInput?(): boolean;
}

/**
 * mqtt-packet's parser, shared by every connection. Each connection owning one cost an
 * EventEmitter, a `bl` BufferListStream (a Duplex stream with both its states) and the CONNECT
 * packet it keeps as its settings: about a kilobyte and a half of every idle connection. Sharing is
 * safe because it is only ever handed one whole packet (PacketReader frames them) and emits that
 * packet synchronously, so no state outlives a parse() call; the protocol version, the only setting
 * that differs between connections, is set before each call.
 */
const sharedParser = mqttPacket.parser({ protocolVersion: 4 }) as ReturnType<typeof mqttPacket.parser> & {
  settings: object;
  _list: { length: number };
  _stateCounter: number;
  _pos: number;
  _resetState(): void;
};
let parsed: Packet | null = null;
let parseFailure: Error | null = null;
sharedParser.on('packet', (p: Packet) => {
  parsed = p;
});
sharedParser.on('error', (e: Error) => {
  parseFailure = e;
});
/** Parser settings per protocol version (mqtt-packet reads `protocolVersion` and `bridgeMode`). */
const SETTINGS: Record<ProtocolVersion, { protocolVersion: ProtocolVersion }> = {
  3: { protocolVersion: 3 },
  4: { protocolVersion: 4 },
  5: { protocolVersion: 5 },
};

/** Parses one whole packet with the shared parser; sets `parsed` or `parseFailure`. */
function parseWhole(bytes: Buffer, settings: object): void {
  parsed = null;
  parseFailure = null;
  sharedParser.settings = settings;
  sharedParser.parse(bytes);
  // A whole packet leaves the parser idle; anything else (an error, a malformed packet it read
  // short) must not leak into the next connection's packet. `_resetState` leaves the read
  // position alone (mqtt-packet's own parsers never parse again after an error).
  if (parseFailure !== null || sharedParser._stateCounter !== 0 || sharedParser._list.length !== 0 || sharedParser._pos !== 0) {
    sharedParser._resetState();
    sharedParser._pos = 0;
    if (parsed === null && parseFailure === null) parseFailure = new Error('packet could not be parsed');
  }
}

/**
 * Splits a byte stream into whole MQTT packets and parses each one.
 * Invariant: `pending` never holds more than one packet's bytes, bounded by maxPacketBytes.
 */
export class PacketReader {
  private readonly sink: Sink;
  private maxPacketBytes: number;
  /** mqtt-packet settings: the protocol version, from the CONNECT once it is parsed. */
  private settings: object = SETTINGS[4];
  /** The same version, for checkWire. */
  private version: ProtocolVersion = 4;
  /** Bytes of an unfinished packet, kept as chunks and joined once the packet is whole (lazily allocated). */
  private pending: Buffer[] | null = null;
  private pendingLength = 0;
  /** Size of the unfinished packet once its header has arrived, else 0. */
  private need = 0;
  private failed = false;
  private held = false;

  constructor(maxPacketBytes: number, sink: Sink) {
    this.maxPacketBytes = maxPacketBytes;
    this.sink = sink;
  }

  /**
   * The sink asked to stop after a packet (holdInput): the bytes behind it are kept, and the next
   * push (an empty one will do) reads them first.
   */
  get holding(): boolean {
    return this.held;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.held = false;
    let buf = chunk;
    if (this.pendingLength > 0) {
      // Joining on every chunk would copy a large packet sent in small pieces quadratically.
      const pending = this.pending!;
      if (this.need > 0 && this.pendingLength + chunk.length < this.need) {
        pending.push(chunk);
        this.pendingLength += chunk.length;
        return;
      }
      pending.push(chunk);
      buf = Buffer.concat(pending, this.pendingLength + chunk.length);
      this.pending = null;
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
      if (offset < end && this.sink.holdInput !== undefined && this.sink.holdInput()) {
        this.held = true;
        break;
      }
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
    // PUBACK, the packet QoS 1 subscribers send for every delivery, without the general parser.
    // Only its plain form: two bytes of packet identifier (a v5 PUBACK that short means Success).
    if (bytes.length === 4 && bytes[0] === 0x40 && bytes[1] === 0x02) {
      const messageId = (bytes[2]! << 8) | bytes[3]!;
      if (messageId === 0) {
        this.fail(malformed('PUBACK needs a non-zero packet identifier'));
        return null;
      }
      return pubackPacket(messageId, this.settings === SETTINGS[5]);
    }
    // The common PUBLISH in one pass (publish-decoder.ts); null for anything it does not accept,
    // which the general path below accepts or refuses.
    if (bytes[0]! >> 4 === 3) {
      const publish = decodePublish(bytes, this.version);
      if (publish !== null) return publish;
    }
    // mqtt-packet is lenient (strings past the end become null, bad UTF-8 becomes U+FFFD, extra
    // bytes are ignored): what the packet cannot hold is refused here, on its bytes.
    const wrong = checkWire(bytes, this.version);
    if (wrong !== null) {
      this.fail(wrong);
      return null;
    }
    parseWhole(bytes, this.settings);
    // Both are set by the parser's synchronous callbacks, which TS cannot see.
    const error = parseFailure as Error | null;
    const packet = parsed as Packet | null;
    parsed = null;
    parseFailure = null;
    if (error !== null || packet === null) {
      const message = error ? error.message : 'packet could not be parsed';
      this.fail(classifyParseError(message));
      return null;
    }
    if (packet.cmd === 'connect') {
      const version = packet.protocolVersion;
      const known = version === 3 || version === 4 || version === 5 ? SETTINGS[version] : SETTINGS[4];
      // A bridge's CONNECT (protocol version | 0x80) changes how mqtt-packet reads SUBSCRIBE.
      this.settings = (packet as { bridgeMode?: boolean }).bridgeMode ? { protocolVersion: known.protocolVersion, bridgeMode: true } : known;
      this.version = known.protocolVersion;
    }
    const problem = checkPacket(packet);
    if (problem !== null) {
      this.fail(problem);
      return null;
    }
    return packet;
  }

  private fail(err: ProtocolError): void {
    this.failed = true;
    this.pending = null;
    this.pendingLength = 0;
    this.sink.onError(err);
  }
}

/** A PUBACK as mqtt-packet would parse it. */
function pubackPacket(messageId: number, v5: boolean): Packet {
  const packet = { cmd: 'puback', retain: false, qos: 0, dup: false, length: 2, topic: null, payload: null, messageId } as Packet & { reasonCode?: number };
  if (v5) packet.reasonCode = 0;
  return packet;
}

/**
 * What mqtt-packet accepts but the specification does not: a property other than User Property
 * given twice (mqtt-packet turns it into an array) [MQTT-2.2.2-?, v5 2.2.2.2], packet identifier 0
 * [MQTT-2.2.1-3], DUP on QoS 0 [MQTT-3.3.1-2]. (Properties that belong to other packets are
 * refused by checkWire.)
 */
function checkPacket(packet: Packet): ProtocolError | null {
  const p = packet as { cmd: string; messageId?: number; qos?: number; dup?: boolean; properties?: Record<string, unknown>; will?: { properties?: Record<string, unknown> } };
  const duplicate = repeatedProperty(p.properties) ?? repeatedProperty(p.will?.properties);
  if (duplicate !== null) return protocolErrorFor(`property ${duplicate} appears more than once`);
  switch (p.cmd) {
    case 'publish':
      if (p.qos === 0 && p.dup) return malformed('DUP must be 0 on a QoS 0 PUBLISH');
      if (p.qos! > 0 && !(p.messageId! > 0)) return malformed('a QoS 1/2 PUBLISH needs a non-zero packet identifier');
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
  // The PUBACK of every inbound QoS 1 PUBLISH, without mqtt-packet's generate() (a stream object
  // per call): type and Remaining Length 2, then the packet identifier [MQTT-3.4]. In v5 this short
  // form means Success and is what mqtt-packet writes for reason code 0 (v5 §3.4.2.1).
  if (packet.cmd === 'puback' && packet.properties === undefined) {
    const id = packet.messageId;
    const plain = protocolVersion === 5 ? packet.reasonCode === 0 : packet.reasonCode === undefined;
    if (plain && id !== undefined && Number.isInteger(id) && id > 0 && id <= 0xffff) {
      const out = Buffer.allocUnsafe(4);
      out[0] = 0x40;
      out[1] = 0x02;
      out[2] = id >> 8;
      out[3] = id & 0xff;
      return out;
    }
  }
  return mqttPacket.generate(packet, { protocolVersion });
}
