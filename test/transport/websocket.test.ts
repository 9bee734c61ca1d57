// The WebSocket transport on a real socket at port 0, driven frame by frame (RFC 6455): the
// handshake, masked client frames in any split, fragmentation, control frames, and the frames the
// server writes (unmasked, one per write, a shared template patched per connection).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Connection, ConnectionHandler } from '../../src/transport/connection.js';
import { createWebSocketEndpoint } from '../../src/transport/websocket.js';
import { CLOSE_TIMEOUT_MS } from '../../src/transport/flow.js';
import { ManualClock } from '../../src/shared/clock.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** What the server side of one connection saw. */
class Recorder implements ConnectionHandler {
  readonly chunks: Buffer[] = [];
  closed: boolean | null = null;
  drains = 0;
  constructor(readonly connection: Connection) {
    connection.setHandler(this);
  }
  onData(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(hadError: boolean): void {
    this.closed = hadError;
  }
  slowConsumer = 0;
  onInputResumed(): void {}
  onSlowConsumer(): void {
    this.slowConsumer++;
    this.connection.destroy();
  }
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

let server: http.Server;
let port: number;
/** The connections' deadlines (slow consumer, closing) move only when a test advances it. */
const clock = new ManualClock();
const accepted: Recorder[] = [];
const waiters: ((r: Recorder) => void)[] = [];

before(async () => {
  const endpoint = createWebSocketEndpoint({ secure: false, maxPacketBytes: 1024, flow: { pauseReadBytes: 65536, slowConsumerBytes: 1 << 20, slowConsumerMs: 60_000, clock } }, (connection) => {
    const r = new Recorder(connection);
    accepted.push(r);
    waiters.shift()?.(r);
  });
  server = http.createServer((_req, res) => res.end());
  server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: () => T | undefined | null | false, label: string, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await sleep(5);
  }
}

/** A masked client frame. */
function clientFrame(opcode: number, payload: Buffer, { fin = true, rsv = 0, masked = true } = {}): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | rsv | opcode;
  header[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) header.writeUInt16BE(len, 2);
  if (ext === 8) header.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  mask.copy(header, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([header, body]);
}

interface ServerFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** A raw client: the handshake, then frames parsed from what the server sends. */
class RawWs {
  readonly frames: ServerFrame[] = [];
  private buf = Buffer.alloc(0);
  ended = false;
  constructor(
    readonly socket: net.Socket,
    readonly response: string,
    readonly recorder: Recorder | undefined,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.ended = true));
  }

  /** `allowHalfOpen`: the peer does not answer the server's FIN with its own. */
  static async open(headers: Record<string, string> = {}, path = '/mqtt', pipelined?: Buffer, allowHalfOpen = false): Promise<RawWs> {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
    await new Promise((r) => socket.once('connect', r));
    const key = randomBytes(16).toString('base64');
    const all: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'mqtt',
      ...headers,
    };
    const lines = Object.entries(all).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}\r\n`);
    const accepting = headers['Sec-WebSocket-Key'] === undefined;
    const next = accepting ? new Promise<Recorder>((r) => waiters.push(r)) : undefined;
    socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    if (pipelined) socket.write(pipelined);
    let head = '';
    let rest = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const all = Buffer.concat([Buffer.from(head, 'latin1'), chunk]);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          head = all.toString('latin1');
          return;
        }
        head = all.subarray(0, end + 4).toString('latin1');
        rest = all.subarray(end + 4);
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => resolve());
    });
    const status = head.split('\r\n', 1)[0] ?? '';
    let recorder: Recorder | undefined;
    if (status.includes(' 101 ')) {
      const expected = createHash('sha1').update(key + GUID).digest('base64');
      assert.match(head, new RegExp(`Sec-WebSocket-Accept: ${expected.replace(/[+/]/g, '\\$&')}\r\n`));
      recorder = await Promise.race([next!, sleep(2000).then(() => undefined)]);
    } else {
      waiters.pop();
    }
    const ws = new RawWs(socket, head, recorder);
    if (rest.length > 0) ws.onData(rest);
    return ws;
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      this.frames.push({ fin: (this.buf[0]! & 0x80) !== 0, opcode: this.buf[0]! & 0x0f, masked: (b1 & 0x80) !== 0, payload: this.buf.subarray(at, at + len) });
      this.buf = this.buf.subarray(at + len);
    }
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async frame(opcode: number): Promise<ServerFrame> {
    return until(() => this.frames.find((f) => f.opcode === opcode), `a frame with opcode ${opcode}`);
  }

  async closeCode(): Promise<number> {
    const f = await this.frame(0x8);
    return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  }
}

describe('handshake', () => {
  test('101 with the accept key and the selected subprotocol', async () => {
    const ws = await RawWs.open({ 'Sec-WebSocket-Protocol': 'foo, mqttv3.1' });
    assert.match(ws.response, /^HTTP\/1\.1 101 /);
    assert.match(ws.response, /Sec-WebSocket-Protocol: mqttv3\.1\r\n/);
    assert.doesNotMatch(ws.response, /Sec-WebSocket-Extensions/);
    assert.ok(ws.recorder);
    assert.equal(ws.recorder.connection.transport, 'ws');
    assert.equal(ws.recorder.connection.request?.url, '/mqtt');
    ws.socket.destroy();
  });

  test('no subprotocol offered: accepted without one; permessage-deflate is never negotiated', async () => {
    const ws = await RawWs.open({ 'Sec-WebSocket-Protocol': '', 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
    assert.match(ws.response, /^HTTP\/1\.1 101 /);
    assert.doesNotMatch(ws.response, /Sec-WebSocket-Protocol|Sec-WebSocket-Extensions/);
    ws.socket.destroy();
  });

  for (const [name, headers, path, status] of [
    ['another path', {}, '/other', '404'],
    ['a foreign subprotocol only', { 'Sec-WebSocket-Protocol': 'stomp' }, '/mqtt', '400'],
    ['a malformed key', { 'Sec-WebSocket-Key': 'short' }, '/mqtt', '400'],
    ['an unknown version', { 'Sec-WebSocket-Version': '7' }, '/mqtt', '400'],
  ] as const) {
    test(`refused: ${name} (${status})`, async () => {
      const ws = await RawWs.open(headers as Record<string, string>, path);
      assert.match(ws.response, new RegExp(`^HTTP/1\\.1 ${status} `));
      if (name === 'an unknown version') assert.match(ws.response, /Sec-WebSocket-Version: 13, 8\r\n/);
      await until(() => ws.ended, 'the socket to close');
    });
  }

  test('frames pipelined right behind the request are read', async () => {
    const ws = await RawWs.open({}, '/mqtt', clientFrame(0x2, Buffer.from('early')));
    assert.ok(ws.recorder);
    await until(() => ws.recorder!.data.toString() === 'early', 'the pipelined frame');
    ws.socket.destroy();
  });
});

describe('frames from the client', () => {
  test('payloads reach the handler unmasked, whatever the split of the byte stream', async () => {
    const ws = await RawWs.open();
    const payloads = [Buffer.from('a'), randomBytes(125), randomBytes(126), randomBytes(70_000), Buffer.alloc(0), Buffer.from('end')];
    const bytes = Buffer.concat(payloads.map((p) => clientFrame(0x2, p)));
    // Odd-sized pieces, so headers and masks are split at every kind of boundary.
    for (let i = 0; i < bytes.length; ) {
      const n = i < 300 ? 1 + (i % 5) : 4093;
      ws.send(bytes.subarray(i, i + n));
      i += n;
      if (i < 300) await sleep(0);
    }
    const expected = Buffer.concat(payloads);
    await until(() => ws.recorder!.data.length >= expected.length, 'all payload bytes');
    assert.ok(ws.recorder!.data.equals(expected));
    ws.socket.destroy();
  });

  test('a fragmented binary message is passed on as it arrives; pings inside it are answered', async () => {
    const ws = await RawWs.open();
    ws.send(clientFrame(0x2, Buffer.from('one '), { fin: false }));
    ws.send(clientFrame(0x9, Buffer.from('ping!')));
    ws.send(clientFrame(0x0, Buffer.from('two '), { fin: false }));
    ws.send(clientFrame(0x0, Buffer.from('three')));
    const pong = await ws.frame(0xa);
    assert.equal(pong.payload.toString(), 'ping!');
    assert.equal(pong.masked, false);
    await until(() => ws.recorder!.data.toString() === 'one two three', 'the fragments');
    ws.socket.destroy();
  });

  test('Close is echoed with its code and the close counts as orderly', async () => {
    const ws = await RawWs.open();
    const payload = Buffer.alloc(2 + 3);
    payload.writeUInt16BE(4001, 0);
    payload.write('bye', 2);
    ws.send(clientFrame(0x8, payload));
    assert.equal(await ws.closeCode(), 4001);
    await until(() => ws.ended, 'the server to end the socket');
    ws.socket.end();
    await until(() => ws.recorder!.closed !== null, 'onClose');
    assert.equal(ws.recorder!.closed, false);
  });

  for (const [name, bytes, code] of [
    ['an unmasked frame', () => clientFrame(0x2, Buffer.from('x'), { masked: false }), 1002],
    ['RSV1 without an extension', () => clientFrame(0x2, Buffer.from('x'), { rsv: 0x40 }), 1002],
    ['a continuation without a message', () => clientFrame(0x0, Buffer.from('x')), 1002],
    ['a fragmented ping', () => clientFrame(0x9, Buffer.from('x'), { fin: false }), 1002],
    ['an unknown opcode', () => clientFrame(0x3, Buffer.from('x')), 1002],
    ['a text frame [MQTT-6.0.0-1]', () => clientFrame(0x1, Buffer.from('hello')), 1003],
    ['a frame above the size limit', () => clientFrame(0x2, Buffer.alloc((1 << 20) + 1)), 1009],
    ['a Close with an invalid code', () => clientFrame(0x8, Buffer.from([0x03, 0xed])), 1002],
  ] as const) {
    test(`${name}: Close ${code}, nothing of it passed on`, async () => {
      const ws = await RawWs.open();
      ws.send(bytes());
      assert.equal(await ws.closeCode(), code);
      await until(() => ws.ended, 'the server to end the socket');
      assert.equal(ws.recorder!.data.length, 0);
      ws.socket.destroy();
    });
  }

  test('a peer that does not close its side after our Close is dropped at CLOSE_TIMEOUT_MS, whatever it sends', async () => {
    const ws = await RawWs.open({}, '/mqtt', undefined, true);
    const timersBefore = clock.pending;
    ws.send(clientFrame(0x1, Buffer.from('hello')));
    assert.equal(await ws.closeCode(), 1003);
    await until(() => clock.pending === timersBefore + 1, 'the close deadline to be armed');
    // Pings after our Close: activity that an idle timeout would count, never answered.
    for (let i = 0; i < 5; i++) ws.send(clientFrame(0x9, Buffer.from([i])));
    clock.advance(CLOSE_TIMEOUT_MS - 1);
    assert.equal(ws.recorder!.closed, null, 'not before CLOSE_TIMEOUT_MS');
    clock.advance(1);
    await until(() => ws.recorder!.closed !== null, 'the server to drop the connection');
    assert.equal(ws.frames.filter((f) => f.opcode === 0xa).length, 0, 'no Pong after Close');
    ws.socket.destroy();
  });

  test('a socket dropped without Close is reported as lost', async () => {
    const ws = await RawWs.open();
    ws.socket.destroy();
    await until(() => ws.recorder!.closed !== null, 'onClose');
    assert.equal(ws.recorder!.closed, true);
    assert.equal(ws.recorder!.connection.closed, true);
  });
});

describe('a peer that does not read', () => {
  test('a Ping flood: reading stops at the budget; every Pong arrives, in order, once it reads', { timeout: 30_000 }, async () => {
    const ws = await RawWs.open();
    ws.socket.pause();
    // Pings numbered by a 4-byte payload, 4096 to a write, until the server stops taking them
    // (at most 2M: ~12 MB of Pongs, three times what the kernel buffers between us).
    let sent = 0;
    const until_ = Date.now() + 10_000;
    while (Date.now() < until_ && sent < 2_000_000) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 4096; i++) {
        const n = Buffer.alloc(4);
        n.writeUInt32BE(sent + i, 0);
        batch.push(clientFrame(0x9, n));
      }
      sent += batch.length;
      if (ws.socket.write(Buffer.concat(batch))) continue;
      const drained = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 500);
        ws.socket.once('drain', () => {
          clearTimeout(t);
          r(true);
        });
      });
      if (!drained) break;
    }
    // 64 KB budget (the endpoint's flow), plus one 4 KB slice's Pongs at most.
    const buffered = ws.recorder!.connection.bufferedBytes();
    assert.ok(buffered <= 65536 + 4096, `server buffered ${buffered} bytes`);
    ws.socket.resume();
    await until(() => ws.frames.length >= sent, `${sent} pongs`, 20_000);
    assert.equal(ws.frames.length, sent);
    for (let i = 0; i < sent; i++) {
      const f = ws.frames[i]!;
      assert.equal(f.opcode, 0xa);
      assert.equal(f.payload.readUInt32BE(0), i);
    }
    ws.socket.destroy();
  });
});

describe('frames from the server', () => {
  test('write, writeShared and writePatched: one unmasked binary frame each', async () => {
    const a = await RawWs.open();
    const b = await RawWs.open();
    const template = Buffer.from([0x32, 0x07, 0x00, 0x01, 0x74, 0x00, 0x00, 0x68, 0x69]); // PUBLISH QoS 1 "t", id 0
    const big = randomBytes(300);
    for (const ws of [a, b]) {
      ws.recorder!.connection.write(Buffer.from('plain'));
      ws.recorder!.connection.writeShared(big);
    }
    a.recorder!.connection.writePatched(template, 5, 0x1234);
    b.recorder!.connection.writePatched(template, 5, 7);
    await until(() => a.frames.length === 3 && b.frames.length === 3, 'three frames each');
    for (const ws of [a, b]) {
      for (const f of ws.frames) {
        assert.equal(f.opcode, 0x2);
        assert.equal(f.fin, true);
        assert.equal(f.masked, false);
      }
      assert.equal(ws.frames[0]!.payload.toString(), 'plain');
      assert.ok(ws.frames[1]!.payload.equals(big));
    }
    assert.deepEqual([...a.frames[2]!.payload], [0x32, 0x07, 0x00, 0x01, 0x74, 0x12, 0x34, 0x68, 0x69]);
    assert.deepEqual([...b.frames[2]!.payload], [0x32, 0x07, 0x00, 0x01, 0x74, 0x00, 0x07, 0x68, 0x69]);
    assert.deepEqual([...template], [0x32, 0x07, 0x00, 0x01, 0x74, 0x00, 0x00, 0x68, 0x69], 'the template is untouched');
    a.socket.destroy();
    b.socket.destroy();
  });

  test('end() sends Close 1000 and nothing after it; the request is released on demand', async () => {
    const ws = await RawWs.open();
    const c = ws.recorder!.connection;
    assert.ok(c.request);
    c.releaseRequest();
    assert.equal(c.request, undefined);
    c.write(Buffer.from('last'));
    c.end();
    c.write(Buffer.from('too late'));
    assert.equal(await ws.closeCode(), 1000);
    await until(() => ws.ended, 'the server to end the socket');
    assert.deepEqual(
      ws.frames.map((f) => f.opcode),
      [0x2, 0x8],
    );
    ws.socket.destroy();
  });
});
