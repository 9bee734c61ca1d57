// PUBLISH encoding for delivery. A broadcast encodes each distinct form (protocol version, QoS,
// RETAIN flag) once and writes the same bytes to every subscriber that shares it; for QoS 1/2 the
// shared bytes are a template whose packet identifier the connection patches into its copy (a
// WebSocket frames the template once and patches the framed copy).
import type { IPublishPacket } from '../protocol/codec.js';
import { encode } from '../protocol/codec.js';
import type { Message, QoS } from '../shared/message.js';
import { remainingExpirySeconds } from '../shared/message.js';

export interface PublishForm {
  version: 3 | 4 | 5;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  packetId: number;
  subscriptionIds: number[] | undefined;
  /** Server -> client topic alias, and whether the topic may be omitted because the alias is known. */
  topicAlias: number;
  omitTopic: boolean;
}

export function encodePublish(message: Message, form: PublishForm, now: number): Buffer {
  // Without properties (any v3.1.1 delivery, and a v5 one with nothing to carry) the bytes are
  // written here in one pass: mqtt-packet's generate() (stream shims, `debug` calls) was a sixth
  // of the broker's CPU per delivery with one subscriber per message (docs/benchmarks.md, issue #18).
  if (
    form.version !== 5 ||
    (message.properties === undefined && message.expiresAt === 0 && form.subscriptionIds === undefined && form.topicAlias === 0)
  ) {
    if (!form.omitTopic) return encodePlainPublish(message, form);
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: form.omitTopic ? '' : message.topic,
    payload: message.payload,
    qos: form.qos,
    retain: form.retain,
    dup: form.dup,
  };
  if (form.qos > 0) packet.messageId = form.packetId;
  if (form.version === 5) {
    const props: NonNullable<IPublishPacket['properties']> = message.properties ? { ...message.properties } : {};
    const expiry = remainingExpirySeconds(message, now);
    if (expiry !== undefined) props.messageExpiryInterval = expiry;
    if (form.subscriptionIds !== undefined) {
      props.subscriptionIdentifier = form.subscriptionIds.length === 1 ? form.subscriptionIds[0]! : form.subscriptionIds;
    }
    if (form.topicAlias > 0) props.topicAlias = form.topicAlias;
    if (Object.keys(props).length > 0) packet.properties = props;
  }
  return encode(packet, form.version);
}

/**
 * A PUBLISH without properties, as mqtt-packet would generate it: fixed header (type, DUP, QoS,
 * RETAIN), Remaining Length, topic, packet identifier for QoS 1/2, for v5 an empty property block,
 * payload [MQTT-3.3.1, 3.3.2, 3.3.3].
 */
function encodePlainPublish(message: Message, form: PublishForm): Buffer {
  const topic = message.topic;
  const payload = message.payload;
  const topicBytes = Buffer.byteLength(topic);
  const remaining = 2 + topicBytes + (form.qos > 0 ? 2 : 0) + (form.version === 5 ? 1 : 0) + payload.length;
  // The largest Remaining Length a variable byte integer holds [MQTT-1.5.5]; mqtt-packet throws too.
  if (remaining > 268_435_455) throw new Error(`PUBLISH of ${remaining} bytes cannot be encoded`);
  const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (form.dup ? 0x08 : 0) | (form.qos << 1) | (form.retain ? 0x01 : 0);
  let pos = 1;
  let rest = remaining;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (rest > 0);
  out[pos++] = topicBytes >> 8;
  out[pos++] = topicBytes & 0xff;
  pos += out.write(topic, pos, 'utf8');
  if (form.qos > 0) {
    out[pos++] = form.packetId >> 8;
    out[pos++] = form.packetId & 0xff;
  }
  if (form.version === 5) out[pos++] = 0;
  payload.copy(out, pos);
  return out;
}

/** Offset of the packet identifier in an encoded QoS 1/2 PUBLISH. */
function packetIdOffset(bytes: Buffer): number {
  let pos = 1;
  while ((bytes[pos++]! & 0x80) !== 0);
  const topicLength = bytes.readUInt16BE(pos);
  return pos + 2 + topicLength;
}

/** An encoded PUBLISH shared by a broadcast; for QoS 1/2, `idOffset` locates its packet identifier. */
export interface PublishTemplate {
  readonly bytes: Buffer;
  readonly idOffset: number;
}

/** Lives for one broadcast: encodes each form at most once. */
export class BroadcastEncoder {
  private readonly slots: (PublishTemplate | undefined)[] = new Array(12);
  private readonly message: Message;
  private readonly now: number;

  constructor(message: Message, now: number) {
    this.message = message;
    this.now = now;
  }

  /** The shared encoding for a plain delivery (no subscription ids, no alias); packet id 1 when QoS > 0. */
  template(version: 3 | 4 | 5, qos: QoS, retain: boolean): PublishTemplate {
    const index = (version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    let t = this.slots[index];
    if (t === undefined) {
      const bytes = encodePublish(
        this.message,
        { version, qos, retain, dup: false, packetId: 1, subscriptionIds: undefined, topicAlias: 0, omitTopic: false },
        this.now,
      );
      t = { bytes, idOffset: qos > 0 ? packetIdOffset(bytes) : 0 };
      this.slots[index] = t;
    }
    return t;
  }

  /** Bytes for a plain delivery with the given packet id: the shared bytes for QoS 0, else a patched copy. */
  bytes(version: 3 | 4 | 5, qos: QoS, retain: boolean, packetId: number): Buffer {
    const t = this.template(version, qos, retain);
    if (qos === 0) return t.bytes;
    const copy = Buffer.allocUnsafe(t.bytes.length);
    t.bytes.copy(copy);
    copy.writeUInt16BE(packetId, t.idOffset);
    return copy;
  }
}

// Most QoS 1/2 deliveries of a burst wait in their session's queue (the in-flight window is
// 100) and leave one by one as acknowledgements arrive, each subscriber at its own pace. The
// encoders of the messages recently sent from queues are kept (a bounded map, oldest out first),
// so those deliveries too share one encoding per message instead of being encoded each. Large
// payloads are left out: their copy costs more than the encoding, and they would pin memory.
const RECENT_LIMIT = 256;
const RECENT_MAX_PAYLOAD = 16 * 1024;
const recent = new Map<Message, BroadcastEncoder>();

/**
 * A shared encoder for a message leaving a session queue; null when its encoding depends on the
 * time it is sent (a v5 Message Expiry Interval counts down [MQTT-3.3.2-6]) or it is large.
 */
export function queuedEncoder(message: Message): BroadcastEncoder | null {
  if (message.expiresAt !== 0 || message.payload.length > RECENT_MAX_PAYLOAD) return null;
  let encoder = recent.get(message);
  if (encoder === undefined) {
    if (recent.size >= RECENT_LIMIT) recent.delete(recent.keys().next().value!);
    encoder = new BroadcastEncoder(message, 0);
    recent.set(message, encoder);
  }
  return encoder;
}
