import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { checkWire } from '../../src/protocol/wire-check.js';
import { PacketReader } from '../../src/protocol/codec.js';
import type { ProtocolError } from '../../src/protocol/errors.js';

const gen = (p: Packet, v: 4 | 5) => mqttPacket.generate(p, { protocolVersion: v });
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A packet from its type byte and body, with the remaining length computed (body < 128 bytes). */
const pkt = (first: number, body: number[] | Buffer) => Buffer.concat([Buffer.from([first, body.length]), Buffer.from(body)]);
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return [b.length >> 8, b.length & 0xff, ...b];
};

// One valid packet of every type a client sends, in both versions.
const valid: Array<[string, Packet, 4 | 5]> = [];
for (const v of [4, 5] as const) {
  const p5 = <T>(x: T) => (v === 5 ? x : undefined);
  valid.push(
    ['CONNECT with will, user name, password', {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'dev-ü', clean: false, keepalive: 30, username: 'u', password: Buffer.from([0, 1, 0xff]),
      will: { topic: 'w/t', payload: Buffer.from([0xff, 0x00]), qos: 1, retain: true, properties: p5({ willDelayInterval: 5, contentType: 'a/b', userProperties: { k: ['1', '2'] } }) },
      properties: p5({ sessionExpiryInterval: 60, receiveMaximum: 10, maximumPacketSize: 1000, topicAliasMaximum: 3, requestProblemInformation: true, userProperties: { a: 'b' } }),
    } as Packet, v],
    ['PUBLISH QoS 0', { cmd: 'publish', topic: 'a/€', payload: Buffer.from([0xff, 0]), qos: 0, retain: false, dup: false }, v],
    ['PUBLISH QoS 2 with properties', {
      cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: 3, retain: true, dup: false,
      properties: p5({ payloadFormatIndicator: true, messageExpiryInterval: 9, topicAlias: 1, responseTopic: 'r', correlationData: Buffer.from([0]), contentType: 'c', userProperties: { k: 'v' } }),
    } as Packet, v],
    ['PUBACK', { cmd: 'puback', messageId: 1, ...(v === 5 ? { reasonCode: 0x10, properties: { reasonString: 'x' } } : {}) } as Packet, v],
    ['PUBREC', { cmd: 'pubrec', messageId: 1 } as Packet, v],
    ['PUBREL', { cmd: 'pubrel', messageId: 1 } as Packet, v],
    ['PUBCOMP', { cmd: 'pubcomp', messageId: 1 } as Packet, v],
    ['SUBSCRIBE', { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a/+', qos: 1, ...(v === 5 ? { nl: true, rap: true, rh: 1 } : {}) }, { topic: '#', qos: 0 }], properties: p5({ subscriptionIdentifier: 7 }) } as Packet, v],
    ['UNSUBSCRIBE', { cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+', '#'] } as Packet, v],
    ['PINGREQ', { cmd: 'pingreq' }, v],
    ['DISCONNECT', { cmd: 'disconnect', ...(v === 5 ? { reasonCode: 4, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } } : {}) } as Packet, v],
  );
}
valid.push(['AUTH', { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'm', authenticationData: Buffer.from([1]) } } as Packet, 5]);

test('valid packets of every type a client sends pass, in v3.1.1 and v5', () => {
  for (const [name, packet, v] of valid) assert.equal(checkWire(gen(packet, v), v), null, `v${v} ${name}`);
  // MQTT 3.1 ("MQIsdp", level 3) and a bridge's level (0x84).
  assert.equal(checkWire(pkt(0x10, [...str('MQIsdp'), 3, 0x02, 0, 0, ...str('c')]), 4), null);
  assert.equal(checkWire(pkt(0x10, [...str('MQTT'), 0x84, 0x02, 0, 0, ...str('c')]), 4), null);
});

// v5 CONNECT "MQTT" level 5 with the given properties and payload; v3.1.1 CONNECT likewise.
const connect5 = (flags: number, props: number[], payload: number[]) => pkt(0x10, [...str('MQTT'), 5, flags, 0, 0, props.length, ...props, ...payload]);
const connect4 = (flags: number, payload: number[]) => pkt(0x10, [...str('MQTT'), 4, flags, 0, 0, ...payload]);

const refusals: Array<[string, Buffer, 4 | 5, string]> = [
  // Issue 13 item 4: a user property value whose length (0xFFFF) runs past the end of the packet.
  ['v5 PUBLISH whose user property value runs past the end', hex('33190008706f69736f6e2f720007062600016bffff504f49534f4e'), 5, 'malformed-packet'],
  ['v5 PUBLISH whose property block runs past the end', pkt(0x30, [...str('t'), 0x40, 0x01, 0x01]), 5, 'malformed-packet'],
  ['v5 PUBLISH whose property block ends inside a value', pkt(0x30, [...str('t'), 0x03, 0x03, 0x00, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65]), 5, 'malformed-packet'],
  ['v5 PUBLISH with a user property value of ill-formed UTF-8', pkt(0x30, [...str('t'), 0x07, 0x26, ...str('k'), ...str(Buffer.from([0xc3, 0x28])), 0x78]), 5, 'malformed-packet'],
  ['v5 PUBLISH with a content type containing U+0000', pkt(0x30, [...str('t'), 0x05, 0x03, ...str(Buffer.from([0x61, 0x00]))]), 5, 'malformed-packet'],
  ['v5 PUBLISH with a response topic that is a UTF-16 surrogate', pkt(0x30, [...str('t'), 0x06, 0x08, ...str(Buffer.from([0xed, 0xa0, 0x80]))]), 5, 'malformed-packet'],
  ['v5 PUBLISH with a property of CONNECT (Session Expiry)', pkt(0x30, [...str('t'), 0x05, 0x11, 0, 0, 0, 1]), 5, 'malformed-packet'],
  ['v5 PUBLISH with an unknown property 0x7f', pkt(0x30, [...str('t'), 0x02, 0x7f, 0x00]), 5, 'malformed-packet'],
  ['PUBLISH topic of overlong UTF-8 (C0 AF)', pkt(0x30, [...str(Buffer.from([0xc0, 0xaf]))]), 4, 'malformed-packet'],
  ['PUBLISH topic length past the end', pkt(0x30, [0x00, 0x09, 0x61]), 4, 'malformed-packet'],
  ['SUBSCRIBE filter "a\\xff" (issue 13 item 8)', pkt(0x82, [0, 1, ...str(Buffer.from([0x61, 0xff])), 0]), 4, 'malformed-packet'],
  ['v5 SUBSCRIBE filter "a\\xff"', pkt(0x82, [0, 1, 0, ...str(Buffer.from([0x61, 0xff])), 0]), 5, 'malformed-packet'],
  ['SUBSCRIBE filter containing U+0000', pkt(0x82, [0, 1, ...str(Buffer.from([0x61, 0x00])), 0]), 4, 'malformed-packet'],
  ['SUBSCRIBE filter without its options byte', pkt(0x82, [0, 1, ...str('a')]), 4, 'malformed-packet'],
  ['UNSUBSCRIBE filter of ill-formed UTF-8', pkt(0xa2, [0, 1, ...str(Buffer.from([0xff]))]), 4, 'malformed-packet'],
  ['CONNECT client id of ill-formed UTF-8 (issue 13 item 8)', connect4(0x02, str(Buffer.from([0x63, 0xff]))), 4, 'malformed-packet'],
  ['CONNECT client id containing U+0000', connect4(0x02, str(Buffer.from([0x63, 0x00, 0x64]))), 4, 'malformed-packet'],
  ['v5 CONNECT client id of ill-formed UTF-8', connect5(0x02, [], str(Buffer.from([0xfe]))), 5, 'malformed-packet'],
  ['CONNECT user name of ill-formed UTF-8', connect4(0x82, [...str('c'), ...str(Buffer.from([0x80]))]), 4, 'malformed-packet'],
  ['CONNECT will topic containing U+0000', connect4(0x06, [...str('c'), ...str(Buffer.from([0x61, 0])), ...str('m')]), 4, 'malformed-packet'],
  ['CONNECT with bytes after its last field', connect4(0x02, [...str('c'), 0x00]), 4, 'malformed-packet'],
  ['CONNECT whose password runs past the end', connect4(0xc2, [...str('c'), ...str('u'), 0x00, 0x05, 0x01]), 4, 'malformed-packet'],
  ['v5 CONNECT with a user property name of ill-formed UTF-8', connect5(0x02, [0x26, ...str(Buffer.from([0xff])), ...str('v')], str('c')), 5, 'malformed-packet'],
  ['v5 CONNECT with a PUBLISH property (Topic Alias)', connect5(0x02, [0x23, 0, 1], str('c')), 5, 'malformed-packet'],
  ['v5 CONNECT with Request Problem Information 2', connect5(0x02, [0x17, 2], str('c')), 5, 'protocol-error'],
  ['v5 CONNECT will property Session Expiry (a CONNECT property)', connect5(0x06, [], [...str('c'), 5, 0x11, 0, 0, 0, 1, ...str('w'), ...str('m')]), 5, 'malformed-packet'],
  ['MQIsdp with protocol level 4 (issue 13 item 8)', pkt(0x10, [...str('MQIsdp'), 4, 0x02, 0, 0, ...str('c')]), 4, 'unsupported-protocol-version'],
  ['MQIsdp with protocol level 5', pkt(0x10, [...str('MQIsdp'), 5, 0x02, 0, 0, 0, ...str('c')]), 4, 'unsupported-protocol-version'],
  ['MQTT with protocol level 3', pkt(0x10, [...str('MQTT'), 3, 0x02, 0, 0, ...str('c')]), 4, 'unsupported-protocol-version'],
  ['an unknown protocol name', pkt(0x10, [...str('MQTX'), 4, 0x02, 0, 0, ...str('c')]), 4, 'unsupported-protocol'],
  ['PINGREQ with a body', pkt(0xc0, [0]), 4, 'malformed-packet'],
  ['v3.1.1 PUBACK with a reason code', pkt(0x40, [0, 1, 0]), 4, 'malformed-packet'],
  ['v3.1.1 DISCONNECT with a body', pkt(0xe0, [0]), 4, 'malformed-packet'],
  ['v5 PUBACK whose properties run past the end', pkt(0x40, [0, 1, 0x10, 0x05, 0x1f, 0x00]), 5, 'malformed-packet'],
  ['v5 DISCONNECT with bytes after its properties', pkt(0xe0, [0, 0, 0]), 5, 'malformed-packet'],
  ['v5 AUTH with a reason string of ill-formed UTF-8', pkt(0xf0, [0x18, 0x04, 0x1f, ...str(Buffer.from([0xff]))]), 5, 'malformed-packet'],
  ['v5 subscription identifier of five bytes', pkt(0x82, [0, 1, 6, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x01, ...str('a'), 0]), 5, 'malformed-packet'],
];

test('what the packet cannot hold is refused, with the right code', () => {
  for (const [name, bytes, v, code] of refusals) {
    const err = checkWire(bytes, v);
    assert.ok(err !== null, `${name}: accepted`);
    assert.equal(err.code, code, `${name}: ${err.message}`);
  }
});

test('the reader refuses the poison PUBLISH of issue 13 as Malformed Packet (0x81) and emits nothing', () => {
  const packets: Packet[] = [];
  const errors: ProtocolError[] = [];
  const r = new PacketReader(1 << 20, { onPacket: (p) => packets.push(p), onError: (e) => errors.push(e) });
  r.push(hex('101500044d5154540502003c000008706f69736f6e6572'));
  r.push(hex('33190008706f69736f6e2f720007062600016bffff504f49534f4e'));
  assert.deepEqual(packets.map((p) => p.cmd), ['connect']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.reasonCode, 0x81);
});
