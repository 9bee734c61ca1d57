// Frames from the Redis backplane: whatever reaches a node's channel is checked field by field
// before it can reach a session; anything the encoder would not have written is refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/shared/message.js';
import { decodeMessageFrame, encodeMessageFrame, FRAME_MESSAGE, FRAME_RELIABLE, MAX_VIA_NODES } from '../../src/cluster/frames.js';

const message: Message = {
  topic: 'a/b',
  payload: Buffer.from([0, 1, 2]),
  qos: 1,
  retain: true,
  properties: { contentType: 'text/plain', correlationData: Buffer.from([9]), userProperties: { b: '1', a: ['2', '3'] }, payloadFormatIndicator: true },
  expiresAt: 1_700_000_000_000,
  publisherId: 'pub',
  receivedAt: 1_699_999_999_000,
  principal: 'p1',
  historyId: { origin: 'k3x9q2mf', seq: 1742 },
};

/** A message frame built by hand: any header, any sequence number. */
function frame(header: unknown, options: { kind?: number; origin?: string; seq?: number; payload?: Buffer } = {}): Buffer {
  const kind = options.kind ?? FRAME_MESSAGE;
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const o = Buffer.from(options.origin ?? 'n1');
  const parts: Buffer[] = [Buffer.from([kind, o.length]), o];
  if (kind === FRAME_RELIABLE) {
    const s = Buffer.alloc(8);
    s.writeDoubleBE(options.seq ?? 1);
    parts.push(s);
  }
  const length = Buffer.alloc(4);
  length.writeUInt32BE(h.length);
  parts.push(length, h, options.payload ?? Buffer.from('x'));
  return Buffer.concat(parts);
}

const good = { t: 'x/y', q: 1, r: 0, p: null, e: 0 };

describe('message frames', () => {
  test('round-trip every field, including a session target', () => {
    const target = { clientId: 'c1', qos: 2 as const, retain: true, subscriptionIds: [1, 268_435_455] };
    const back = decodeMessageFrame(encodeMessageFrame('node-1', 7, message, ['g\u0000a/#'], target));
    assert.equal(back.origin, 'node-1');
    assert.equal(back.seq, 7);
    assert.deepEqual(back.groups, ['g\u0000a/#']);
    assert.deepEqual(back.message, message);
    assert.deepEqual(back.session, target);
    const plain = decodeMessageFrame(encodeMessageFrame('n', 0, { ...message, properties: undefined, publisherId: undefined }, []));
    assert.equal(plain.session, undefined);
    assert.equal(plain.message.properties, undefined);
  });

  test("a frame held for a dead node names it (adoptedFrom); a bad name is refused", () => {
    const decoded = decodeMessageFrame(encodeMessageFrame('n1', 7, message, ['g\u0000a/#'], null, 'dead-node'));
    assert.equal(decoded.adoptedFrom, 'dead-node');
    assert.deepEqual(decoded.groups, ['g\u0000a/#']);
    assert.equal(decodeMessageFrame(encodeMessageFrame('n1', 7, message, [])).adoptedFrom, undefined);
    for (const d of ['', 5, ['n2'], 'x'.repeat(256)]) assert.throws(() => decodeMessageFrame(frame({ ...good, d })), /adopted-from/);
  });

  test("a shared group's via list (where to pass it on) round-trips; one naming another group, too long or with a bad node is refused", () => {
    const via = [{ group: 'g\u0000a/#', next: ['n2', 'n3'], keep: 'n1' }];
    const decoded = decodeMessageFrame(encodeMessageFrame('n1', 7, message, ['g\u0000a/#'], null, null, via));
    assert.deepEqual(decoded.via, via);
    assert.deepEqual(decodeMessageFrame(encodeMessageFrame('n1', 0, message, ['g\u0000a/#'], null, null, [{ group: 'g\u0000a/#', next: [] }])).via, [{ group: 'g\u0000a/#', next: [] }]);
    assert.equal(decodeMessageFrame(encodeMessageFrame('n1', 7, message, ['g\u0000a/#'])).via, undefined);
    const g = ['g\u0000a/#'];
    for (const v of [
      'x',
      [{ g: 'other\u0000a/#', n: [] }],
      [{ g: g[0], n: 'n2' }],
      [{ g: g[0], n: [''] }],
      [{ g: g[0], n: Array.from({ length: MAX_VIA_NODES + 1 }, (_, i) => `n${i}`) }],
      [{ g: g[0], n: [], k: 5 }],
      [{ g: g[0], n: [] }, { g: g[0], n: [] }],
    ]) {
      assert.throws(() => decodeMessageFrame(frame({ ...good, g, v })), /via/, JSON.stringify(v));
    }
    assert.throws(() => decodeMessageFrame(frame({ ...good, v: [] })), /via/, 'a via list without groups');
  });

  test('a copy passed on for its shared groups only (sharedOnly) says so; the flag without groups, or not 1, is refused', () => {
    const passed = decodeMessageFrame(encodeMessageFrame('n1', 7, message, ['g\u0000a/#'], null, null, [{ group: 'g\u0000a/#', next: [] }], true));
    assert.equal(passed.sharedOnly, true);
    assert.equal(decodeMessageFrame(encodeMessageFrame('n1', 7, message, ['g\u0000a/#'])).sharedOnly, undefined);
    assert.throws(() => decodeMessageFrame(frame({ ...good, o: 1 })), /shared-only/);
    assert.throws(() => decodeMessageFrame(frame({ ...good, g: ['g\u0000a/#'], o: true })), /shared-only/);
  });

  test('a well-formed hand-built header decodes', () => {
    const back = decodeMessageFrame(frame({ ...good, i: 'c', a: 5, n: 'p', g: ['g\u0000#'], p: '{"responseTopic":"r/1","userProperties":[["k","v"]]}' }));
    assert.equal(back.message.topic, 'x/y');
    assert.deepEqual(back.message.properties, { responseTopic: 'r/1', userProperties: { k: 'v' } });
  });

  const rejected: [string, Buffer, RegExp][] = [
    ['a frame of another kind', Buffer.from([3, 0x7b, 0x7d]), /not a message frame/],
    ['a frame with nothing after its kind', Buffer.from([FRAME_MESSAGE]), /cut short/],
    ['an origin longer than the frame', Buffer.from([FRAME_MESSAGE, 200]), /cut short/],
    ['an empty origin', frame(good, { origin: '' }), /no origin/],
    ['a reliable frame without room for its sequence number', Buffer.from([FRAME_RELIABLE, 0, 1]), /no origin|cut short/],
    ['a header longer than the frame', frame(good).subarray(0, 12), /cut short/],
    ['a reliable sequence number of NaN', frame(good, { kind: FRAME_RELIABLE, seq: Number.NaN }), /sequence number/],
    ['a reliable sequence number of 0', frame(good, { kind: FRAME_RELIABLE, seq: 0 }), /sequence number/],
    ['a fractional sequence number', frame(good, { kind: FRAME_RELIABLE, seq: 1.5 }), /sequence number/],
    ['a header that is not JSON', frame('not json'), /not JSON/],
    ['a header that is null', frame('null'), /not an object/],
    ['a header that is an array', frame('[1]'), /not an object/],
    ['a topic that is not a string', frame({ ...good, t: 5 }), /topic is not a string/],
    ['a history id that is not one', frame({ ...good, h: 'NOPE-1' }), /bad history id/],
    ['a history id that is a number', frame({ ...good, h: 5 }), /bad history id/],
    ['an empty topic', frame({ ...good, t: '' }), /valid topic name \(empty\)/],
    ["a topic with '+'", frame({ ...good, t: 'a/+/b' }), /wildcard-in-name/],
    ["a topic with '#'", frame({ ...good, t: 'a/#' }), /wildcard-in-name/],
    ['a topic with NUL', frame({ ...good, t: 'a\u0000b' }), /null-char/],
    ['a topic over 65535 bytes', frame({ ...good, t: 'é'.repeat(32_768) }), /too-long/],
    ['QoS 7', frame({ ...good, q: 7 }), /QoS/],
    ['QoS as a string', frame({ ...good, q: '1' }), /QoS/],
    ['no QoS', frame({ t: 'x', r: 0, p: null, e: 0 }), /QoS/],
    ['a retain flag of true', frame({ ...good, r: true }), /retain/],
    ['a retain flag of 2', frame({ ...good, r: 2 }), /retain/],
    ['an expiry that is a string', frame({ ...good, e: 'soon' }), /expiry/],
    ['a negative expiry', frame({ ...good, e: -1 }), /expiry/],
    ['no expiry', frame({ t: 'x', q: 0, r: 0, p: null }), /expiry/],
    ['a publisher that is an object', frame({ ...good, i: { x: 1 } }), /publisher/],
    ['a receive time that is a string', frame({ ...good, a: '5' }), /receive time/],
    ['a principal that is a number', frame({ ...good, n: 1 }), /principal/],
    ['groups that are a string', frame({ ...good, g: 'notarray' }), /groups/],
    ['groups holding a number', frame({ ...good, g: ['a', 1] }), /groups/],
    ['properties that are a number', frame({ ...good, p: 5 }), /neither null nor a string/],
    ['properties that are not JSON', frame({ ...good, p: 'garbage' }), /bad properties/],
    ['properties that are JSON null', frame({ ...good, p: 'null' }), /bad properties/],
    ['user properties that are an object', frame({ ...good, p: '{"userProperties":{"a":1}}' }), /bad properties/],
    ['a user property that is a number', frame({ ...good, p: '{"userProperties":[["a",1]]}' }), /bad userProperties/],
    ['a content type that is a number', frame({ ...good, p: '{"contentType":5}' }), /bad contentType/],
    ['a payload format indicator that is a string', frame({ ...good, p: '{"payloadFormatIndicator":"yes"}' }), /bad payloadFormatIndicator/],
    ['a property no PUBLISH carries', frame({ ...good, p: '{"reasonString":"x"}' }), /unknown property/],
    ['a session target that is a string', frame({ ...good, s: 'c1' }), /session target is not an object/],
    ['a session target without a client ID', frame({ ...good, s: { c: '', q: 1, r: 0 } }), /no client ID/],
    ['a session target with QoS 3', frame({ ...good, s: { c: 'c', q: 3, r: 0 } }), /session target has a bad QoS/],
    ['a session target with a bad retain flag', frame({ ...good, s: { c: 'c', q: 1, r: 'yes' } }), /session target has a bad retain/],
    ['a session target with subscription identifier 0', frame({ ...good, s: { c: 'c', q: 1, r: 0, u: [0] } }), /subscription identifiers/],
  ];
  for (const [name, bytes, error] of rejected) {
    test(`refuses ${name}`, () => {
      assert.throws(() => decodeMessageFrame(bytes), error);
    });
  }
});
