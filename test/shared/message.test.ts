import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodableProperties, messageProblem, propertiesProblem, type Message, type MessageProperties } from '../../src/shared/message.js';
import { decodeStoredProperties } from '../../src/store/sqlite-codec.js';
import { encodePublish } from '../../src/mqtt/encode-publish.js';

const message = (properties: unknown, topic = 't'): Message =>
  ({ topic, payload: Buffer.from('x'), qos: 1, retain: true, properties: properties as MessageProperties, expiresAt: 0, publisherId: undefined });

test('messageProblem names what a PUBLISH cannot carry, and accepts what it can', () => {
  const good: MessageProperties = {
    payloadFormatIndicator: true,
    contentType: 'text/plain',
    responseTopic: 'r/t',
    correlationData: Buffer.from([0]),
    userProperties: { k: 'v', many: ['1', '2'] },
  };
  assert.equal(messageProblem(message(good)), null);
  assert.equal(messageProblem(message(undefined)), null);
  for (const bad of [
    { userProperties: { k: null } }, // issue 13: what mqtt-packet made of a value past the end
    { userProperties: { k: ['a', null] } },
    { userProperties: { k: 'a\u0000b' } },
    { userProperties: null },
    { contentType: 'x'.repeat(70_000) },
    { responseTopic: 5 },
    { correlationData: 'not a buffer' },
    { payloadFormatIndicator: 1 },
    { retainAvailable: true },
  ]) {
    assert.notEqual(propertiesProblem(bad as MessageProperties), null, JSON.stringify(bad).slice(0, 80));
  }
  assert.notEqual(messageProblem(message(undefined, 'a\u0000')), null);
  assert.notEqual(messageProblem(message(undefined, '')), null);
});

test('what is stored with bad properties comes back without them, and encodes', () => {
  const decoded = decodeStoredProperties('{"contentType":"c","userProperties":[["k",null],["good","y"],["arr",["a",null]]]}');
  assert.deepEqual(decoded, { contentType: 'c', userProperties: { good: 'y' } });
  assert.equal(decodeStoredProperties('{"correlationData":null}'), undefined, 'unreadable: no properties');
  assert.equal(encodableProperties({ userProperties: { k: null } } as unknown as MessageProperties), undefined);
  const m = message(decoded);
  for (const version of [4, 5] as const) {
    encodePublish(m, { version, qos: 1, retain: true, dup: false, packetId: 1, subscriptionIds: undefined, topicAlias: 0, omitTopic: false }, Date.now());
  }
  // Good properties are returned as they are (no copy on the common path).
  const good = { contentType: 'c' };
  assert.equal(encodableProperties(good), good);
});
