// The one-pass PUBLISH encoder (no properties) writes exactly what mqtt-packet's generate() writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { encodePublish } from '../../src/mqtt/encode-publish.js';
import type { Message } from '../../src/shared/message.js';

const message = (topic: string, payload: Buffer, extra: Partial<Message> = {}): Message => ({
  topic, payload, qos: 1, retain: false, properties: undefined, expiresAt: 0, publisherId: 'p', ...extra,
});

test('PUBLISH without properties: the same bytes as mqtt-packet, every version, QoS and flag', () => {
  const cases: [string, Buffer][] = [
    ['a', Buffer.alloc(0)],
    ['bench/tp/7', Buffer.alloc(64, 0x61)],
    ['dévices/ключ/😀', Buffer.from('x')],
    ['edge/127', Buffer.alloc(127 - 2 - 'edge/127'.length)], // Remaining Length 127 vs 128 (1 → 2 bytes)
    ['edge/128', Buffer.alloc(128 - 2 - 'edge/128'.length)],
    ['big', Buffer.alloc(16_384, 3)], // 3-byte Remaining Length
    ['huge', Buffer.alloc(2_097_152, 5)], // 4-byte Remaining Length
  ];
  let compared = 0;
  for (const [topic, payload] of cases) {
    for (const version of [3, 4, 5] as const) {
      for (const qos of [0, 1, 2] as const) {
        for (const retain of [false, true]) {
          for (const dup of [false, true]) {
            const packetId = qos > 0 ? 0xab12 : 0;
            const got = encodePublish(message(topic, payload), { version, qos, retain, dup, packetId, subscriptionIds: undefined, topicAlias: 0, omitTopic: false }, 0);
            const want: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup };
            if (qos > 0) want.messageId = packetId;
            assert.ok(got.equals(mqttPacket.generate(want, { protocolVersion: version })), `${topic} v${version} q${qos} r${retain} d${dup}`);
            compared++;
          }
        }
      }
    }
  }
  assert.equal(compared, 7 * 3 * 3 * 2 * 2);
});

test('v5 deliveries with properties still carry them', () => {
  const bytes = encodePublish(
    message('t', Buffer.from('x'), { properties: { contentType: 'text/plain' } }),
    { version: 5, qos: 1, retain: false, dup: false, packetId: 4, subscriptionIds: [2], topicAlias: 0, omitTopic: false },
    0,
  );
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let parsed: IPublishPacket | null = null;
  parser.on('packet', (p) => (parsed = p as IPublishPacket));
  parser.parse(bytes);
  assert.deepEqual(parsed!.properties, { contentType: 'text/plain', subscriptionIdentifier: 2 });
});
