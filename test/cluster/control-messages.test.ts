// Control messages from the Redis backplane: the decoder accepts exactly what the encoder writes
// and refuses every other shape with an Error (never a crash), so a node counts, logs and drops it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeControlFrame, encodeControlFrame, type ControlMessage } from '../../src/cluster/control-messages.js';
import { FRAME_CONTROL, FRAME_MESSAGE } from '../../src/cluster/frames.js';
import { prng } from '../helpers/prng.js';

const valid: ControlMessage[] = [
  { type: 'ack', from: 'n1', seq: 0 },
  { type: 'ack', from: 'n1', seq: 9_007_199_254_740_991 },
  { type: 'skip', from: 'n1', seq: 1 },
  { type: 'interest', from: 'n1', op: 'add', key: 'a/+/#' },
  { type: 'interest', from: 'n1', op: 'remove', key: '$share/g/a/#', requestId: 'n1:7' },
  { type: 'interest', from: 'n1', op: 'add', key: '$share/+/g/a/#' },
  { type: 'interest-ack', from: 'n2', requestId: 'n1:7' },
  { type: 'resync', from: 'n1' },
  { type: 'left', from: 'n1' },
  { type: 'reaped', node: 'n3' },
  { type: 'reaped', node: 'n3', by: 'n1' },
  { type: 'reaped', node: 'n3', by: 'n1', takers: ['n2', 'n4'] },
  { type: 'moved', from: 'n2', clientId: 'c1' },
  { type: 'rpc', from: 'n1', id: 'n1:1', op: 'takeover', args: { clientId: 'c1', cleanStart: false, to: 'n1' } },
  { type: 'rpc', from: 'n1', id: 'n1:2', op: 'admin.connections', args: {} },
  { type: 'rpc-reply', id: 'n1:1', ok: true, value: { released: true } },
  { type: 'rpc-reply', id: 'n1:1', ok: true, value: null },
  { type: 'rpc-reply', id: 'n1:2', ok: false, error: 'unknown call x' },
];

const raw = (value: unknown) => Buffer.concat([Buffer.from([FRAME_CONTROL]), Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))]);

describe('control messages', () => {
  for (const message of valid) {
    test(`round-trips ${JSON.stringify(message)}`, () => {
      assert.deepEqual(decodeControlFrame(encodeControlFrame(message)), message);
    });
  }

  test('the wire carries the readable field names', () => {
    assert.equal(encodeControlFrame({ type: 'ack', from: 'n1', seq: 3 }).toString('utf8', 1), '{"type":"ack","from":"n1","seq":3}');
  });

  const longId = 'x'.repeat(256);
  const rejected: [string, Buffer, RegExp][] = [
    ['an empty frame body', Buffer.from([FRAME_CONTROL]), /not JSON/],
    ['text that is not JSON', raw('{nope'), /not JSON/],
    ['null', raw('null'), /not an object/],
    ['an array', raw('[1]'), /not an object/],
    ['a string', raw('"ack"'), /not an object/],
    ['a message frame', Buffer.from([FRAME_MESSAGE, 1, 0x61]), /not a control frame/],
    ['the old one-letter format', raw({ t: 'ack', n: 'a', s: 3 }), /no type/],
    ['a type that is not a string', raw({ type: 1 }), /no type/],
    ['an unknown type', raw({ type: 'shutdown', from: 'n1' }), /unknown control message type/],
    ['a type inherited from Object', raw({ type: 'constructor', from: 'n1' }), /unknown control message type/],
    ['a missing field', raw({ type: 'ack', from: 'n1' }), /ack message has no seq/],
    ['an extra field', raw({ type: 'ack', from: 'n1', seq: 1, extra: 1 }), /unknown field \(extra\)/],
    ['an empty node id', raw({ type: 'resync', from: '' }), /bad node id/],
    ['a node id that is not a string', raw({ type: 'left', from: 7 }), /bad node id/],
    ['a node id longer than 255 bytes', raw({ type: 'left', from: longId }), /bad node id/],
    ['a reaped message without a node', raw({ type: 'reaped', from: 'n1' }), /no node/],
    ['a reaped message whose takers are not node ids', raw({ type: 'reaped', node: 'n3', by: 'n1', takers: [''] }), /bad node id/],
    ['a reaped message whose takers are not a list', raw({ type: 'reaped', node: 'n3', by: 'n1', takers: 'n2' }), /bad takers/],
    ['a negative ack', raw({ type: 'ack', from: 'n1', seq: -1 }), /bad seq/],
    ['a fractional ack', raw({ type: 'ack', from: 'n1', seq: 1.5 }), /bad seq/],
    ['an ack as a string', raw({ type: 'ack', from: 'n1', seq: '3' }), /bad seq/],
    ['an unsafe ack', raw('{"type":"ack","from":"n1","seq":1e300}'), /bad seq/],
    ['a skip to 0', raw({ type: 'skip', from: 'n1', seq: 0 }), /bad seq/],
    ['an interest op other than add/remove', raw({ type: 'interest', from: 'n1', op: 'del', key: 'a' }), /bad op/],
    ['an interest key that is not a filter', raw({ type: 'interest', from: 'n1', op: 'add', key: 'a/#/b' }), /invalid filter/],
    ['a live key whose filter is not a filter', raw({ type: 'interest', from: 'n1', op: 'add', key: '$share/+/g/a/#/b' }), /invalid filter/],
    ['an empty interest key', raw({ type: 'interest', from: 'n1', op: 'add', key: '' }), /invalid filter/],
    ['an interest key that is not a string', raw({ type: 'interest', from: 'n1', op: 'add', key: ['a'] }), /invalid filter/],
    ['an empty request id', raw({ type: 'interest-ack', from: 'n1', requestId: '' }), /bad requestId/],
    ['a request id that is not a string', raw({ type: 'interest', from: 'n1', op: 'add', key: 'a', requestId: 5 }), /bad requestId/],
    ['a moved message without a client ID', raw({ type: 'moved', from: 'n1', clientId: '' }), /bad clientId/],
    ['rpc args that are a list', raw({ type: 'rpc', from: 'n1', id: 'i', op: 'x', args: [1] }), /args are not an object/],
    ['rpc args that are null', raw({ type: 'rpc', from: 'n1', id: 'i', op: 'x', args: null }), /args are not an object/],
    ['an rpc without an op', raw({ type: 'rpc', from: 'n1', id: 'i', op: '', args: {} }), /bad op/],
    ['an rpc id that is too long', raw({ type: 'rpc', from: 'n1', id: 'i'.repeat(1025), op: 'x', args: {} }), /bad id/],
    ['an rpc-reply whose ok is not a boolean', raw({ type: 'rpc-reply', id: 'i', ok: 1 }), /bad ok/],
    ['an rpc-reply ok without a value', raw({ type: 'rpc-reply', id: 'i', ok: true }), /without \(only\) a value/],
    ['an rpc-reply failure without an error', raw({ type: 'rpc-reply', id: 'i', ok: false }), /without \(only\) an error/],
    ['an rpc-reply failure with an error that is not a string', raw({ type: 'rpc-reply', id: 'i', ok: false, error: {} }), /without \(only\) an error/],
    ['an rpc-reply with both a value and an error', raw({ type: 'rpc-reply', id: 'i', ok: true, value: 1, error: 'x' }), /without \(only\) a value/],
  ];
  for (const [name, bytes, error] of rejected) {
    test(`refuses ${name}`, () => {
      assert.throws(() => decodeControlFrame(bytes), error);
    });
  }

  test('seeded fuzz: mutated valid frames decode to a valid message or are refused with an Error', () => {
    const seed = 0x5eed14;
    const random = prng(seed);
    const frames = valid.map((m) => encodeControlFrame(m));
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.from(frames[Math.floor(random() * frames.length)]!);
      const edits = 1 + Math.floor(random() * 4);
      let mutated: Buffer = bytes;
      for (let e = 0; e < edits; e++) {
        const at = 1 + Math.floor(random() * Math.max(1, mutated.length - 1));
        const what = random();
        if (what < 0.5) mutated[at] = Math.floor(random() * 256);
        else if (what < 0.75) mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1)]);
        else mutated = Buffer.concat([mutated.subarray(0, at), Buffer.from([Math.floor(random() * 128)]), mutated.subarray(at)]);
      }
      try {
        const decoded = decodeControlFrame(mutated);
        // What decodes is well-formed: encoding it again and decoding gives the same message.
        assert.deepEqual(decodeControlFrame(encodeControlFrame(decoded)), decoded);
      } catch (err) {
        assert.ok(err instanceof Error && err.constructor === Error, `seed ${seed}, case ${i}: ${String(err)} for ${mutated.toString('utf8', 1)}`);
      }
    }
  });
});
