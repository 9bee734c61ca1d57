import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { PacketReader, encode, type Packet } from '../../src/protocol/codec.js';
import type { ProtocolError } from '../../src/protocol/errors.js';

function reader(max = 1024) {
  const packets: Packet[] = [];
  const errors: ProtocolError[] = [];
  const r = new PacketReader(max, { onPacket: (p) => packets.push(p), onError: (e) => errors.push(e) });
  return { r, packets, errors };
}

const connect5 = mqttPacket.generate(
  { cmd: 'connect', protocolVersion: 5, clientId: 'c1', clean: true, keepalive: 30, properties: { sessionExpiryInterval: 10 } },
  { protocolVersion: 5 },
);
const publish5 = mqttPacket.generate(
  { cmd: 'publish', topic: 't', payload: Buffer.from('hello'), qos: 1, messageId: 7, retain: false, dup: false, properties: { contentType: 'text/plain' } },
  { protocolVersion: 5 },
);

test('parses packets split at every byte boundary and packets glued together', () => {
  const all = Buffer.concat([connect5, publish5, publish5]);
  for (let split = 1; split < all.length; split++) {
    const { r, packets, errors } = reader();
    r.push(all.subarray(0, split));
    r.push(all.subarray(split));
    assert.equal(errors.length, 0);
    assert.deepEqual(packets.map((p) => p.cmd), ['connect', 'publish', 'publish']);
    const pub = packets[1] as mqttPacket.IPublishPacket;
    assert.equal(pub.properties?.contentType, 'text/plain'); // v5 properties parsed after a v5 CONNECT
    assert.equal(pub.messageId, 7);
  }
});

test('refuses a packet larger than the bound from its header, before its body arrives', () => {
  const { r, packets, errors } = reader(64);
  // PUBLISH announcing 1,000,000 bytes: only the fixed header is sent.
  r.push(Buffer.from([0x30, 0xc0, 0x84, 0x3d]));
  assert.equal(packets.length, 0);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'packet-too-large');
  assert.equal(errors[0]!.reasonCode, 0x95);
});

test('a remaining length longer than four bytes is malformed', () => {
  const { r, errors } = reader();
  r.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal(errors[0]?.code, 'malformed-packet');
});

test('garbage is reported once, and nothing is parsed after it', () => {
  const { r, packets, errors } = reader();
  r.push(Buffer.from([0x10, 0x04, 0x00, 0x01, 0x58, 0x00])); // CONNECT with protocol name "X"
  r.push(connect5);
  assert.equal(errors.length, 1);
  assert.equal(packets.length, 0);
});

test('an unsupported protocol level is classified for CONNACK 0x84 / return code 1', () => {
  const { r, errors } = reader();
  const bad = Buffer.from(connect5);
  bad[8] = 9; // protocol level byte: 2 (fixed header) + 2 + "MQTT"
  r.push(bad);
  assert.equal(errors[0]?.code, 'unsupported-protocol-version');
});

test('readers share one parser: one connection failing mid-packet, or speaking v5, leaves the others intact', () => {
  const v5 = reader();
  const v4 = reader();
  const broken = reader();
  v5.r.push(connect5);
  const connect4 = mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'c4', clean: true, keepalive: 0 }, { protocolVersion: 4 });
  v4.r.push(connect4);
  // Protocol name "X": mqtt-packet fails part-way through the CONNECT.
  broken.r.push(Buffer.from([0x10, 0x04, 0x00, 0x01, 0x58, 0x00]));
  const publish4 = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('v4'), qos: 1, messageId: 9, retain: false, dup: false }, { protocolVersion: 4 });
  v4.r.push(publish4);
  v5.r.push(publish5);
  assert.equal(broken.errors.length, 1);
  assert.deepEqual([v4.errors, v5.errors], [[], []]);
  assert.equal((v4.packets[1] as mqttPacket.IPublishPacket).payload.toString(), 'v4');
  assert.equal((v5.packets[1] as mqttPacket.IPublishPacket).properties?.contentType, 'text/plain');
});

test('PUBACK: the short form as mqtt-packet parses it (v5: reason Success), identifier 0 malformed', () => {
  const v4 = reader();
  v4.r.push(mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, { protocolVersion: 4 }));
  v4.r.push(Buffer.from([0x40, 0x02, 0x12, 0x34]));
  assert.deepEqual({ ...v4.packets[1] }, { cmd: 'puback', retain: false, qos: 0, dup: false, length: 2, topic: null, payload: null, messageId: 0x1234 });
  const v5 = reader();
  v5.r.push(connect5);
  v5.r.push(Buffer.from([0x40, 0x02, 0x00, 0x07]));
  assert.equal((v5.packets[1] as mqttPacket.IPubackPacket).messageId, 7);
  assert.equal((v5.packets[1] as mqttPacket.IPubackPacket).reasonCode, 0);
  const zero = reader();
  zero.r.push(Buffer.from([0x40, 0x02, 0x00, 0x00]));
  assert.equal(zero.errors[0]?.code, 'malformed-packet');
});

test('a sink that holds input stops the reader between packets; an empty push reads the rest first', () => {
  const packets: Packet[] = [];
  let hold = true;
  const r = new PacketReader(1024, { onPacket: (p) => packets.push(p), onError: (e) => assert.fail(e.message), holdInput: () => hold });
  const ping = Buffer.from([0xc0, 0x00]);
  r.push(Buffer.concat([ping, ping, ping]));
  assert.equal(packets.length, 1);
  assert.equal(r.holding, true);
  r.push(Buffer.alloc(0));
  assert.equal(packets.length, 2);
  assert.equal(r.holding, true);
  hold = false;
  // New bytes arrive behind the kept ones: both are read, in order.
  r.push(Buffer.from([0xe0, 0x00]));
  assert.deepEqual(
    packets.map((p) => p.cmd),
    ['pingreq', 'pingreq', 'pingreq', 'disconnect'],
  );
  assert.equal(r.holding, false);
});

test('holdInput is not asked after the last packet of a push', () => {
  let asked = 0;
  const r = new PacketReader(1024, { onPacket: () => {}, onError: (e) => assert.fail(e.message), holdInput: () => (asked++, true) });
  r.push(Buffer.from([0xc0, 0x00]));
  assert.equal(asked, 0);
  assert.equal(r.holding, false);
});

test('encode: a PUBACK is the bytes mqtt-packet writes, in every version and form', () => {
  const forms: Packet[] = [
    { cmd: 'puback', messageId: 1 },
    { cmd: 'puback', messageId: 0xabcd },
    { cmd: 'puback', messageId: 65535, reasonCode: 0 },
    { cmd: 'puback', messageId: 7, reasonCode: 0x97 },
    { cmd: 'puback', messageId: 7, reasonCode: 0x10, properties: { reasonString: 'none' } },
  ] as Packet[];
  for (const version of [3, 4, 5] as const) {
    for (const packet of forms) {
      if (version !== 5 && (packet as { reasonCode?: number }).reasonCode !== undefined) continue;
      assert.deepEqual(encode(packet, version), mqttPacket.generate(packet, { protocolVersion: version }), `${JSON.stringify(packet)} v${version}`);
    }
  }
});
