// MQTT over WebSocket on the shared HTTP server: the upgrade on /mqtt becomes a Connection whose
// upgrade request (query string and headers) is kept for the authorizer until CONNECT is decided.
//
// The WebSocket protocol (RFC 6455) is implemented here rather than by `ws`, because MQTT needs
// little of it and every idle connection paid for the rest: ws keeps a WebSocket, a Receiver (a
// Writable stream with its state), a Sender, their listener tables and buffer lists per socket,
// about 1.3 KB. What MQTT needs [MQTT-6.0.0]:
// - binary data frames only; a text frame closes the connection (1003) [MQTT-6.0.0-1];
// - an MQTT packet may span frames and a frame may hold several packets [MQTT-6.0.0-2], so the
//   payload of data frames is handed to the MQTT reader as it arrives: messages are never
//   assembled, fragmented messages are only checked for correct sequencing;
// - the "mqtt" subprotocol (or the historical "mqttv3.1") [MQTT-6.0.0-3, 6.0.0-4].
// The same endpoint serves JSON over WebSocket (/ws, src/web/): there text frames are the point, so
// a connection in message mode assembles each message (text or binary, possibly fragmented) up to
// a size limit and hands it on whole; a larger one is skipped and reported to the handler
// (onMessageTooLarge) rather than closing the socket, up to a hard bound past which it closes (1009).
// No extension is ever negotiated (permessage-deflate would cost ~300 KB of zlib state per busy
// connection), so RSV bits must be 0. Client frames must be masked (RFC 6455 §5.1); server frames
// are not, which makes a frame header depend only on the payload length.
//
// Longer than our usual file: the frame reader, the write path with its shared-frame cache and the
// handshake are one connection's state machine; split, each piece would need the others' internals.
import * as crypto from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { countHostHeaders, type ClientOrigin, type Connection, type ConnectionAcceptor, type ConnectionHandler, type TransportKind, type UpgradeRequest } from './connection.js';
import { READ_SLICE, SocketConnection, type OutboundFlow } from './flow.js';
import { normalizeAddress } from './tcp.js';

export const MQTT_WS_PATH = '/mqtt';
// [MQTT-6.0.0-3] the client includes "mqtt"; MQTT 3.1 clients historically used "mqttv3.1".
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];
// RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing.
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
// §4.1: the key is 16 random bytes, base64-encoded.
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

/**
 * SHA-1 in base64 (the Sec-WebSocket-Accept value, §4.2.2). Node 20.12 and later hash in one call,
 * without a Hash object per handshake (a JavaScript wrapper and a native digest context that live
 * until a garbage collection finds them); earlier versions go through createHash.
 */
const sha1Base64: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha1', text, 'base64') : (text) => crypto.createHash('sha1').update(text).digest('base64');

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_INVALID_PAYLOAD = 1007;
const CLOSE_TOO_BIG = 1009;

const kConnection = Symbol('switchboard.connection');

// ---- framing (server side: unmasked) -------------------------------------------------------------

/** Size of the header of an unmasked frame with a payload of `length` bytes (RFC 6455 §5.2). */
export function frameHeaderSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes a final, unmasked frame header for `opcode` and `length` at the start of `target`. */
function writeFrameHeader(target: Buffer, opcode: number, length: number): void {
  target[0] = 0x80 | opcode;
  if (length < 126) {
    target[1] = length;
  } else if (length < 0x10000) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
  } else {
    target[1] = 127;
    target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    target.writeUInt32BE(length >>> 0, 6);
  }
}

/** One final, unmasked frame carrying `payload`: header and payload in one buffer, one iovec. */
export function frame(payload: Buffer, opcode: number = OP_BINARY): Buffer {
  const header = frameHeaderSize(payload.length);
  const out = Buffer.allocUnsafe(header + payload.length);
  writeFrameHeader(out, opcode, payload.length);
  payload.copy(out, header);
  return out;
}

const EMPTY = Buffer.alloc(0);

/** A Close frame with a status code, or without one (null: the peer's Close had none). */
function closeFrame(code: number | null): Buffer {
  if (code === null) return frame(EMPTY, OP_CLOSE);
  const payload = Buffer.allocUnsafe(2);
  payload.writeUInt16BE(code, 0);
  return frame(payload, OP_CLOSE);
}

// A broadcast hands the same PUBLISH bytes (or the same QoS 1 template) to every subscriber in
// turn: the last few are kept framed, so each is framed once per broadcast, not per subscriber.
// Identity slots, not a WeakMap: ephemeron entries made every GC dearer.
const FRAME_SLOTS = 4;
const framedFrom: (Buffer | null)[] = new Array<Buffer | null>(FRAME_SLOTS).fill(null);
const framedTo: (Buffer | null)[] = new Array<Buffer | null>(FRAME_SLOTS).fill(null);
let nextSlot = 0;

function sharedFrame(bytes: Buffer): Buffer {
  for (let i = 0; i < FRAME_SLOTS; i++) {
    if (framedFrom[i] === bytes) return framedTo[i]!;
  }
  const framed = frame(bytes);
  framedFrom[nextSlot] = bytes;
  framedTo[nextSlot] = framed;
  nextSlot = (nextSlot + 1) % FRAME_SLOTS;
  return framed;
}

// The same for text frames (JSON over WebSocket): a broadcast's JSON encoding is framed once.
const textFrom: (Buffer | null)[] = new Array<Buffer | null>(FRAME_SLOTS).fill(null);
const textTo: (Buffer | null)[] = new Array<Buffer | null>(FRAME_SLOTS).fill(null);
let nextTextSlot = 0;

function sharedTextFrame(bytes: Buffer): Buffer {
  for (let i = 0; i < FRAME_SLOTS; i++) {
    if (textFrom[i] === bytes) return textTo[i]!;
  }
  const framed = frame(bytes, OP_TEXT);
  textFrom[nextTextSlot] = bytes;
  textTo[nextTextSlot] = framed;
  nextTextSlot = (nextTextSlot + 1) % FRAME_SLOTS;
  return framed;
}

/**
 * A WebSocket connection in message mode (JSON over WebSocket): onData receives one whole message
 * at a time; writes are text frames.
 */
export interface MessageConnection extends Connection {
  /** A Ping control frame: browsers answer it themselves, and proxies see traffic. */
  ping(): void;
  /** Sends Close with `code` and a short `reason` (at most 123 bytes, RFC 6455 §5.5), then closes. */
  closeWith(code: number, reason: string): void;
}

/** What a message-mode handler is told beyond ConnectionHandler. */
export interface MessageHandler extends ConnectionHandler {
  /** A message of `bytes` exceeded the size limit; it was skipped, the connection stays open. */
  onMessageTooLarge(bytes: number): void;
}

// ---- close codes a peer may send (RFC 6455 §7.4) ------------------------------------------------

function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

// ---- the connection ------------------------------------------------------------------------------

// An idle connection's size is mostly its fields (8 bytes each; at 10,000 connections 80 KB per
// field), so what every connection of an endpoint shares sits in one object they all point to,
// message mode's state in an object only message-mode connections have, and the frame reader's
// small numbers and flags in one integer (docs/benchmarks.md, "Idle memory per WebSocket connection").

/** What every connection of one endpoint (MQTT or JSON over WebSocket) shares. */
interface WsSettings {
  readonly transport: TransportKind;
  /** Largest frame payload accepted (larger: Close 1009). */
  readonly maxPayload: number;
  /** Message mode's limit on one message; 0: MQTT (stream mode). */
  readonly maxMessage: number;
}

/**
 * Message mode: the current message's pieces and size so far (past the limit, pieces are dropped
 * as they arrive and only the size is counted), whether its last frame was final, and its opcode.
 */
class MessageAssembly {
  parts: Buffer[] | null = null;
  bytes = 0;
  fin = true;
  /** Opcode of the current message's first frame (text or binary). */
  opcode = 0;
}

/** The socket's two ends, read once at the upgrade (see readEnds). */
interface SocketEnds {
  remotePort: number;
  localAddress: string;
  localPort: number;
}

// `bits` of a WsConnection: the current frame's opcode (4 bits), the opcode of a fragmented data
// message in progress (its first frame's; 0: none), and two flags.
const OPCODE_MASK = 0x0f;
const FRAGMENTED_SHIFT = 4;
const FRAGMENTED_MASK = 0xf0;
/** A Close frame was sent: nothing more may be (RFC 6455 §5.5.1). */
const CLOSE_SENT = 0x100;
/** The peer's Close frame arrived: the closing was orderly. */
const CLOSE_RECEIVED = 0x200;

class WsConnection extends SocketConnection implements MessageConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly proxiedBy: string | undefined;
  readonly serverName: string | undefined;
  request: UpgradeRequest | undefined;
  private readonly settings: WsSettings;
  /** Message mode only (settings.maxMessage > 0). */
  private readonly assembly: MessageAssembly | null;
  // Frame reader state. A header split across reads waits in `partial` (at most 13 bytes).
  private partial: Buffer | null = null;
  /** Payload bytes of the current frame still to come; -1 between frames. */
  private payloadLeft = -1;
  /** The frame's opcode, a fragmented message's opcode and the two flags (constants above). */
  private bits = 0;
  /** The frame's masking key, as a signed 32-bit integer: a small integer, never a boxed number. */
  private mask = 0;
  private maskPos = 0;
  /** Payload of a control frame split across reads (at most 125 bytes). */
  private control: Buffer | null = null;
  private controlLength = 0;

  constructor(socket: Socket, request: UpgradeRequest, settings: WsSettings, client: ClientOrigin, ends: SocketEnds, flow: OutboundFlow) {
    super(socket, flow);
    this.settings = settings;
    this.assembly = settings.maxMessage > 0 ? new MessageAssembly() : null;
    this.remoteAddress = client.address;
    this.proxiedBy = client.proxiedBy;
    this.remotePort = ends.remotePort;
    this.localAddress = ends.localAddress;
    this.localPort = ends.localPort;
    this.serverName = (socket as { servername?: string }).servername || undefined;
    this.request = request;
  }

  get transport(): TransportKind {
    return this.settings.transport;
  }

  private get closeSent(): boolean {
    return (this.bits & CLOSE_SENT) !== 0;
  }

  releaseRequest(): void {
    this.request = undefined;
  }

  write(bytes: Buffer): void {
    if (this.closed || this.closeSent) return;
    this.push(this.assembly !== null ? frame(bytes, OP_TEXT) : frame(bytes));
  }

  writeShared(bytes: Buffer): void {
    if (this.closed || this.closeSent) return;
    this.push(this.assembly !== null ? sharedTextFrame(bytes) : sharedFrame(bytes));
  }

  ping(): void {
    if (this.closed || this.closeSent) return;
    this.push(frame(EMPTY, OP_PING));
  }

  closeWith(code: number, reason: string): void {
    if (this.closed || this.closeSent) return;
    let text = Buffer.from(reason);
    if (text.length > 123) text = text.subarray(0, 123);
    // Cut at a character boundary: the reason must be valid UTF-8 (§5.5.1).
    while (text.length > 0 && !isUtf8(text)) text = text.subarray(0, text.length - 1);
    const payload = Buffer.allocUnsafe(2 + text.length);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.bits |= CLOSE_SENT;
    this.socket.write(frame(payload, OP_CLOSE));
    this.socket.end();
    this.startClosing();
  }

  writePatched(template: Buffer, idOffset: number, packetId: number): void {
    if (this.closed || this.closeSent) return;
    // The template is framed once; each subscriber gets a copy of the frame with its packet
    // identifier: server frames are unmasked, so the identifier sits at a fixed offset.
    const framed = sharedFrame(template);
    const copy = Buffer.allocUnsafe(framed.length);
    framed.copy(copy, 0);
    const at = framed.length - template.length + idOffset;
    copy[at] = packetId >> 8;
    copy[at + 1] = packetId & 0xff;
    this.push(copy);
  }

  end(): void {
    if (this.closed) return;
    this.sendClose(CLOSE_NORMAL);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Sends Close (once), ends our side, and drops a peer that does not follow by a fixed deadline
   * (flow.ts: not an idle timeout, which a peer that keeps sending would push back forever).
   */
  private sendClose(code: number | null): void {
    if (this.closeSent) return;
    this.bits |= CLOSE_SENT;
    const socket = this.socket;
    socket.write(closeFrame(code));
    socket.end();
    this.startClosing();
  }

  /** A protocol violation by the peer: Close with `code`, read nothing more. */
  private fail(code: number): void {
    this.payloadLeft = -1;
    this.partial = null;
    this.control = null;
    this.sendClose(code);
  }

  /**
   * Reads frames from `chunk`, unmasking payloads in place (the chunk is ours alone). Between frames
   * and between slices of a payload it checks the outbound budget (flow.ts): over it, the rest of
   * the chunk waits, still masked, until our replies are flushed.
   */
  protected readChunk(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.closeSent && !this.closed) {
      if (this.mustPause()) return this.pauseReading(pos === 0 ? chunk : chunk.subarray(pos));
      if (this.payloadLeft < 0) {
        const used = this.readHeader(chunk, pos);
        if (used < 0) return; // header incomplete: kept in `partial`
        pos += used;
        if (this.closeSent || this.payloadLeft > 0) continue;
        // An empty payload: the frame is complete already.
        this.endFrame(EMPTY);
        continue;
      }
      const take = Math.min(this.payloadLeft, end - pos, READ_SLICE);
      this.unmask(chunk, pos, pos + take);
      const piece = chunk.subarray(pos, pos + take);
      pos += take;
      this.payloadLeft -= take;
      if ((this.bits & OPCODE_MASK) < OP_CLOSE) {
        if (this.payloadLeft === 0) this.payloadLeft = -1;
        if (this.assembly !== null) this.collect(this.assembly, piece);
        else this.handler?.onData(piece);
      } else {
        // Control frames are short (<= 125 bytes) but may still arrive in pieces.
        if (this.control === null) this.control = Buffer.allocUnsafe(this.controlLength);
        piece.copy(this.control, this.controlLength - this.payloadLeft - take);
        if (this.payloadLeft === 0) {
          const payload = this.control;
          this.control = null;
          this.endFrame(payload);
        }
      }
    }
  }

  /**
   * Parses a frame header at `chunk[pos]` (completing one kept from the previous read). Returns
   * the bytes of `chunk` it consumed, or -1 when the header is not complete yet.
   */
  private readHeader(chunk: Buffer, pos: number): number {
    let buf = chunk;
    let at = pos;
    const kept = this.partial === null ? 0 : this.partial.length;
    if (kept > 0) {
      buf = Buffer.concat([this.partial!, chunk.subarray(pos, pos + 14)]);
      at = 0;
    }
    const available = buf.length - at;
    let size = 2;
    if (available >= 2) {
      const len7 = buf[at + 1]! & 0x7f;
      size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((buf[at + 1]! & 0x80) !== 0 ? 4 : 0);
    }
    if (available < size) {
      this.partial = Buffer.from(buf.subarray(at));
      return -1;
    }
    this.partial = null;
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    // No extension was negotiated: RSV1-3 must be 0 (§5.2).
    if ((b0 & 0x70) !== 0) return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
    // §5.1: a server MUST close the connection upon receiving an unmasked frame.
    if ((b1 & 0x80) === 0) return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = buf.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(p);
      // Lengths past 2^53 cannot be represented; far past any limit anyway.
      if (high > 0x1fffff) return this.failHeader(CLOSE_TOO_BIG, size - kept);
      length = high * 0x100000000 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    this.mask = buf.readInt32BE(p);
    this.maskPos = 0;
    if (opcode >= OP_CLOSE) {
      // §5.5: control frames are not fragmented and carry at most 125 bytes.
      if (!fin || length > 125 || (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG)) {
        return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
      }
      this.controlLength = length;
    } else {
      let type = opcode;
      const fragmented = (this.bits & FRAGMENTED_MASK) >> FRAGMENTED_SHIFT;
      if (opcode === OP_CONTINUATION) {
        if (fragmented === 0) return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
        type = fragmented;
      } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
        if (fragmented !== 0) return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
      } else {
        return this.failHeader(CLOSE_PROTOCOL_ERROR, size - kept);
      }
      const assembly = this.assembly;
      // MQTT is carried in binary frames [MQTT-6.0.0-1]; a text frame is a protocol violation.
      if (type === OP_TEXT && assembly === null) return this.failHeader(CLOSE_UNSUPPORTED_DATA, size - kept);
      const maxPayload = this.settings.maxPayload;
      if (length > maxPayload) return this.failHeader(CLOSE_TOO_BIG, size - kept);
      if (assembly !== null) {
        // Message mode: a message skipped for its size still ends at a hard bound.
        if (assembly.bytes + length > maxPayload) return this.failHeader(CLOSE_TOO_BIG, size - kept);
        if (opcode !== OP_CONTINUATION) assembly.opcode = opcode;
        assembly.fin = fin;
      }
      this.bits = (this.bits & ~FRAGMENTED_MASK) | ((fin ? 0 : type) << FRAGMENTED_SHIFT);
    }
    this.bits = (this.bits & ~OPCODE_MASK) | opcode;
    this.payloadLeft = length;
    return size - kept;
  }

  /** Message mode: keeps a piece of the current message; at its final frame's end, hands it on. */
  private collect(assembly: MessageAssembly, piece: Buffer): void {
    const total = assembly.bytes + piece.length;
    const maxMessage = this.settings.maxMessage;
    if (total <= maxMessage) {
      if (piece.length > 0) (assembly.parts ??= []).push(piece);
    } else {
      assembly.parts = null;
    }
    assembly.bytes = total;
    if (!assembly.fin || this.payloadLeft > 0) return;
    const parts = assembly.parts;
    assembly.parts = null;
    assembly.bytes = 0;
    if (total > maxMessage) {
      (this.handler as Partial<MessageHandler> | null)?.onMessageTooLarge?.(total);
      return;
    }
    const message = parts === null ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    // §8.1: a text message that is not UTF-8 fails the connection (1007).
    if (assembly.opcode === OP_TEXT && !isUtf8(message)) return this.fail(CLOSE_INVALID_PAYLOAD);
    this.handler?.onData(message);
  }

  private failHeader(code: number, used: number): number {
    this.fail(code);
    return used;
  }

  /** A frame's payload is complete: data frames were passed on already; act on control frames. */
  private endFrame(payload: Buffer): void {
    const opcode = this.bits & OPCODE_MASK;
    this.payloadLeft = -1;
    if (opcode < OP_CLOSE) {
      // An empty data frame: in message mode it may end a message.
      if (this.assembly !== null) this.collect(this.assembly, EMPTY);
    } else if (opcode === OP_PING) {
      // §5.5.2: answer with a Pong carrying the same payload (counted against the budget like
      // every write, before CONNECT too).
      this.push(frame(payload, OP_PONG));
    } else if (opcode === OP_CLOSE) {
      this.onCloseFrame(payload);
    }
    // Pong, and empty data frames: nothing to do.
  }

  private onCloseFrame(payload: Buffer): void {
    if (payload.length === 0) {
      this.bits |= CLOSE_RECEIVED;
      this.sendClose(null);
      return;
    }
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
    if (payload.length === 1 || !isValidCloseCode(code)) return this.fail(CLOSE_PROTOCOL_ERROR);
    if (!isUtf8(payload.subarray(2))) return this.fail(CLOSE_INVALID_PAYLOAD);
    this.bits |= CLOSE_RECEIVED;
    // §5.5.1: echo the status code received.
    this.sendClose(code);
  }

  /** Frames the client sent right behind its upgrade request. */
  receiveHead(head: Buffer): void {
    this.receive(head);
  }

  private unmask(buf: Buffer, from: number, to: number): void {
    const mask = this.mask;
    let p = this.maskPos;
    for (let i = from; i < to; i++) {
      buf[i] ^= (mask >>> ((3 - p) << 3)) & 0xff;
      p = (p + 1) & 3;
    }
    this.maskPos = p;
  }

  // Socket listeners: module-level functions that find their connection through a symbol, so a
  // connection has no closures.
  static onData(this: Socket, chunk: Buffer): void {
    (this as unknown as Record<symbol, WsConnection>)[kConnection]!.receive(chunk);
  }
  static onEnd(this: Socket): void {
    // The peer closed its side (http sockets are half-open capable): close ours, by the deadline
    // even if the peer does not read what is still queued.
    this.end();
    (this as unknown as Record<symbol, WsConnection>)[kConnection]!.startClosing();
  }
  static onClose(this: Socket): void {
    const c = (this as unknown as Record<symbol, WsConnection>)[kConnection]!;
    if (!c.socketClosed()) return;
    // Without the peer's Close frame the connection was lost, not closed (1006).
    c.handler?.onClose((c.bits & CLOSE_RECEIVED) === 0);
  }
  static onDrain(this: Socket): void {
    (this as unknown as Record<symbol, WsConnection>)[kConnection]!.handler?.onDrain();
  }
}

function ignoreError(): void {
  // 'close' follows; ECONNRESET and the like are how clients often leave.
}

/** The fields in which net.Socket caches its addresses after the first read (Node's, not public). */
interface SocketAddressCaches {
  _peername?: unknown;
  _sockname?: unknown;
}

/**
 * Reads the socket's ports and local address, then lets go of what Node cached while answering
 * (two objects of address, family and port: ~110 bytes per idle connection, on a socket whose
 * addresses never change; Node asks the kernel again if anything reads them later). The local
 * address is nearly always the one the previous connection had: that string is shared, not kept
 * once per connection.
 */
function readEnds(socket: Socket, previous: SocketEnds | null): SocketEnds {
  let localAddress = normalizeAddress(socket.localAddress);
  if (previous !== null && previous.localAddress === localAddress) localAddress = previous.localAddress;
  const ends = { remotePort: socket.remotePort ?? 0, localAddress, localPort: socket.localPort ?? 0 };
  const caches = socket as unknown as SocketAddressCaches;
  caches._peername = undefined;
  caches._sockname = undefined;
  return ends;
}

// ---- the handshake -------------------------------------------------------------------------------

function refuse(socket: Duplex, status: string, extraHeaders = ''): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n${extraHeaders}Content-Length: 0\r\n\r\n`);
}

/** The subprotocol to select from the client's offer: undefined when none was offered, null when none fits. */
function selectSubprotocol(offered: string | string[] | undefined): string | undefined | null {
  if (offered === undefined) return undefined;
  const names = String(offered)
    .split(',')
    .map((p) => p.trim());
  for (const p of SUBPROTOCOLS) if (names.includes(p)) return p;
  return null;
}

export interface WebSocketEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export interface WebSocketEndpointOptions {
  secure: boolean;
  maxPacketBytes: number;
  flow: OutboundFlow;
  /**
   * Browser origins allowed to open a WebSocket (exact, case-insensitive); others get 403.
   * An upgrade without Origin (not a browser) is not affected. Undefined: every origin.
   */
  allowedOrigins?: readonly string[] | undefined;
  /** Who the client is (trusted proxies' forwarded header); default: the socket's peer. */
  clientOrigin?: ((peerAddress: string, req: IncomingMessage) => ClientOrigin) | undefined;
  /** JSON over WebSocket: upgrades on this path become message-mode connections. Absent: only /mqtt. */
  json?: { path: string; maxMessageBytes: number; accept: (connection: MessageConnection) => void } | undefined;
}

// A page's `new WebSocket(url)` offers no subprotocol; one that offers some must offer this.
const JSON_SUBPROTOCOL = 'json';

/** An Origin is compared as browsers serialise it: lower-case scheme and host, no trailing slash. */
function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

export function createWebSocketEndpoint(options: WebSocketEndpointOptions, accept: ConnectionAcceptor): WebSocketEndpoint {
  // The MQTT layer enforces the packet size; this only caps one frame so the bound holds early.
  const maxPayload = Math.max(options.maxPacketBytes * 2, 1 << 20);
  const kind: TransportKind = options.secure ? 'wss' : 'ws';
  const mqttSettings: WsSettings = { transport: kind, maxPayload, maxMessage: 0 };
  // Message mode skips a message over its limit but still closes past a hard bound (4x).
  const jsonSettings: WsSettings | null =
    options.json === undefined ? null : { transport: kind, maxPayload: Math.max(maxPayload, options.json.maxMessageBytes * 4), maxMessage: options.json.maxMessageBytes };
  // The last connection's ends and client address: their strings are shared with the next
  // connection's when equal (one address behind a NAT or proxy, one local address).
  let lastEnds: SocketEnds | null = null;
  let lastClient: ClientOrigin | null = null;
  let closed = false;
  const allowedOrigins = options.allowedOrigins === undefined ? null : new Set(options.allowedOrigins.map(normalizeOrigin));
  return {
    handleUpgrade(req, duplex, head) {
      const socket = duplex as Socket;
      socket.on('error', ignoreError);
      if (closed) return refuse(socket, '503 Service Unavailable');
      const path = (req.url ?? '/').split('?', 1)[0];
      const json = options.json !== undefined && path === options.json.path ? options.json : undefined;
      if (path !== MQTT_WS_PATH && json === undefined) return refuse(socket, '404 Not Found');
      if (req.method !== 'GET') return refuse(socket, '405 Method Not Allowed');
      const upgrade = req.headers.upgrade;
      const key = req.headers['sec-websocket-key'];
      const version = req.headers['sec-websocket-version'];
      if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return refuse(socket, '400 Bad Request');
      if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return refuse(socket, '400 Bad Request');
      if (version !== '13' && version !== '8') return refuse(socket, '400 Bad Request', 'Sec-WebSocket-Version: 13, 8\r\n');
      const offered = req.headers['sec-websocket-protocol'];
      const protocol = json === undefined ? selectSubprotocol(offered) : offered === undefined ? undefined : String(offered).split(',').some((p) => p.trim() === JSON_SUBPROTOCOL) ? JSON_SUBPROTOCOL : null;
      if (protocol === null) return refuse(socket, '400 Bad Request');
      // listeners.http.allowedOrigins: a page on another site must not open a connection that
      // carries the browser's ambient identity (cross-site WebSocket hijacking). Node keeps the
      // first of repeated Origin headers; it is a browser that sends one.
      const origin = req.headers.origin;
      if (allowedOrigins !== null && origin !== undefined && !allowedOrigins.has(normalizeOrigin(origin))) {
        return refuse(socket, '403 Forbidden');
      }
      if (!socket.readable || !socket.writable) {
        socket.destroy();
        return;
      }
      const acceptKey = sha1Base64(key + ACCEPT_GUID);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptKey}\r\n` +
          (protocol !== undefined ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
          '\r\n',
      );
      const peer = normalizeAddress(socket.remoteAddress);
      let client = options.clientOrigin ? options.clientOrigin(peer, req) : { address: peer, proxiedBy: undefined };
      if (lastClient !== null && lastClient.address === client.address && lastClient.proxiedBy === client.proxiedBy) client = lastClient;
      lastClient = client;
      const ends = readEnds(socket, lastEnds);
      lastEnds = ends;
      // What the authorizer reads until CONNECT is decided (then released): not the request itself.
      const request: UpgradeRequest = { url: req.url ?? '/', headers: req.headers, hostCount: countHostHeaders(req.rawHeaders) };
      const connection = new WsConnection(socket, request, json === undefined ? mqttSettings : jsonSettings!, client, ends, options.flow);
      (socket as unknown as Record<symbol, WsConnection>)[kConnection] = connection;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.on('data', WsConnection.onData);
      socket.on('end', WsConnection.onEnd);
      socket.on('close', WsConnection.onClose);
      socket.on('drain', WsConnection.onDrain);
      if (json === undefined) accept(connection);
      else json.accept(connection);
      // Frames the client sent right behind its request.
      if (head.length > 0) connection.receiveHead(head);
    },
    close() {
      closed = true;
    },
  };
}
