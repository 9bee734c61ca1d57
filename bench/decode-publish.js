#!/usr/bin/env node
// What decoding an inbound PUBLISH costs through src/protocol/codec.ts (framing, the wire check,
// mqtt-packet's parser, the semantic check) against a minimal decoder written for PUBLISH alone
// that does the same checks and returns the same object: the figure behind "pin mqtt-packet or
// write our own decoder" (issue 14, docs/architecture.md).
//
//   npm run build && node bench/decode-publish.js [--packets N] [--rounds R]
//
// Each case pushes one buffer of N back-to-back PUBLISH packets (as a socket read of a busy
// publisher brings them) through a PacketReader and through the hand decoder, alternating, R
// rounds; prints the median ns of CPU per packet of each and the difference, and of the two parts
// of codec.ts's cost: mqtt-packet's parse() alone and wire-check.ts alone. Both decoders' output
// is compared field by field first, so the hand decoder is known to do the same work.
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqttPacket from 'mqtt-packet';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = (file) => import(pathToFileURL(path.join(here, '..', 'dist', 'protocol', file)).href);
const { PacketReader } = await dist('codec.js');
const { checkWire } = await dist('wire-check.js');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const PACKETS = option('--packets', 1000);
const ROUNDS = option('--rounds', 15);
const REPEAT = option('--repeat', 20);
const WARMUP = 5;

const payload = Buffer.alloc(64, 0x61);
const CASES = [
  { name: 'v3.1.1 QoS 0, 64 B', version: 4, packet: { cmd: 'publish', topic: 'bench/pair/42', payload, qos: 0, retain: false, dup: false } },
  { name: 'v3.1.1 QoS 1, 64 B', version: 4, packet: { cmd: 'publish', topic: 'bench/pair/42', payload, qos: 1, messageId: 7, retain: false, dup: false } },
  { name: 'v5 QoS 1, no properties', version: 5, packet: { cmd: 'publish', topic: 'bench/pair/42', payload, qos: 1, messageId: 7, retain: false, dup: false, properties: {} } },
  {
    name: 'v5 QoS 1, 3 properties',
    version: 5,
    packet: {
      cmd: 'publish', topic: 'sensors/device-1234/data', payload, qos: 1, messageId: 7, retain: false, dup: false,
      properties: { contentType: 'application/json', messageExpiryInterval: 60, userProperties: { site: 'north' } },
    },
  },
];

// ---- the hand decoder: framing + PUBLISH, same checks as wire-check.ts and checkPacket ----

class Malformed extends Error {}
const PUBLISH_PROPERTY_TYPES = new Map([
  [0x01, 'byte'], [0x02, 'int32'], [0x03, 'string'], [0x08, 'string'], [0x09, 'binary'], [0x0b, 'varint'], [0x23, 'int16'], [0x26, 'pair'],
]);
const PROPERTY_NAMES = new Map([
  [0x01, 'payloadFormatIndicator'], [0x02, 'messageExpiryInterval'], [0x03, 'contentType'], [0x08, 'responseTopic'],
  [0x09, 'correlationData'], [0x0b, 'subscriptionIdentifier'], [0x23, 'topicAlias'],
]);

function readString(buf, pos, end) {
  if (pos + 2 > end) throw new Malformed('string length past the end');
  const length = (buf[pos] << 8) | buf[pos + 1];
  const start = pos + 2;
  const stop = start + length;
  if (stop > end) throw new Malformed('string past the end');
  let i = start;
  for (; i < stop; i++) {
    const b = buf[i];
    if (b === 0) throw new Malformed('U+0000');
    if (b >= 0x80) break;
  }
  if (i < stop) {
    const bytes = buf.subarray(i, stop);
    if (!isUtf8(bytes) || bytes.includes(0)) throw new Malformed('bad UTF-8');
  }
  return buf.toString('utf8', start, stop);
}

function readVarint(buf, pos, end) {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (pos >= end) throw new Malformed('varint past the end');
    const b = buf[pos++];
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return [value, pos];
    multiplier *= 128;
  }
  throw new Malformed('varint too long');
}

function readProperties(buf, pos, end) {
  let length;
  [length, pos] = readVarint(buf, pos, end);
  const stop = pos + length;
  if (stop > end) throw new Malformed('properties past the end');
  const properties = {};
  while (pos < stop) {
    let id;
    [id, pos] = readVarint(buf, pos, stop);
    const type = PUBLISH_PROPERTY_TYPES.get(id);
    if (type === undefined) throw new Malformed('property not valid in PUBLISH');
    if (type === 'pair') {
      const key = readString(buf, pos, stop);
      pos += 2 + Buffer.byteLength(key);
      const value = readString(buf, pos, stop);
      pos += 2 + Buffer.byteLength(value);
      const user = (properties.userProperties ??= {});
      const had = user[key];
      user[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
      continue;
    }
    const name = PROPERTY_NAMES.get(id);
    if (name in properties) throw new Malformed('property given twice');
    let value;
    switch (type) {
      case 'byte': if (pos + 1 > stop) throw new Malformed('past the end'); value = buf[pos] === 1; pos += 1; break;
      case 'int16': if (pos + 2 > stop) throw new Malformed('past the end'); value = buf.readUInt16BE(pos); pos += 2; break;
      case 'int32': if (pos + 4 > stop) throw new Malformed('past the end'); value = buf.readUInt32BE(pos); pos += 4; break;
      case 'varint': [value, pos] = readVarint(buf, pos, stop); break;
      case 'string': value = readString(buf, pos, stop); pos += 2 + Buffer.byteLength(value); break;
      case 'binary': {
        if (pos + 2 > stop) throw new Malformed('past the end');
        const n = buf.readUInt16BE(pos);
        if (pos + 2 + n > stop) throw new Malformed('past the end');
        value = buf.subarray(pos + 2, pos + 2 + n);
        pos += 2 + n;
        break;
      }
    }
    properties[name] = value;
  }
  return [properties, pos];
}

function decodePublish(buf, start, bodyStart, end, version) {
  const flags = buf[start] & 0x0f;
  const qos = (flags >> 1) & 3;
  const dup = (flags & 8) !== 0;
  if (qos === 3) throw new Malformed('QoS 3');
  if (qos === 0 && dup) throw new Malformed('DUP on QoS 0');
  let pos = bodyStart;
  const topic = readString(buf, pos, end);
  pos += 2 + Buffer.byteLength(topic);
  let messageId;
  if (qos > 0) {
    if (pos + 2 > end) throw new Malformed('packet id past the end');
    messageId = (buf[pos] << 8) | buf[pos + 1];
    if (messageId === 0) throw new Malformed('packet id 0');
    pos += 2;
  }
  const packet = { cmd: 'publish', retain: (flags & 1) !== 0, qos, dup, length: end - bodyStart, topic, payload: null };
  if (messageId !== undefined) packet.messageId = messageId;
  if (version === 5) {
    let properties;
    [properties, pos] = readProperties(buf, pos, end);
    if (Object.keys(properties).length > 0) packet.properties = properties;
  }
  packet.payload = buf.subarray(pos, end);
  return packet;
}

/** Frames packets as PacketReader does (fixed header, Remaining Length), PUBLISH only. */
function handRead(buf, version, onPacket) {
  let offset = 0;
  while (offset < buf.length) {
    let length = 0;
    let multiplier = 1;
    let pos = offset + 1;
    for (let i = 0; i < 4; i++) {
      const b = buf[pos++];
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) break;
    }
    const end = pos + length;
    if (buf[offset] >> 4 !== 3) throw new Error('the hand decoder reads PUBLISH only');
    onPacket(decodePublish(buf, offset, pos, end, version));
    offset = end;
  }
}

// ---- the comparison ----

function connectBytes(version) {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: 'bench', clean: true, keepalive: 60 }, { protocolVersion: version });
}

function comparable(p) {
  const { cmd, retain, qos, dup, topic, messageId, properties } = p;
  return JSON.stringify({ cmd, retain, qos, dup, topic, messageId: messageId ?? null, properties: properties ?? {}, payload: Buffer.from(p.payload).toString('hex') });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`node ${process.version}, mqtt-packet ${(await import('mqtt-packet/package.json', { with: { type: 'json' } })).default.version}; ${PACKETS} packets per buffer, ${ROUNDS} rounds, median ns per PUBLISH`);
console.log('case'.padEnd(28) + ['codec.ts', 'hand', 'saved', 'mqtt-packet', 'wire-check'].map((h) => h.padStart(12)).join(''));
for (const c of CASES) {
  const one = mqttPacket.generate(c.packet, { protocolVersion: c.version });
  const many = Buffer.concat(Array.from({ length: PACKETS }, () => one));
  let count = 0;
  let last = null;
  const reader = new PacketReader(1 << 20, {
    onPacket(p) { count++; last = p; },
    onError(e) { throw e; },
  });
  reader.push(connectBytes(c.version));
  count = 0;
  const handSink = (p) => { count++; last = p; };

  // Same output from both, before anything is timed.
  reader.push(one);
  const viaCodec = comparable(last);
  handRead(one, c.version, handSink);
  const viaHand = comparable(last);
  if (viaCodec !== viaHand) throw new Error(`${c.name}: the decoders disagree:\n${viaCodec}\n${viaHand}`);

  // CPU time (process.cpuUsage), not wall time: the machine is shared, and a descheduled
  // process would otherwise be charged for its neighbours. Each sample is REPEAT pushes of the
  // buffer, long enough for the microsecond clock; the first WARMUP samples are not counted.
  const cpuNs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  };
  const codecTimes = [];
  const handTimes = [];
  const parserTimes = [];
  const wireTimes = [];
  const parser = mqttPacket.parser({ protocolVersion: c.version });
  parser.on('packet', () => count++);
  for (let r = 0; r < ROUNDS + WARMUP; r++) {
    count = 0;
    let t = cpuNs();
    for (let k = 0; k < REPEAT; k++) reader.push(many);
    const codecNs = (cpuNs() - t) / (PACKETS * REPEAT);
    if (count !== PACKETS * REPEAT) throw new Error('codec.ts lost packets');
    count = 0;
    t = cpuNs();
    for (let k = 0; k < REPEAT; k++) handRead(many, c.version, handSink);
    const handNs = (cpuNs() - t) / (PACKETS * REPEAT);
    if (count !== PACKETS * REPEAT) throw new Error('hand decoder lost packets');
    count = 0;
    t = cpuNs();
    for (let k = 0; k < REPEAT * PACKETS; k++) parser.parse(one);
    const parserNs = (cpuNs() - t) / (PACKETS * REPEAT);
    if (count !== PACKETS * REPEAT) throw new Error('mqtt-packet lost packets');
    t = cpuNs();
    for (let k = 0; k < REPEAT * PACKETS; k++) if (checkWire(one, c.version) !== null) throw new Error('wire check refused');
    const wireNs = (cpuNs() - t) / (PACKETS * REPEAT);
    if (r >= WARMUP) {
      codecTimes.push(codecNs);
      handTimes.push(handNs);
      parserTimes.push(parserNs);
      wireTimes.push(wireNs);
    }
  }
  const a = median(codecTimes);
  const b = median(handTimes);
  const figures = [a, b, a - b, median(parserTimes), median(wireTimes)];
  console.log(c.name.padEnd(28) + figures.map((x) => x.toFixed(0).padStart(12)).join(''));
}
