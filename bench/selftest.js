// Checks the generator's hand-rolled codec against mqtt-packet and its streaming readers against
// every way of cutting a byte stream into reads. Run: node bench/selftest.js
import assert from 'node:assert/strict';
import mqtt from 'mqtt-packet';
import {
  encodeConnect, encodeSubscribe, publishTemplate, encodePuback, readPackets, SUBACK, CONNACK,
} from './lib/mqtt-wire.js';
import { frame, readFrames } from './lib/ws-framing.js';
import { Pool, S_OPEN } from './lib/client-pool.js';

function parseOne(bytes) {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const packets = [];
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (e) => {
    throw e;
  });
  parser.parse(bytes);
  assert.equal(packets.length, 1);
  return packets[0];
}

let checks = 0;
let failures = 0;
function check(name, fn) {
  checks++;
  try {
    fn();
  } catch (err) {
    failures++;
    console.error(`FAIL ${name}\n${err.stack}`);
  }
}

check('CONNECT matches mqtt-packet', () => {
  const p = parseOne(encodeConnect({ clientId: 'bench-17', username: 'bench?token=abc', clean: false, keepalive: 900 }));
  assert.equal(p.cmd, 'connect');
  assert.equal(p.protocolVersion, 4);
  assert.equal(p.clientId, 'bench-17');
  assert.equal(p.username, 'bench?token=abc');
  assert.equal(p.clean, false);
  assert.equal(p.keepalive, 900);
  const q = parseOne(encodeConnect({ clientId: 'x' }));
  assert.equal(q.clean, true);
  assert.equal(q.username, undefined);
});

check('SUBSCRIBE matches mqtt-packet', () => {
  const p = parseOne(encodeSubscribe(7, [{ topic: 'bench/fan/q0', qos: 0 }, { topic: 'bench/fan/q1', qos: 1 }]));
  assert.equal(p.cmd, 'subscribe');
  assert.equal(p.messageId, 7);
  assert.deepEqual(p.subscriptions.map((s) => [s.topic, s.qos]), [['bench/fan/q0', 0], ['bench/fan/q1', 1]]);
});

check('PUBLISH template matches mqtt-packet (QoS 0 and 1, 64 and 300 bytes)', () => {
  for (const [qos, size] of [[0, 64], [1, 64], [1, 300]]) {
    const t = publishTemplate('bench/fan/q1', size, qos);
    if (qos) t.bytes.writeUInt16BE(4242, t.packetIdOffset);
    const p = parseOne(t.bytes);
    assert.equal(p.cmd, 'publish');
    assert.equal(p.topic, 'bench/fan/q1');
    assert.equal(p.qos, qos);
    assert.equal(p.payload.length, size);
    if (qos) assert.equal(p.messageId, 4242);
  }
});

check('PUBACK matches mqtt-packet', () => {
  const p = parseOne(encodePuback(65535));
  assert.equal(p.cmd, 'puback');
  assert.equal(p.messageId, 65535);
});

// A stream of server packets as mqtt-packet writes them, cut into reads every possible way.
function serverStream() {
  const parts = [
    mqtt.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    mqtt.generate({ cmd: 'suback', messageId: 1, granted: [0, 1] }),
  ];
  for (let i = 0; i < 20; i++) {
    const qos = i % 2;
    parts.push(mqtt.generate({ cmd: 'publish', topic: `t/${i}`, qos, messageId: qos ? i + 1 : undefined, payload: Buffer.alloc(i === 7 ? 20000 : 64, i), retain: false, dup: false }));
  }
  return { bytes: Buffer.concat(parts), publishes: 20, acks: 10 };
}

function collector() {
  const seen = { publishes: 0, acks: [], other: [] };
  const sink = {
    onPublish(state, buf, header, start) {
      seen.publishes++;
      if (header & 0x06) {
        const p = start + 2 + buf.readUInt16BE(start);
        seen.acks.push(buf.readUInt16BE(p));
      }
    },
  };
  const state = { pending: null, onPacket: (type) => seen.other.push(type) };
  return { seen, sink, state };
}

check('readPackets: every split point, and byte by byte', () => {
  const { bytes, publishes } = serverStream();
  const cuts = [];
  for (let c = 1; c < 200; c++) cuts.push([c]);
  cuts.push(Array.from({ length: bytes.length - 1 }, (_, i) => i + 1));
  for (const points of cuts) {
    const { seen, sink, state } = collector();
    let from = 0;
    for (const at of [...points, bytes.length]) {
      // Reads land in a reused buffer, as with net's `onread`: scribble over it afterwards.
      const shared = Buffer.from(bytes.subarray(from, at));
      readPackets(state, sink, shared, 0, shared.length);
      shared.fill(0xee);
      from = at;
    }
    assert.equal(seen.publishes, publishes);
    assert.deepEqual(seen.other, [CONNACK, SUBACK]);
    assert.deepEqual(seen.acks, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert.equal(state.pending, null);
  }
});

check('readFrames + readPackets: MQTT split across WebSocket frames, frames split across reads', () => {
  const { bytes, publishes } = serverStream();
  // Server frames are unmasked: build them by hand, cutting the MQTT stream at odd places.
  const frames = [];
  const sizes = [1, 2, 3, 125, 126, 127, 65535, 65536, 7];
  let off = 0;
  for (let k = 0; off < bytes.length; k++) {
    const n = Math.min(sizes[k % sizes.length], bytes.length - off);
    const payload = bytes.subarray(off, off + n);
    const header = n < 126 ? Buffer.from([0x82, n]) : n < 65536 ? Buffer.from([0x82, 126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([0x82, 127]), (() => { const b = Buffer.alloc(8); b.writeUInt32BE(n, 4); return b; })()]);
    frames.push(header, payload);
    if (k === 3) frames.push(Buffer.from([0x89, 2, 0x61, 0x62])); // a ping between data frames
    off += n;
  }
  const wire = Buffer.concat(frames);
  for (const step of [1, 2, 3, 5, 64, 1000, wire.length]) {
    const { seen, sink, state } = collector();
    Object.assign(state, { wsPending: null, wsRemaining: 0, wsOpcode: 0, wsControl: null });
    const pings = [];
    for (let from = 0; from < wire.length; from += step) {
      const shared = Buffer.from(wire.subarray(from, Math.min(wire.length, from + step)));
      readFrames(state, shared, 0, shared.length, (s, b, a, e) => readPackets(s, sink, b, a, e), (s, op, payload) => pings.push([op, payload.toString()]));
      shared.fill(0xee);
    }
    assert.equal(seen.publishes, publishes, `step ${step}`);
    assert.deepEqual(pings, [[9, 'ab']]);
  }
});

check('client frames are masked with a zero key', () => {
  const f = frame(Buffer.from([0x40, 2, 0, 1]));
  assert.deepEqual([...f], [0x82, 0x84, 0, 0, 0, 0, 0x40, 2, 0, 1]);
});

// The JSON (/ws) and SSE (/events) delivery counters: a fake open connection fed a stream cut at
// every point (two reads), and byte by byte.
function webCount(transport, stream, cuts) {
  const pool = new Pool({ host: '127.0.0.1', port: 1, transport });
  const conn = { pool, state: S_OPEN, wsPending: null, wsRemaining: 0, wsOpcode: 0, wsControl: null, carry: null, frameStart: true, received: 0, socket: { write() {}, destroy() {} } };
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    pool.onWebBytes(conn, stream, at, cut);
    at = cut;
  }
  return pool.received;
}

function serverTextFrame(text) {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

check('JSON /ws and SSE counters: one per message, every split point, and byte by byte', () => {
  const msg = (i) => `{"type":"message","topic":"bench/fan/q0","payload":"${'x'.repeat(20 + i)}","encoding":"text"}`;
  const json = Buffer.concat([
    serverTextFrame('{"type":"pong","id":1}'),
    ...[0, 1, 2, 3, 200].map((i) => serverTextFrame(msg(i))),
    Buffer.from([0x89, 0]), // a ping between frames
    serverTextFrame('{"type":"error","code":"x","message":"{\\"type\\":\\"message\\""}'),
  ]);
  const events = [0, 1, 2, 3, 200].map((i) => `id: k-${i}\ndata: ${msg(i)}\n\n`).join('') + ': ping\n\n';
  // Chunked transfer coding, as the server sends it: one chunk of two events, the rest in another.
  const cut = events.indexOf('id: k-2');
  const sse = Buffer.from(`${cut.toString(16)}\r\n${events.slice(0, cut)}\r\n${(Buffer.byteLength(events) - cut).toString(16)}\r\n${events.slice(cut)}\r\n`);
  for (const [transport, stream] of [['json', json], ['sse', sse]]) {
    const s = stream;
    for (let i = 0; i <= s.length; i++) assert.equal(webCount(transport, s, [i]), 5, `${transport} cut at ${i}`);
    assert.equal(webCount(transport, s, Array.from({ length: s.length - 1 }, (_, i) => i + 1)), 5, `${transport} byte by byte`);
  }
});

console.log(`selftest: ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
