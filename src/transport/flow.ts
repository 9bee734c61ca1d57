// What one connection may cost us in outbound memory, whatever its peer does, and the closing
// deadline: shared by the TCP and WebSocket connections (each subclasses SocketConnection).
//
// Every byte we write for a peer waits in its socket until the peer reads it. A peer that floods
// requests whose replies it never reads (PINGREQ -> PINGRESP, QoS 1 PUBLISH -> PUBACK, WebSocket
// Ping -> Pong, before CONNECT too) would otherwise grow our memory without bound. So:
// - Outbound budget: the bytes queued in the socket (socket.writableLength, which covers what a
//   pending writev holds) plus WRITE_COST for every write since the last flush we observed, because
//   a queued 2-byte PINGRESP costs ~150 bytes of heap (its Buffer and the queue entry), not 2.
// - Past `pauseReadBytes` of that budget the connection stops reading: the reader stops between
//   frames or slices, keeps the rest of the current chunk (at most one socket read), and the socket
//   is paused, so TCP flow control slows the peer to its own reading speed. Reading resumes in the
//   event-loop turn after everything queued before the pause has reached the kernel (the callback
//   of an empty "marker" write, which Node calls once every earlier write completed), so a flooder
//   reads at most about one budget's worth per turn and other connections keep their turn.
// - The reader hands data on in slices of at most READ_SLICE bytes and checks the budget between
//   them: one 64 KB read of 2-byte PINGREQs would otherwise queue 32,768 PINGRESPs at once. Past the
//   threshold at most one slice's replies are added (READ_SLICE / 2 packets).
// - The handler may stop between two packets too (holdInput: the MQTT reader asks after each
//   packet), since one packet can queue far more than its size: a SUBSCRIBE to `#` sends every
//   retained message. It keeps the rest of its input and reads it first on onInputResumed.
// - Past `slowConsumerBytes` of that budget, the peer must read what is queued within `slowConsumerMs`
//   (a marker write again), or the connection is closed as a slow consumer (the handler's
//   onSlowConsumer: counted, logged, disconnectReason THROTTLED). The check at each write reads
//   writableLength and compares; the hot path (fan-out writes) allocates nothing for it.
// - Closing: once we have sent Close / ended our side, the socket is destroyed at a fixed deadline
//   (CLOSE_TIMEOUT_MS), which a peer that keeps sending cannot push back (unlike socket.setTimeout,
//   an idle timeout reset by every read).
//
// Socket listeners are module-level functions that find their connection through a field or an
// argument (no closures per connection), except the marker callback, created once for a connection
// the first time it is paused or over the slow-consumer bound, and the two deadlines (slow consumer,
// closing), armed on the injected Clock only when a connection reaches them.
import type { Socket } from 'node:net';
import { systemClock, type Clock, type Timer } from '../shared/clock.js';
import type { ConnectionHandler } from './connection.js';
import { corkUntilNextTick } from './cork.js';

export interface OutboundFlow {
  /** Stop reading from a connection whose outbound budget exceeds this (bytes). */
  pauseReadBytes: number;
  /** A connection with more than this outbound budget must read it within slowConsumerMs (bytes). */
  slowConsumerBytes: number;
  slowConsumerMs: number;
  /** Keeps the slow-consumer and closing deadlines; default the system clock. */
  clock?: Clock;
}

/**
 * The flow settings of the `limits` config section. slowConsumerBytes defaults to the larger of
 * maxOutboundBufferBytes (where QoS 0 starts to be dropped) and outboundPauseReadBytes.
 */
export function outboundFlow(
  limits: {
    outboundPauseReadBytes: number;
    slowConsumerBytes?: number | undefined;
    slowConsumerSeconds: number;
    maxOutboundBufferBytes: number;
  },
  clock?: Clock,
): OutboundFlow {
  return {
    pauseReadBytes: limits.outboundPauseReadBytes,
    slowConsumerBytes: limits.slowConsumerBytes ?? Math.max(limits.maxOutboundBufferBytes, limits.outboundPauseReadBytes),
    slowConsumerMs: Math.round(limits.slowConsumerSeconds * 1000),
    ...(clock ? { clock } : {}),
  };
}

/** Bytes of input handed to the reader between two budget checks. */
export const READ_SLICE = 4096;
/** Budget charged per queued write beyond its bytes (a Buffer and a write-queue entry, measured ~150 B). */
export const WRITE_COST = 128;
/** A peer that does not finish the closing handshake is dropped this long after we started it. */
export const CLOSE_TIMEOUT_MS = 5000;

const EMPTY = Buffer.alloc(0);

/**
 * The outbound budget of a connection that has `queuedBytes` in its socket and made `writes`
 * writes since the last observed flush.
 */
export function outboundCost(queuedBytes: number, writes: number): number {
  return queuedBytes + writes * WRITE_COST;
}

export abstract class SocketConnection {
  closed = false;
  protected handler: ConnectionHandler | null = null;
  protected readonly socket: Socket;
  protected readonly flow: OutboundFlow;
  /** Writes since the last flush we know of (a marker's callback, or an empty socket seen). */
  private writes = 0;
  private writesAtMark = 0;
  /** An empty marker write is queued; its callback has not run yet. */
  private marking = false;
  private onMarkFlushed: ((err?: Error | null) => void) | null = null;
  /** Reading is paused; `held` is the unread rest of the last chunk. */
  protected readPaused = false;
  /** The handler holds input of its own (holdInput): it reads that first when reading resumes. */
  private handlerHolds = false;
  private held: Buffer | null = null;
  private resumeScheduled = false;
  private slowTimer: Timer | null = null;
  private closeTimer: Timer | null = null;
  private readonly clock: Clock;
  /** We started closing (Close sent / end()): input is no longer read. */
  protected closing = false;

  constructor(socket: Socket, flow: OutboundFlow) {
    this.socket = socket;
    this.flow = flow;
    this.clock = flow.clock ?? systemClock;
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  /**
   * The outbound budget in use (outboundCost): what deliveries compare with maxOutboundBufferBytes.
   * Bytes alone would let a stalled subscriber of tiny QoS 0 messages hold ~25 times that in heap.
   */
  bufferedBytes(): number {
    const queued = this.socket.writableLength;
    if (queued === 0) {
      // Everything written has reached the kernel.
      this.writes = 0;
      return 0;
    }
    return outboundCost(queued, this.writes);
  }

  /** Reads `chunk` (the transport's framing); stops via mustPause()/pauseReading() when over budget. */
  protected abstract readChunk(chunk: Buffer): void;

  /** Input from the socket: read now, or kept while reading is paused (bounded by the paused socket). */
  protected receive(chunk: Buffer): void {
    if (this.closing || this.closed) return;
    if (this.readPaused) {
      // A paused socket emits no more 'data'; this only guards against a read already under way.
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      return;
    }
    this.readChunk(chunk);
  }

  /** Queues bytes for the peer (corked until the end of the tick), counting them against the budget. */
  protected push(bytes: Buffer): void {
    const socket = this.socket;
    // An empty socket has flushed every earlier write.
    if (socket.writableLength === 0) this.writes = 0;
    corkUntilNextTick(socket);
    socket.write(bytes);
    this.writes++;
    if (this.slowTimer === null && outboundCost(socket.writableLength, this.writes) > this.flow.slowConsumerBytes) {
      this.overSlowConsumerBound();
    }
  }

  /** True when the reader must stop before reading more: the outbound budget is exceeded. */
  protected mustPause(): boolean {
    // The handler held its input during this read (holdInput): the rest waits too.
    if (this.readPaused) return true;
    const queued = this.socket.writableLength;
    if (queued === 0) {
      // Everything written has reached the kernel.
      this.writes = 0;
      return false;
    }
    return outboundCost(queued, this.writes) > this.flow.pauseReadBytes;
  }

  /**
   * The handler stopped between packets and keeps the rest itself (one SUBSCRIBE may queue
   * thousands of retained messages, so the budget is checked per packet, not only per slice).
   * The read under way stops at its next check and keeps its own rest (mustPause).
   */
  holdInput(): void {
    if (this.closing || this.closed) return;
    this.handlerHolds = true;
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
    this.markFlush();
  }

  /** Stops reading; `rest` (unread bytes of the current chunk, possibly empty) waits for the flush. */
  protected pauseReading(rest: Buffer): void {
    this.held = rest.length > 0 ? rest : null;
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
    this.markFlush();
  }

  /** Queues an empty write whose callback tells us that everything queued before it was flushed. */
  private markFlush(): void {
    if (this.marking || this.socket.writableEnded) return;
    this.marking = true;
    this.writesAtMark = this.writes;
    this.onMarkFlushed ??= (err) => this.flushed(err);
    this.socket.write(EMPTY, this.onMarkFlushed);
  }

  private flushed(err?: Error | null): void {
    this.marking = false;
    this.writes = Math.max(0, this.writes - this.writesAtMark);
    if (this.slowTimer !== null) {
      this.slowTimer.cancel();
      this.slowTimer = null;
    }
    if (err || this.closed || this.closing) return;
    // Written since the mark and still over the bound: the peer gets the same time for that.
    if (outboundCost(this.socket.writableLength, this.writes) > this.flow.slowConsumerBytes) this.overSlowConsumerBound();
    if (this.readPaused && !this.resumeScheduled) {
      // In the next turn of the event loop, not now: when the kernel takes our writes at once, the
      // marker's callback comes within the same turn, and resuming here would let one flooding
      // connection read megabytes per turn while every other connection waits.
      this.resumeScheduled = true;
      // A throttled handler (limits.maxInboundBytesPerSecond) resumes later, by the clock.
      const delay = this.handler?.inputDelayMs?.() ?? 0;
      if (delay > 0) this.clock.setTimeout(() => onResumeTurn(this), delay);
      else setImmediate(onResumeTurn, this);
    }
  }

  /** Called in the turn after a flush that ended a pause. */
  resumeTurn(): void {
    this.resumeScheduled = false;
    if (this.readPaused && !this.closing && !this.closed) this.resumeReading();
  }

  private resumeReading(): void {
    this.readPaused = false;
    if (this.handlerHolds) {
      // What the handler kept came before what we kept.
      this.handlerHolds = false;
      this.handler?.onInputResumed();
      if (this.readPaused || this.closing || this.closed) return;
    }
    const held = this.held;
    this.held = null;
    if (held !== null) this.readChunk(held);
    if (!this.readPaused && !this.closed) this.socket.resume();
  }

  /** More than slowConsumerBytes queued: it must be flushed within slowConsumerMs. */
  private overSlowConsumerBound(): void {
    if (this.slowTimer !== null || this.closing || this.closed) return;
    // A closure per connection, but only for one over the bound (never on the fan-out path).
    this.slowTimer = this.clock.setTimeout(() => this.slowConsumerTimeout(), this.flow.slowConsumerMs);
    this.markFlush();
  }

  /** Called by the slow-consumer timer. */
  slowConsumerTimeout(): void {
    this.slowTimer = null;
    if (this.closed || this.closing) return;
    if (this.handler !== null) this.handler.onSlowConsumer(this.socket.writableLength);
    else this.socket.destroy();
  }

  /**
   * We have ended our side (after a Close frame / DISCONNECT): read nothing more, but let the
   * socket see the peer's FIN, and destroy it at a fixed deadline whatever the peer keeps sending.
   */
  protected startClosing(): void {
    this.closing = true;
    this.held = null;
    if (this.slowTimer !== null) {
      this.slowTimer.cancel();
      this.slowTimer = null;
    }
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
    if (this.closeTimer === null) {
      const socket = this.socket;
      this.closeTimer = this.clock.setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
    }
  }

  /** The socket closed: drop timers and held input. Returns false when this was already done. */
  protected socketClosed(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.held = null;
    this.slowTimer?.cancel();
    this.closeTimer?.cancel();
    this.slowTimer = null;
    this.closeTimer = null;
    return true;
  }
}

function onResumeTurn(connection: SocketConnection): void {
  connection.resumeTurn();
}

