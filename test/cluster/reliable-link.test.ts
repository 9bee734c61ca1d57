import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InboundLink, OutboundLink } from '../../src/cluster/reliable-link.js';
import { decodeMessageFrame, encodeMessageFrame } from '../../src/cluster/frames.js';

const frame = (n: number) => Buffer.from(`frame ${n}`);

describe('OutboundLink', () => {
  test('holds frames until acknowledged cumulatively', () => {
    const link = new OutboundLink(100);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 0);
    assert.equal(link.unacked, 5);
    link.ack(3);
    assert.equal(link.unacked, 2);
    link.ack(2); // an old ack changes nothing
    assert.equal(link.unacked, 2);
  });

  test('re-sends every unacknowledged frame once the oldest waited long enough, bounded per call', () => {
    const link = new OutboundLink(100);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 1000);
    assert.deepEqual(link.due(1500, 1000, 10), []);
    const due = link.due(2000, 1000, 3);
    assert.deepEqual(due.map((d) => d.seq), [1, 2, 3]);
  });

  test('keeps at most `limit` frames and counts what it gave up', () => {
    const link = new OutboundLink(3);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 0);
    assert.equal(link.unacked, 3);
    assert.equal(link.lost, 2);
    assert.deepEqual(link.due(10, 0, 10).map((d) => d.seq), [3, 4, 5]);
  });
});

describe('InboundLink', () => {
  test('delivers in order, drops duplicates, refuses gaps', () => {
    const link = new InboundLink();
    assert.equal(link.accept(1), 'deliver');
    assert.equal(link.accept(1), 'duplicate');
    assert.equal(link.accept(3), 'gap');
    assert.equal(link.accept(2), 'deliver');
    assert.equal(link.accept(3), 'deliver');
    assert.equal(link.delivered, 3);
  });
});

describe('message frames', () => {
  test('round-trip every field, binary payload and user-property order included', () => {
    const message = {
      topic: 'a/b',
      payload: Buffer.from([0, 255, 10, 13]),
      qos: 1 as const,
      retain: true,
      properties: { contentType: 'x', correlationData: Buffer.from([9]), userProperties: { z: '1', a: ['2', '3'] } },
      expiresAt: 123,
      publisherId: 'pub',
      receivedAt: 456,
      principal: 'me',
    };
    const back = decodeMessageFrame(encodeMessageFrame('node-1', 42, message, ['g\u0000a/#']));
    assert.equal(back.origin, 'node-1');
    assert.equal(back.seq, 42);
    assert.deepEqual(back.groups, ['g\u0000a/#']);
    assert.deepEqual(back.message, message);
    assert.deepEqual(Object.keys(back.message.properties!.userProperties!), ['z', 'a']);
    const best = decodeMessageFrame(encodeMessageFrame('n', 0, { ...message, properties: undefined, publisherId: undefined }, []));
    assert.equal(best.seq, 0);
    assert.equal(best.message.properties, undefined);
  });

  test('a cut-short frame is an error, not a crash', () => {
    const whole = encodeMessageFrame('n', 1, { topic: 't', payload: Buffer.from('p'), qos: 1, retain: false, properties: undefined, expiresAt: 0, publisherId: undefined }, []);
    assert.throws(() => decodeMessageFrame(whole.subarray(0, 20)));
  });
});
