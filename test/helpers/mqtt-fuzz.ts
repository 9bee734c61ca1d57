// Seeded mutation fuzzing of MQTT packets, shared by the codec's unit fuzz test and the
// integration fuzz test (SECURITY.md: parsers get seeded, bounded fuzz tests in the normal suite).
//
// Valid packets of every type, in v3.1.1 and v5, are mutated: bit flips, byte inserts and
// deletes, overwrites with boundary bytes, length-field tweaks (a 16-bit length or a property
// length made too long or too short), truncation, splicing with another packet, a repeated slice.
// The Remaining Length is recomputed for most mutants, so that they reach the packet parser
// instead of only its framing; some keep the old one.
//
// Reproduce a failure with the seed the test prints: FUZZ_SEED=<seed> node --import tsx --test <file>.
import mqttPacket, { type Packet } from 'mqtt-packet';
import { prng } from './prng.js';
export { prng };

/** The seed from FUZZ_SEED, else a fresh one; the caller prints it. */
export function fuzzSeed(): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

export type Rng = () => number;
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

const gen = (p: Packet, v: 4 | 5) => mqttPacket.generate(p, { protocolVersion: v });

/** CONNECT packets (first packet of a connection), for version v. */
export function connectPackets(v: 4 | 5, clientId: string): Buffer[] {
  const p5 = <T>(x: T) => (v === 5 ? x : undefined);
  return [
    gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId, clean: true, keepalive: 0 } as Packet, v),
    gen({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId, clean: true, keepalive: 60, username: 'user-ü', password: Buffer.from('pw'),
      will: { topic: 'fuzz/will', payload: Buffer.from('gone'), qos: 1, retain: true, properties: p5({ willDelayInterval: 0, contentType: 'text/plain', userProperties: { wk: 'wv' } }) },
      properties: p5({ sessionExpiryInterval: 0, receiveMaximum: 50, maximumPacketSize: 65536, topicAliasMaximum: 4, requestProblemInformation: true, userProperties: { ck: ['a', 'b'] } }),
    } as Packet, v),
  ];
}

/** Packets a client sends after CONNECT, of every type (and the server's own types, which a client must not send). */
export function sessionPackets(v: 4 | 5): Buffer[] {
  const p5 = <T>(x: T) => (v === 5 ? x : undefined);
  const userProperties = { k: 'v', 'ключ': ['x', 'y'] };
  const out: Packet[] = [
    { cmd: 'publish', topic: 'fuzz/a', payload: Buffer.from('q0'), qos: 0, retain: false, dup: false },
    { cmd: 'publish', topic: 'fuzz/r0', payload: Buffer.from('retained q0'), qos: 0, retain: true, dup: false, properties: p5({ userProperties }) } as Packet,
    { cmd: 'publish', topic: 'fuzz/r1', payload: Buffer.from('retained q1'), qos: 1, messageId: 11, retain: true, dup: false,
      properties: p5({ payloadFormatIndicator: true, messageExpiryInterval: 3600, contentType: 'text/plain', responseTopic: 'fuzz/resp', correlationData: Buffer.from([1, 2, 3]), userProperties }) } as Packet,
    { cmd: 'publish', topic: 'fuzz/q2', payload: Buffer.from('q2'), qos: 2, messageId: 12, retain: false, dup: false, properties: p5({ topicAlias: 1, userProperties: { a: 'b' } }) } as Packet,
    { cmd: 'puback', messageId: 1, ...(v === 5 ? { reasonCode: 0x10, properties: { reasonString: 'none', userProperties: { p: 'q' } } } : {}) } as Packet,
    { cmd: 'pubrec', messageId: 2 } as Packet,
    { cmd: 'pubrel', messageId: 12, ...(v === 5 ? { reasonCode: 0, properties: { reasonString: 'r' } } : {}) } as Packet,
    { cmd: 'pubcomp', messageId: 3 } as Packet,
    { cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'fuzz/#', qos: 1, ...(v === 5 ? { nl: false, rap: true, rh: 0 } : {}) }, { topic: '+/r1', qos: 2 }], properties: p5({ subscriptionIdentifier: 9, userProperties: { s: 't' } }) } as Packet,
    { cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['fuzz/#', 'x/+'], properties: p5({ userProperties: { u: 'v' } }) } as Packet,
    { cmd: 'pingreq' },
    { cmd: 'disconnect', ...(v === 5 ? { reasonCode: 0, properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: { d: 'e' } } } : {}) } as Packet,
    // The server's own packet types.
    { cmd: 'connack', sessionPresent: false, ...(v === 5 ? { reasonCode: 0, properties: { receiveMaximum: 5 } } : { returnCode: 0 }) } as Packet,
    { cmd: 'suback', messageId: 4, granted: [0, 1] } as Packet,
    { cmd: 'unsuback', messageId: 5, ...(v === 5 ? { granted: [0] } : {}) } as Packet,
    { cmd: 'pingresp' },
  ];
  if (v === 5) out.push({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'm', authenticationData: Buffer.from([1]), reasonString: 'r' } } as Packet);
  const bytes = out.map((p) => gen(p, v));
  // The poison PUBLISH of issue 13 (a user property value length past the end) seeds the corpus
  // as one more v5 packet: mutations of it probe the same neighbourhood.
  if (v === 5) bytes.push(Buffer.from('33190008706f69736f6e2f720007062600016bffff504f49534f4e', 'hex'));
  return bytes;
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Splits a whole packet into its first byte and body. */
function split(packet: Buffer): { first: number; body: Buffer } {
  let pos = 1;
  while ((packet[pos++]! & 0x80) !== 0);
  return { first: packet[0]!, body: packet.subarray(pos) };
}

const BOUNDARY = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xed, 0xfe, 0xff];

/** One mutant of `packet`; `corpus` supplies splicing partners. */
export function mutate(rng: Rng, packet: Buffer, corpus: readonly Buffer[]): Buffer {
  const { first: firstByte, body: original } = split(packet);
  let first = firstByte;
  let body = Buffer.from(original);
  const rounds = 1 + int(rng, 3);
  for (let r = 0; r < rounds; r++) {
    const at = body.length > 0 ? int(rng, body.length) : 0;
    switch (int(rng, 9)) {
      case 0: // bit flip in the body
        if (body.length > 0) body[at] ^= 1 << int(rng, 8);
        break;
      case 1: // bit flip in the type/flags byte (flags mostly)
        first ^= 1 << int(rng, rng() < 0.8 ? 4 : 8);
        break;
      case 2: // insert a byte
        body = Buffer.concat([body.subarray(0, at), Buffer.from([int(rng, 256)]), body.subarray(at)]);
        break;
      case 3: // delete a byte
        if (body.length > 0) body = Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
        break;
      case 4: // overwrite with a boundary byte
        if (body.length > 0) body[at] = pick(rng, BOUNDARY);
        break;
      case 5: {
        // a 16-bit length made too long, too short or huge
        if (body.length < 2) break;
        // Mostly a position that looks like a length prefix (a small value that ends inside the
        // body), so real string and binary lengths get hit, not only random byte pairs.
        const plausible: number[] = [];
        for (let q = 0; q + 1 < body.length; q++) {
          const value = body.readUInt16BE(q);
          if (value < 256 && q + 2 + value <= body.length) plausible.push(q);
        }
        const p = plausible.length > 0 && rng() < 0.7 ? pick(rng, plausible) : int(rng, body.length - 1);
        const current = body.readUInt16BE(p);
        const choice = pick(rng, [0xffff, 0x8000, current + 1, current + 2, Math.max(0, current - 1), 0]);
        body.writeUInt16BE(choice & 0xffff, p);
        break;
      }
      case 6: // truncate
        body = body.subarray(0, at);
        break;
      case 7: {
        // splice: our prefix, another packet's body suffix
        const other = split(pick(rng, corpus)).body;
        body = Buffer.concat([body.subarray(0, at), other.subarray(other.length > 0 ? int(rng, other.length) : 0)]);
        break;
      }
      case 8: {
        // repeat a slice (a property or a subscription twice)
        const len = 1 + int(rng, Math.min(8, Math.max(1, body.length - at)));
        body = Buffer.concat([body.subarray(0, at + len), body.subarray(at, at + len), body.subarray(at + len)]);
        break;
      }
    }
  }
  // Mostly a consistent Remaining Length (the mutant reaches the parser); sometimes the old one.
  const length = rng() < 0.9 ? remainingLength(body.length) : [...packet.subarray(1, packet.length - original.length)];
  return Buffer.concat([Buffer.from([first, ...length]), body]);
}
