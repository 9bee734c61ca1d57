// The outbound budget (src/transport/flow.ts): its arithmetic and config, and on a real TCP socket
// at port 0, a peer that sends requests without reading the replies: the connection stops reading
// at the budget, holds at most what it has buffered, and loses nothing once the peer reads again;
// and the slow-consumer and closing deadlines, on a ManualClock.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { limitsSchema } from '../../src/config/schema.js';
import type { Connection, ConnectionHandler } from '../../src/transport/connection.js';
import { CLOSE_TIMEOUT_MS, READ_SLICE, WRITE_COST, outboundCost, outboundFlow, type OutboundFlow } from '../../src/transport/flow.js';
import { listenTcp } from '../../src/transport/tcp.js';
import { ManualClock } from '../../src/shared/clock.js';
import { waitUntil } from '../helpers/clients.js';

describe('budget arithmetic and limits', () => {
  test('a queued write costs its bytes plus WRITE_COST', () => {
    assert.equal(outboundCost(0, 0), 0);
    assert.equal(outboundCost(1000, 0), 1000);
    assert.equal(outboundCost(2, 1), 2 + WRITE_COST);
    // 512 queued PINGRESPs (1 KB) weigh as much as 65 KB: they hold ~75 KB of heap.
    assert.ok(outboundCost(1024, 512) > 65536);
  });

  test('defaults: pause at 64 KB; slow consumer past maxOutboundBufferBytes for 60 s', () => {
    const limits = limitsSchema.parse({});
    assert.equal(limits.outboundPauseReadBytes, 65536);
    assert.equal(limits.slowConsumerBytes, undefined);
    assert.deepEqual(outboundFlow(limits), { pauseReadBytes: 65536, slowConsumerBytes: 1048576, slowConsumerMs: 60_000 });
    // A small maxOutboundBufferBytes does not put the slow-consumer bound below the pause bound.
    assert.equal(outboundFlow(limitsSchema.parse({ maxOutboundBufferBytes: 2048 })).slowConsumerBytes, 65536);
    assert.equal(outboundFlow(limitsSchema.parse({ slowConsumerBytes: 200000, slowConsumerSeconds: 2.5 })).slowConsumerMs, 2500);
  });

  test('a slow-consumer bound below the pause bound is refused, naming the field', () => {
    const r = limitsSchema.safeParse({ outboundPauseReadBytes: 131072, slowConsumerBytes: 65536 });
    assert.equal(r.success, false);
    const issue = r.error!.issues[0]!;
    assert.deepEqual(issue.path, ['slowConsumerBytes']);
    assert.match(issue.message, /at least outboundPauseReadBytes \(131072\)/);
    assert.equal(limitsSchema.safeParse({ outboundPauseReadBytes: 1024 }).success, false);
    assert.equal(limitsSchema.safeParse({ slowConsumerSeconds: 0 }).success, false);
  });
});

/** Answers every 2-byte request with its 2 bytes, one write each (a PINGREQ -> PINGRESP shape). */
class Echo implements ConnectionHandler {
  maxBuffered = 0;
  requests = 0;
  slow = 0;
  closed = false;
  constructor(readonly connection: Connection) {
    connection.setHandler(this);
  }
  /** A request split across reads: its first byte. */
  private half: number | null = null;
  onData(chunk: Buffer): void {
    let i = 0;
    if (this.half !== null && chunk.length > 0) {
      this.connection.write(Buffer.from([this.half, chunk[0]!]));
      this.requests++;
      this.half = null;
      i = 1;
    }
    for (; i + 1 < chunk.length; i += 2) {
      this.connection.write(Buffer.from(chunk.subarray(i, i + 2)));
      this.requests++;
    }
    if (i < chunk.length) this.half = chunk[i]!;
    this.maxBuffered = Math.max(this.maxBuffered, this.connection.bufferedBytes());
  }
  onDrain(): void {}
  onClose(): void {
    this.closed = true;
  }
  onInputResumed(): void {}
  onSlowConsumer(): void {
    this.slow++;
    this.connection.destroy();
  }
}

describe('a peer that sends and never reads (TCP)', () => {
  const flow: OutboundFlow = { pauseReadBytes: 16384, slowConsumerBytes: 1 << 20, slowConsumerMs: 60_000 };
  let server: net.Server;
  let port: number;
  const accepted: Echo[] = [];
  before(async () => {
    server = await listenTcp({ host: '127.0.0.1', port: 0 }, (c) => accepted.push(new Echo(c)), flow);
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const e of accepted) e.connection.destroy();
    await new Promise((r) => server.close(r));
  });

  test('reading stops at the budget; every reply arrives, in order, once the peer reads', { timeout: 30_000 }, async () => {
    const client = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => client.once('connect', r));
    client.pause();
    // 2-byte requests numbered 0..65535, over and over: far more replies than the kernel buffers.
    const unit = Buffer.alloc(131072);
    for (let i = 0; i < 65536; i++) unit.writeUInt16BE(i, i * 2);
    let sent = 0;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (client.write(unit)) {
        sent += unit.length;
        continue;
      }
      sent += unit.length;
      // Blocked: the server stopped reading (and the kernel buffers between us are full).
      const drained = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 500);
        client.once('drain', () => {
          clearTimeout(t);
          r(true);
        });
      });
      if (!drained) break;
    }
    const echo = accepted.at(-1)!;
    assert.ok(sent >= 4 * unit.length, `sent only ${sent} bytes`);
    assert.ok(echo.requests * 2 < sent, 'the server stopped reading before it had read everything');
    // Past the budget, at most one slice's replies (READ_SLICE / 2 writes) are added. The budget
    // (bufferedBytes, what QoS 0 drops compare with) counts each queued write's cost, not only its
    // 2 bytes: counting bytes, a stalled subscriber of tiny messages held ~25 times its bound.
    const bound = flow.pauseReadBytes + outboundCost(READ_SLICE, READ_SLICE / 2);
    assert.ok(echo.maxBuffered <= bound, `server's outbound budget reached ${echo.maxBuffered} (bound ${bound})`);
    assert.ok(echo.maxBuffered > flow.pauseReadBytes + READ_SLICE, `budget ${echo.maxBuffered}: the cost of each queued write is not counted`);

    // Reading again: the server resumes and every request is answered, in order.
    const received: Buffer[] = [];
    let receivedBytes = 0;
    client.on('data', (chunk: Buffer) => {
      received.push(chunk);
      receivedBytes += chunk.length;
    });
    client.resume();
    const deadline = Date.now() + 15_000;
    while (receivedBytes < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(receivedBytes, sent);
    const all = Buffer.concat(received);
    for (let off = 0; off < all.length; off += unit.length) {
      assert.ok(all.subarray(off, off + unit.length).equals(unit.subarray(0, Math.min(unit.length, all.length - off))), `replies out of order at ${off}`);
    }
    assert.equal(echo.slow, 0);
    client.destroy();
  });
});

/** Answers the first byte it reads with `burst` bytes in one write; ends the connection on 'E'. */
class Burst implements ConnectionHandler {
  slow = 0;
  bursts = 0;
  closed = false;
  constructor(
    readonly connection: Connection,
    private readonly burst: number,
  ) {
    connection.setHandler(this);
  }
  onData(chunk: Buffer): void {
    if (chunk.includes(0x45)) {
      this.connection.end();
      return;
    }
    if (this.bursts++ === 0) this.connection.write(Buffer.alloc(this.burst, 0x61));
  }
  onDrain(): void {}
  onClose(): void {
    this.closed = true;
  }
  onInputResumed(): void {}
  onSlowConsumer(): void {
    this.slow++;
    this.connection.destroy();
  }
}

describe('deadlines on the injected clock (TCP)', () => {
  // More than the kernel's loopback buffers take from a peer that does not read (a few MB), so the
  // rest stays queued in the socket, over slowConsumerBytes.
  const BURST = 32 * 1024 * 1024;
  const clock = new ManualClock();
  const flow: OutboundFlow = { pauseReadBytes: 16384, slowConsumerBytes: 65536, slowConsumerMs: 1000, clock };
  let server: net.Server;
  let port: number;
  const accepted: Burst[] = [];
  const clients: net.Socket[] = [];
  before(async () => {
    server = await listenTcp({ host: '127.0.0.1', port: 0 }, (c) => accepted.push(new Burst(c, BURST)), flow);
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const b of accepted) b.connection.destroy();
    await new Promise((r) => server.close(r));
  });

  async function open(): Promise<{ socket: net.Socket; burst: Burst }> {
    const before = accepted.length;
    // allowHalfOpen: the peer does not answer our FIN with its own, as a stubborn peer would not.
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    clients.push(socket);
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    await waitUntil(() => accepted.length > before, 2_000, 'the server to accept');
    return { socket, burst: accepted.at(-1)! };
  }

  test('a peer that does not read what is queued is a slow consumer exactly slowConsumerMs later', async () => {
    const { socket, burst } = await open();
    socket.pause();
    const timersBefore = clock.pending;
    socket.write('x');
    await waitUntil(() => burst.bursts === 1, 2_000, 'the burst to be written');
    assert.equal(clock.pending, timersBefore + 1, 'the slow-consumer deadline is armed on the clock');
    clock.advance(999);
    assert.equal(burst.slow, 0, 'not before slowConsumerMs');
    clock.advance(1);
    assert.equal(burst.slow, 1, 'at slowConsumerMs');
  });

  test('a peer that reads everything in time is not', async () => {
    const { socket, burst } = await open();
    socket.pause();
    const timersBefore = clock.pending;
    socket.write('x');
    await waitUntil(() => burst.bursts === 1, 2_000, 'the burst to be written');
    assert.equal(clock.pending, timersBefore + 1);
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    // Everything flushed: the marker write's callback cancels the deadline.
    await waitUntil(() => received === BURST && clock.pending === timersBefore, 10_000, 'the peer to read the burst');
    clock.advance(60_000);
    assert.equal(burst.slow, 0);
  });

  test(`after we end the connection, a peer that never closes its side is dropped at CLOSE_TIMEOUT_MS`, async () => {
    const peer = await open();
    const timersBefore = clock.pending;
    peer.socket.write('E');
    await waitUntil(() => clock.pending === timersBefore + 1, 2_000, 'the close deadline to be armed');
    // The peer keeps sending; a fixed deadline is not pushed back by activity.
    for (let i = 0; i < 5; i++) peer.socket.write('y');
    clock.advance(CLOSE_TIMEOUT_MS - 1);
    assert.equal(clock.pending, timersBefore + 1, 'not before CLOSE_TIMEOUT_MS');
    assert.equal(peer.burst.closed, false);
    clock.advance(1);
    assert.equal(clock.pending, timersBefore);
    await waitUntil(() => peer.burst.closed, 2_000, 'the server to drop the connection');
  });
});
