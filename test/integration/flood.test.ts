// Floods from clients that never read (issue 13, item 3): requests whose replies pile up on our
// side (PINGREQ -> PINGRESP, QoS 1 PUBLISH -> PUBACK, WebSocket Ping -> Pong, before CONNECT too).
// Each flood runs for a bounded time against a fresh server; the server's RSS must stay within
// RSS_GROWTH_LIMIT of its warmed-up baseline while another client keeps its publish -> deliver
// round trip. Then: a connection over the slow-consumer bound is closed (metric, log, lifecycle
// event), and a peer that keeps sending after we closed is dropped at the close deadline.
//
// The flooders are raw sockets that stop reading once connected (socket.pause()) and write as
// fast as write() allows; the kernel's socket buffers (several MB on loopback) fill first, then
// every reply stays in the server unless it stops reading. Measured on the code before this change
// (2 shared cores): TCP PINGREQ +258 MB, WebSocket pings +785 MB, pings before CONNECT +1056 MB
// within FLOOD_MS; the QoS 1 floods left the server unable to answer within the test's time; round
// trip medians of 200-500 ms; the close-deadline cases were never dropped. This code: +35-100 MB
// at the GC's peaks, round trips of a few ms.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import mqtt from 'mqtt';
import { connectClient, sleep, subscriber, uid, waitUntil } from '../helpers/clients.js';
import { rawConnect } from '../helpers/raw-client.js';
import { rssBytes, type TestServer } from '../helpers/server.js';
import { freshServer, installCleanup } from '../helpers/suite.js';

installCleanup();

/**
 * How long a flood lasts. The TCP PINGREQ flood keeps 7 s: before the fix it grew the server by
 * +258 MB in 7 s (about 1 s to fill the kernel's buffers, then ~40 MB/s), so a shorter flood would
 * stay under RSS_GROWTH_LIMIT on the broken code too. The others showed their fault far sooner
 * (+785 MB and +1056 MB in 7 s; the QoS 1 and SUBSCRIBE floods stalled the round trips within the
 * first second), so 4 s keeps their meaning.
 */
const FLOOD_MS = 4_000;
const PINGREQ_FLOOD_MS = 7_000;
/**
 * RSS above the baseline allowed during a flood. What the server holds for a paused flooder is far
 * smaller (limits.outboundPauseReadBytes, 64 KB); the rest is garbage from parsing at full speed
 * until the kernel's buffers are full, which V8 collects in a sawtooth (+35-100 MB at the peaks).
 * The code before this change grew by 60 MB/s and more once the kernel's buffers were full.
 */
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;
/**
 * Another client's publish -> delivery round trips during a flood: their median, and the slowest
 * (generous: test machines are shared). A paused flooder reads at most about one budget per
 * event-loop turn, so others keep their turn: measured medians of 1-5 ms, at most ~60 ms.
 */
const ROUND_TRIP_MEDIAN_LIMIT_MS = 250;
const ROUND_TRIP_LIMIT_MS = 3_000;

const MB = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

// ---- raw flooding clients -----------------------------------------------------------------------

function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}

function connectPacket(clientId: string): Buffer {
  return encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 });
}

/** A masked client frame (RFC 6455 §5.2). */
function wsFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + 4 + len);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(len, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(len), 2);
  const mask = randomBytes(4);
  mask.copy(out, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

const OP_BINARY = 0x2;
const OP_PING = 0x9;

/** `count` copies of `unit` in one buffer. */
function repeat(unit: Buffer, count: number): Buffer {
  return Buffer.concat(new Array<Buffer>(count).fill(unit));
}

/** ~64 KB of PINGREQ. */
const PINGREQS = repeat(Buffer.from([0xc0, 0x00]), 32768);
/** ~64 KB of QoS 1 PUBLISH to `flood/x` (no subscriber), packet identifiers 1..N. */
function qos1Publishes(): Buffer {
  const parts: Buffer[] = [];
  for (let id = 1; id <= 6000; id++) parts.push(encode({ cmd: 'publish', topic: 'flood/x', payload: Buffer.alloc(0), qos: 1, messageId: id, retain: false, dup: false }));
  return Buffer.concat(parts);
}
/** ~64 KB of empty WebSocket Ping frames (6 bytes each, masked). */
const WS_PINGS = repeat(wsFrame(OP_PING, Buffer.alloc(0)), 10922);

interface Flooder {
  socket: net.Socket;
  closed: boolean;
  /** Wraps MQTT bytes for this transport (a binary frame on WebSocket). */
  wrap(bytes: Buffer): Buffer;
}

/** Reads until `enough(received)`, then stops reading for good. */
function readUntil(socket: net.Socket, enough: (received: Buffer) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no ${what} within 5 s (got ${received.length} bytes)`)), 5_000);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (enough(received)) done();
    };
    const onClose = () => done(new Error(`closed before ${what}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

async function openSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** A TCP client; with `clientId`, it sends CONNECT and reads CONNACK before it stops reading. */
async function tcpFlooder(srv: TestServer, clientId?: string): Promise<Flooder> {
  const socket = await openSocket(srv.mqttPort);
  const f: Flooder = { socket, closed: false, wrap: (b) => b };
  socket.on('close', () => (f.closed = true));
  if (clientId !== undefined) {
    socket.write(connectPacket(clientId));
    await readUntil(socket, (r) => r.length >= 4 && r[0] === 0x20, 'CONNACK');
  } else {
    socket.pause();
  }
  return f;
}

/** A WebSocket client on /mqtt; with `clientId`, CONNECT and CONNACK as above. */
async function wsFlooder(srv: TestServer, clientId?: string): Promise<Flooder> {
  const socket = await openSocket(srv.httpPort);
  const f: Flooder = { socket, closed: false, wrap: (b) => wsFrame(OP_BINARY, b) };
  socket.on('close', () => (f.closed = true));
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:${srv.httpPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`,
  );
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  const headerEnd = (r: Buffer) => r.indexOf('\r\n\r\n');
  if (clientId === undefined) {
    await readUntil(socket, (r) => headerEnd(r) >= 0, '101 response');
    return f;
  }
  // The 101 response, then a binary frame holding CONNACK (0x82 0x04 0x20 0x02 ...).
  socket.write(f.wrap(connectPacket(clientId)));
  await readUntil(
    socket,
    (r) => {
      const end = headerEnd(r);
      if (end < 0) return false;
      assert.match(r.subarray(0, end).toString(), new RegExp(`Sec-WebSocket-Accept: ${accept.replace(/[+/=]/g, '\\$&')}`));
      const rest = r.subarray(end + 4);
      return rest.length >= 6 && rest[0] === 0x82 && rest[2] === 0x20;
    },
    '101 and CONNACK',
  );
  return f;
}

/**
 * Writes `chunk` again and again for `ms`, as fast as the socket takes it (never more than its
 * buffer: waits for 'drain'). Returns the bytes written.
 */
async function flood(f: Flooder, chunk: Buffer, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let written = 0;
  while (Date.now() < until && !f.closed) {
    if (f.socket.write(chunk)) {
      written += chunk.length;
      // Let this process's other clients (the round trips, the sampler) run between writes.
      await new Promise((r) => setImmediate(r));
      continue;
    }
    written += chunk.length;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      function done() {
        clearTimeout(timer);
        f.socket.off('drain', done);
        f.socket.off('close', done);
        resolve();
      }
      f.socket.once('drain', done);
      f.socket.once('close', done);
    });
  }
  return written;
}

// ---- measuring ------------------------------------------------------------------------------------

/** Samples the server's RSS every 50 ms; stop() returns the largest value seen. */
function sampleRss(pid: number): { stop(): number } {
  let max = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      max = Math.max(max, rssBytes(pid));
    } catch {
      // the process is gone: the caller asserts it is alive
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}

/** Publishes QoS 1 messages one after another until stopped; records each publish -> delivery time. */
async function roundTrips(srv: TestServer): Promise<{ stop(): Promise<number[]> }> {
  const topic = uid('rt');
  const sub = await subscriber(srv, topic, 1);
  const pub = await connectClient(srv, { protocolVersion: 4 });
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      const t0 = Date.now();
      await pub.client.publishAsync(topic, `rt-${n}`, { qos: 1 });
      await sub.inbox.waitFor(++n, ROUND_TRIP_LIMIT_MS * 2);
      times.push(Date.now() - t0);
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return times;
    },
  };
}

// ---- the floods -----------------------------------------------------------------------------------

const cases: { name: string; open: (srv: TestServer) => Promise<Flooder>; chunk: (f: Flooder) => Buffer; ms?: number }[] = [
  { name: 'TCP: PINGREQ flood, PINGRESPs never read', open: (s) => tcpFlooder(s, uid('flood')), chunk: () => PINGREQS, ms: PINGREQ_FLOOD_MS },
  { name: 'WebSocket: Ping frames after CONNECT, Pongs never read', open: (s) => wsFlooder(s, uid('flood')), chunk: () => WS_PINGS },
  { name: 'WebSocket: Ping frames before any CONNECT, Pongs never read', open: (s) => wsFlooder(s), chunk: () => WS_PINGS },
  { name: 'TCP: QoS 1 PUBLISH flood, PUBACKs never read', open: (s) => tcpFlooder(s, uid('flood')), chunk: () => qos1Publishes() },
  {
    name: 'WebSocket: QoS 1 PUBLISH flood in binary frames, PUBACKs never read',
    open: (s) => wsFlooder(s, uid('flood')),
    chunk: (f) => f.wrap(qos1Publishes()),
  },
];

describe('a client that floods requests and never reads costs bounded memory', () => {
  // One server for the floods; each case measures from the RSS it starts at.
  let srv: TestServer;
  before(async () => {
    srv = await freshServer();
    const rt = await roundTrips(srv);
    await sleep(300);
    await rt.stop();
  });
  after(async () => {
    await srv.stop();
  });

  for (const c of cases) {
    test(c.name, { timeout: 30_000 }, async (t) => {
      const baseline = rssBytes(srv.pid);
      {
        const flooder = await c.open(srv);
        const chunk = c.chunk(flooder);
        const rt = await roundTrips(srv);
        const rss = sampleRss(srv.pid);
        let written: number;
        let peak: number;
        let times: number[];
        try {
          written = await flood(flooder, chunk, c.ms ?? FLOOD_MS);
        } finally {
          peak = rss.stop();
          times = await rt.stop();
        }
        const growth = peak - baseline;
        t.diagnostic(`wrote ${MB(written)}; RSS ${MB(baseline)} -> peak ${MB(peak)} (+${MB(growth)}); round trips: ${times.length}, max ${Math.max(...times)} ms [${times.join(",")}]`);
        assert.ok(srv.isAlive(), `server died: ${srv.stderr()}`);
        assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${MB(growth)} (limit ${MB(RSS_GROWTH_LIMIT)}) while the client wrote ${MB(written)}`);
        assert.ok(times.length >= 5, `only ${times.length} round trips completed during the flood`);
        const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
        assert.ok(median < ROUND_TRIP_MEDIAN_LIMIT_MS, `round trips took ${median} ms (median) during the flood`);
        assert.ok(Math.max(...times) < ROUND_TRIP_LIMIT_MS, `a round trip took ${Math.max(...times)} ms during the flood`);
        flooder.socket.destroy();
        await waitUntil(() => flooder.closed, 2_000, 'the flooder to close');
      }
    });
  }
});

// ---- SUBSCRIBE with many retained messages ---------------------------------------------------------

/** `count` retained QoS 0 messages under `prefix/`, stored before the QoS 1 fence's PUBACK. */
async function storeRetained(srv: TestServer, prefix: string, count: number): Promise<void> {
  const f = await tcpFlooder(srv, uid('retainer'));
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(encode({ cmd: 'publish', topic: `${prefix}/${i}`, payload: Buffer.from(`r${i}`), qos: 0, retain: true, dup: false }));
  parts.push(encode({ cmd: 'publish', topic: `${prefix}-fence`, payload: Buffer.alloc(0), qos: 1, messageId: 1, retain: false, dup: false }));
  f.socket.write(Buffer.concat(parts));
  f.socket.resume();
  await readUntil(f.socket, (r) => r.includes(Buffer.from([0x40, 0x02, 0x00, 0x01])), 'PUBACK of the fence');
  f.socket.destroy();
}

describe('SUBSCRIBE floods that each send many retained messages', () => {
  // Each SUBSCRIBE to `#` walks and queues every retained message: the budget is checked between
  // packets, not only per 4 KB slice (~450 SUBSCRIBEs), or one read holds the event loop for
  // seconds. Measured before: other clients' round trips of 1.3-1.7 s again and again.
  let srv: TestServer;
  before(async () => {
    srv = await freshServer({ limits: { maxRetainedMessages: 100_000 } });
    await storeRetained(srv, uid('kept'), 20_000);
  });
  after(async () => {
    await srv.stop();
  });

  test('a client sending SUBSCRIBE # again and again without reading does not stall the others', { timeout: 60_000 }, async (t) => {
    const flooder = await tcpFlooder(srv, uid('subflood'));
    const subscribes: Buffer[] = [];
    for (let id = 1; id <= 2000; id++) subscribes.push(encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: '#', qos: 0 }] }));
    const rt = await roundTrips(srv);
    let times: number[];
    try {
      await flood(flooder, Buffer.concat(subscribes), FLOOD_MS);
    } finally {
      times = await rt.stop();
    }
    t.diagnostic(`round trips: ${times.length}, max ${Math.max(...times)} ms`);
    assert.ok(srv.isAlive(), `server died: ${srv.stderr()}`);
    assert.ok(times.length >= 5, `only ${times.length} round trips completed during the flood`);
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    assert.ok(median < ROUND_TRIP_MEDIAN_LIMIT_MS, `round trips took ${median} ms (median) during the flood`);
    assert.ok(Math.max(...times) < 1_000, `a round trip took ${Math.max(...times)} ms during the flood`);
    flooder.socket.destroy();
  });
});

// ---- slow consumers -------------------------------------------------------------------------------

async function metric(srv: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} missing from /metrics`);
  return Number(line.split(' ')[1]);
}

describe('slow consumers', () => {
  // A subscriber that stops reading while 64 KB QoS 0 messages keep coming: once the kernel's
  // buffers are full, its queue passes limits.slowConsumerBytes (default: maxOutboundBufferBytes,
  // 1 MB) and is not read within limits.slowConsumerSeconds.
  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport}: a subscriber that does not read what is queued for it is closed, counted, logged; THROTTLED`, { timeout: 30_000 }, async () => {
      // The shortest bound the config allows: the deadline itself is tested on a ManualClock in
      // test/transport/flow.test.ts; this proves the server's wiring on the system clock.
      const srv = await freshServer({ limits: { slowConsumerSeconds: 0.1 } });
      try {
        const watcher = await mqtt.connectAsync(srv.mqttUrl, { clientId: uid('watch'), reconnectPeriod: 0 });
        const events: Record<string, unknown>[] = [];
        watcher.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString()) as Record<string, unknown>));
        await watcher.subscribeAsync('$aws/events/presence/disconnected/+', { qos: 1 });
        assert.equal(await metric(srv, 'switchboard_slow_consumer_disconnects_total'), 0);

        const topic = uid('firehose');
        const clientId = uid('slow');
        const stalled = await rawConnect(transport, srv, { protocolVersion: 4 });
        await stalled.connect({ clientId });
        stalled.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
        await stalled.expect('suback');
        stalled.pause();

        const pub = await connectClient(srv, { protocolVersion: 5 });
        const payload = Buffer.alloc(64 * 1024, 0x61);
        const t0 = Date.now();
        const closedEvent = () => events.find((e) => e.clientId === clientId);
        // At most ~60 MB offered; the kernel takes a few MB, then the queue stays over the bound.
        for (let i = 0; i < 1000 && closedEvent() === undefined; i++) {
          await pub.client.publishAsync(topic, payload, { qos: 1 });
          if (i % 20 === 19) await sleep(50);
        }
        await waitUntil(() => closedEvent() !== undefined, 5_000, 'the disconnected event');
        const took = Date.now() - t0;
        // The close reaches the client behind the data it has not read.
        stalled.resume();
        await stalled.waitClosed(5_000);

        const event = closedEvent()!;
        assert.equal(event.disconnectReason, 'THROTTLED');
        assert.equal(event.clientInitiatedDisconnect, false);
        assert.equal(await metric(srv, 'switchboard_slow_consumer_disconnects_total'), 1);
        await srv.waitForLog((l) => String(l.msg).startsWith('closing connection: slow consumer') && l.clientId === clientId);
        assert.ok(took < 20_000, `closed after ${took} ms`);
        await watcher.endAsync();
      } finally {
        await srv.stop();
      }
    });
  }
});

// ---- the close deadline ---------------------------------------------------------------------------

describe('after we close, a peer that keeps sending is dropped at a fixed deadline', () => {
  // CLOSE_TIMEOUT_MS in src/transport/flow.ts, plus scheduling slack. The deadline for TCP and
  // WebSocket is tested exactly on a ManualClock (test/transport/flow.test.ts, websocket.test.ts);
  // this proves it runs on the system clock in the server, once.
  const DEADLINE_MS = 5_000 + 1_500;

  test('tcp: closed by the server, the peer sends a byte every 100 ms and never reads', { timeout: 20_000 }, async () => {
    const srv = await freshServer();
    try {
      const f = await tcpFlooder(srv, uid('close'));
      // A protocol violation makes the server close: a reserved packet type.
      f.socket.write(Buffer.from([0xf0, 0x00]));
      const t0 = Date.now();
      // Activity that an idle timeout would count.
      const keepSending = setInterval(() => {
        if (!f.closed) f.socket.write(Buffer.from([0x00]));
      }, 100);
      try {
        await waitUntil(() => f.closed, DEADLINE_MS + 2_000, 'the server to drop the connection');
      } finally {
        clearInterval(keepSending);
      }
      const took = Date.now() - t0;
      assert.ok(took < DEADLINE_MS, `dropped after ${took} ms`);
    } finally {
      await srv.stop();
    }
  });
});
