// Presence records come back from Redis when a node cleans up after a dead one: what presenceOf
// wrote parses back unchanged; a damaged record is refused (null), never half-used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePresenceRecord, presenceOf, willOf } from '../../src/cluster/presence.js';

const info = { clientId: 'c1', principal: 'p', ipAddress: '127.0.0.1', sessionIdentifier: 's', versionNumber: 3 };
const will = {
  message: { topic: 'w/t', payload: Buffer.from([1, 2]), qos: 1 as const, retain: true, properties: { contentType: 'x' }, expiresAt: 0, publisherId: 'c1' },
  delaySeconds: 5,
  expirySeconds: 60,
};

test('a record round-trips through JSON, with and without a will', () => {
  for (const w of [will, null]) {
    const record = presenceOf({ info, connectedAt: 1000, persistent: true, will: w });
    assert.deepEqual(parsePresenceRecord(JSON.stringify(record)), record);
  }
  const back = parsePresenceRecord(JSON.stringify(presenceOf({ info, connectedAt: 1, persistent: false, will })))!;
  const restored = willOf('c1', back.will!);
  assert.deepEqual(restored.message.payload, will.message.payload);
  assert.deepEqual(restored.message.properties, { contentType: 'x' });
});

test("a JSON or SSE client's protocol survives the round trip (its disconnected event names it)", () => {
  for (const protocol of ['json', 'sse'] as const) {
    const record = presenceOf({ info: { ...info, protocol }, connectedAt: 1000, persistent: false, will: null });
    assert.equal(parsePresenceRecord(JSON.stringify(record))?.info.protocol, protocol);
  }
  const mqtt = parsePresenceRecord(JSON.stringify(presenceOf({ info, connectedAt: 1000, persistent: false, will: null })))!;
  assert.ok(!('protocol' in mqtt.info), 'an MQTT client has no protocol field');
});

test('damaged records are refused', () => {
  const good = presenceOf({ info, connectedAt: 1000, persistent: true, will });
  const damaged: [string, unknown][] = [
    ['not JSON', '{'],
    ['null', null],
    ['no info', { ...good, info: undefined }],
    ['an empty client ID', { ...good, info: { ...info, clientId: '' } }],
    ['a version that is not a number', { ...good, info: { ...info, versionNumber: '3' } }],
    ['an unknown protocol', { ...good, info: { ...info, protocol: 'carrier-pigeon' } }],
    ['no will field', { ...good, will: undefined }],
    ['a will with a wildcard topic', { ...good, will: { ...good.will, topic: 'a/#' } }],
    ['a will with a bad QoS', { ...good, will: { ...good.will, qos: 3 } }],
    ['a will with properties that are not JSON', { ...good, will: { ...good.will, properties: 'nope' } }],
    ['a will with a negative delay', { ...good, will: { ...good.will, delaySeconds: -1 } }],
  ];
  for (const [name, value] of damaged) {
    assert.equal(parsePresenceRecord(typeof value === 'string' ? value : JSON.stringify(value)), null, name);
  }
});
