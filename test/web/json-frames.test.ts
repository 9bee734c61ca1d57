// The JSON frame parser (src/web/json-frames.ts) and the shared message encoding
// (src/web/message-encoding.ts): a table of valid and invalid frames, a seeded fuzz of mutations of
// valid frames (any error other than a FrameError fails), and one encoding per broadcast.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FrameError, parseRequest } from '../../src/web/json-frames.js';
import { MessageEncoder, WEB_ENCODING } from '../../src/web/message-encoding.js';
import { Broadcast } from '../../src/broker/broadcast.js';
import type { Message } from '../../src/shared/message.js';
import { prng } from '../helpers/prng.js';

const VALID = [
  { type: 'subscribe', filters: ['a/+', 'b/#'], id: 1 },
  { type: 'subscribe', filters: ['a'], since: 'h-17' },
  { type: 'unsubscribe', filters: ['a/+'], id: 'u' },
  { type: 'publish', topic: 'a/b', payload: { t: 21 }, id: 'p', retain: true, contentType: 'x/y', responseTopic: 'r', correlationData: 'AQI=', userProperties: { k: 'v', m: ['1', '2'] } },
  { type: 'publish', topic: 'a/b', payload: '/wA=', encoding: 'base64' },
  { type: 'publish', topic: 'a/b' },
  { type: 'ping' },
];

const parse = (v: unknown) => parseRequest(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));

describe('parseRequest', () => {
  test('valid frames', () => {
    for (const f of VALID) assert.equal(parse(f).type, f.type);
    const p = parse(VALID[3]);
    assert.ok(p.type === 'publish');
    assert.equal(p.payload.toString(), '{"t":21}');
    assert.equal(p.properties.contentType, 'x/y');
    assert.deepEqual(p.properties.correlationData, Buffer.from([1, 2]));
    const b = parse(VALID[4]);
    assert.ok(b.type === 'publish');
    assert.deepEqual(b.payload, Buffer.from([0xff, 0]));
    const j = parse({ type: 'publish', topic: 't', payload: [1] });
    assert.ok(j.type === 'publish' && j.properties.contentType === 'application/json');
  });

  test('invalid frames name what is wrong', () => {
    const cases: [unknown, string, RegExp][] = [
      ['nope', 'bad-json', /not JSON/],
      ['null', 'bad-frame', /JSON object/],
      [{ type: 'x' }, 'unknown-type', /unknown type "x"/],
      [{ type: 'ping', extra: 1 }, 'unknown-field', /"extra"/],
      [{ type: 'ping', id: { a: 1 } }, 'bad-field', /"id"/],
      [{ type: 'ping', id: 'x'.repeat(129) }, 'bad-field', /"id"/],
      [{ type: 'subscribe', filters: Array(1025).fill('a') }, 'limit', /1024/],
      [{ type: 'subscribe', filters: ['a'], since: 5 }, 'bad-field', /"since"/],
      [{ type: 'publish', topic: 't', qos: 2 }, 'bad-field', /"qos"/],
      [{ type: 'publish', topic: 't', qos: 1 }, 'bad-field', /needs an "id"/],
      [{ type: 'publish', topic: 't', payload: 5, encoding: 'text' }, 'bad-field', /"payload"/],
      [{ type: 'publish', topic: 't', encoding: 'text' }, 'bad-field', /without a "payload"/],
      [{ type: 'publish', topic: 't', userProperties: { a: 1 } }, 'bad-field', /user property "a"/],
      [{ type: 'publish', topic: 't', contentType: 'a\u0000b' }, 'bad-field', /"contentType"/],
      [{ type: 'publish', topic: 't', correlationData: '***' }, 'bad-field', /base64/],
    ];
    for (const [frame, code, message] of cases) {
      assert.throws(() => parse(frame), (e: unknown) => e instanceof FrameError && e.code === code && message.test(e.message), JSON.stringify(frame));
    }
    // A readable id is echoed in the error.
    assert.throws(() => parse({ type: 'publish', id: 9 }), (e: unknown) => e instanceof FrameError && e.id === 9);
  });

  test('fuzz: mutations of valid frames are parsed or refused with a FrameError, nothing else', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const rnd = prng(seed);
    const junk = [null, true, 0, -1, 1e308, '', 'a/#', '+', '\u0000', [], {}, [1], { a: 'b' }, 'x'.repeat(300)];
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    for (let i = 0; i < 5000; i++) {
      const base = structuredClone(pick(VALID)) as Record<string, unknown>;
      const keys = [...Object.keys(base), 'type', 'filters', 'topic', 'payload', 'encoding', 'retain', 'id', 'since', 'userProperties', '__proto__', 'constructor'];
      for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
        const key = pick(keys);
        if (rnd() < 0.2) delete base[key];
        else base[key] = pick(junk);
      }
      let text = JSON.stringify(base);
      if (rnd() < 0.3) {
        // Byte-level damage too.
        const at = Math.floor(rnd() * text.length);
        text = text.slice(0, at) + pick(['"', '{', '}', ',', '\\', '\u00ff', '']) + text.slice(at + 1);
      }
      try {
        parseRequest(Buffer.from(text));
      } catch (err) {
        if (!(err instanceof FrameError)) assert.fail(`seed ${seed}, case ${i}: ${text} threw ${String(err)}`);
      }
    }
  });
});

const message = (payload: Buffer | string, extra: Partial<Message> = {}): Message => ({
  topic: 'a/b',
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  qos: 0,
  retain: false,
  properties: undefined,
  expiresAt: 0,
  publisherId: undefined,
  ...extra,
});

describe('message encoding', () => {
  test('JSON documents as JSON, other text as text, bytes as base64; one line for SSE', () => {
    const json = (m: Message, retain = false) => JSON.parse(new MessageEncoder(m).json(retain).toString());
    assert.deepEqual(json(message('{\n  "a": [1, 2]\n}')), { type: 'message', topic: 'a/b', payload: { a: [1, 2] }, encoding: 'json' });
    assert.deepEqual(json(message('42')), { type: 'message', topic: 'a/b', payload: '42', encoding: 'text' });
    assert.deepEqual(json(message('{broken')), { type: 'message', topic: 'a/b', payload: '{broken', encoding: 'text' });
    assert.deepEqual(json(message(Buffer.from([0xc3, 0x28]))), { type: 'message', topic: 'a/b', payload: 'wyg=', encoding: 'base64' });
    assert.deepEqual(json(message(''), true), { type: 'message', topic: 'a/b', payload: '', encoding: 'text', retain: true });
    const sse = new MessageEncoder(message('{\n"a":1}')).sse(false).toString();
    assert.match(sse, /^data: \{[^\n]*\}\n\n$/);
  });

  test('a broadcast encodes once: every subscriber gets the same bytes', () => {
    const b = new Broadcast(message('{"x":1}'), 0);
    const first = b.encoding(WEB_ENCODING);
    const second = b.encoding(WEB_ENCODING);
    assert.equal(first, second);
    assert.equal(first.json(false), second.json(false));
    assert.equal(first.sse(true), second.sse(true));
  });
});
