// Server-Sent Events (GET /events): the HTTP response becomes a listen-only Connection on its
// socket, with the same outbound budget, slow-consumer deadline and per-tick corking as MQTT and
// WebSocket connections (flow.ts).
//
// The response head is written by Node (so HTTP/1.1 and TLS stay Node's business) with chunked
// encoding off and `Connection: close`: the body is the raw event stream until the socket closes
// (RFC 9112 §6.3: a response without a length ends with the connection), so every event is written
// to the socket as it is — the bytes a broadcast shares are shared on the wire too. Node's HTTP
// parser is then taken off the socket: the client may send nothing more (a pipelined request would
// be queued behind a response that never ends); what it sends is read and dropped, up to a bound.
//
// WHATWG HTML §9.2 (server-sent events): `data:` lines, a blank line ends an event, lines that start
// with ':' are comments (our keep-alive), `id:` sets the last event ID the browser sends back as
// Last-Event-ID when it reconnects, `retry:` its reconnection delay.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { countHostHeaders, type ClientOrigin, type Connection, type TransportKind, type UpgradeRequest } from './connection.js';
import { SocketConnection, type OutboundFlow } from './flow.js';
import { normalizeAddress } from './tcp.js';

/** Input a listen-only client may send before it is closed (it has no reason to send any). */
const MAX_IGNORED_INPUT = 64 * 1024;
/** Browsers reconnect after this long (ms) when the stream ends; told in the first event. */
const RETRY_MS = 2000;

const kConnection = Symbol('switchboard.sse');

export class SseConnection extends SocketConnection implements Connection {
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly proxiedBy: string | undefined;
  readonly serverName: string | undefined;
  request: UpgradeRequest | undefined;
  private ignored = 0;

  private res: ServerResponse | null;
  /** Until begin/reject: what the HTTP server still holds for this socket, to be let go at begin. */
  private req: IncomingMessage | null;
  private readonly extraHeaders: Record<string, string>;
  private readonly streams: Set<SseConnection> | null;

  /**
   * A request to become an event stream: nothing is written until the client is authorized
   * (begin), so a refusal can still be an HTTP status (reject) — which makes EventSource give up
   * rather than retry forever.
   */
  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    options: {
      secure: boolean;
      client: ClientOrigin;
      flow: OutboundFlow;
      extraHeaders?: Record<string, string>;
      headers?: IncomingMessage['headers'];
      /** The begun streams, while open: off the HTTP server's parser, its closeAllConnections no longer reaches them. */
      streams?: Set<SseConnection>;
    },
  ) {
    super(req.socket, options.flow);
    const socket = req.socket;
    this.res = res;
    this.req = req;
    this.extraHeaders = options.extraHeaders ?? {};
    this.streams = options.streams ?? null;
    this.transport = options.secure ? 'https' : 'http';
    this.remoteAddress = options.client.address;
    this.proxiedBy = options.client.proxiedBy;
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(socket.localAddress);
    this.localPort = socket.localPort ?? 0;
    this.serverName = (socket as { servername?: string }).servername || undefined;
    // `headers`: what the authorizer may see (the route leaves out a cookie it must not use).
    this.request = { url: req.url ?? '/', headers: options.headers ?? req.headers, hostCount: countHostHeaders(req.rawHeaders) };
  }

  /** Refuses with an HTTP status and a JSON body; the connection is over. */
  reject(status: number, body: Record<string, unknown>): void {
    const res = this.res;
    this.res = null;
    this.req = null;
    this.closed = true;
    if (res === null || res.headersSent || this.socket.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...this.extraHeaders });
    res.end(text);
  }

  /** Starts the event stream; false when the socket has gone meanwhile. `extraHeaders`: CORS. */
  begin(): boolean {
    const res = this.res;
    const req = this.req;
    this.res = null;
    this.req = null;
    const socket = this.socket;
    if (res === null || socket.destroyed || !socket.writable) {
      this.closed = true;
      return false;
    }
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'close',
      // Proxies that buffer responses (nginx) would hold events back.
      'X-Accel-Buffering': 'no',
      ...this.extraHeaders,
    });
    res.flushHeaders();
    // Off Node's HTTP parser: from here the socket is ours (see the file note).
    detachFromHttpServer(socket, req, res);
    removeAll(socket, 'data');
    removeAll(socket, 'end');
    removeAll(socket, 'timeout');
    socket.setTimeout(0);
    socket.setNoDelay(true);
    (socket as unknown as Record<symbol, SseConnection>)[kConnection] = this;
    socket.on('data', SseConnection.onData);
    socket.on('end', SseConnection.onEnd);
    socket.on('close', SseConnection.onClose);
    socket.on('drain', SseConnection.onDrain);
    socket.on('error', ignoreError);
    this.streams?.add(this);
    this.push(Buffer.from(`retry: ${RETRY_MS}\n\n`));
    return true;
  }

  releaseRequest(): void {
    this.request = undefined;
  }

  write(bytes: Buffer): void {
    if (this.closed || this.closing) return;
    this.push(bytes);
  }

  writeShared(bytes: Buffer): void {
    this.write(bytes);
  }

  writePatched(): void {
    // QoS 1/2 templates are MQTT's; nothing patched is ever written to an event stream.
  }

  end(): void {
    if (this.res !== null) return this.reject(503, { error: 'closed' });
    if (this.closed || this.closing) return;
    this.socket.end();
    this.startClosing();
  }

  destroy(): void {
    if (this.res !== null) {
      // Not begun: the socket never became ours, so no 'close' listener will mark it closed.
      this.res = null;
      this.req = null;
      this.closed = true;
    }
    this.socket.destroy();
  }

  /** The client may send nothing: what it sends is dropped, and past a bound it is closed. */
  protected readChunk(chunk: Buffer): void {
    this.ignored += chunk.length;
    if (this.ignored > MAX_IGNORED_INPUT) this.socket.destroy();
  }

  static onData(this: Socket, chunk: Buffer): void {
    (this as unknown as Record<symbol, SseConnection>)[kConnection]!.receive(chunk);
  }
  static onEnd(this: Socket): void {
    // The client closed its side: the stream is over.
    this.end();
    (this as unknown as Record<symbol, SseConnection>)[kConnection]!.startClosing();
  }
  static onClose(this: Socket, hadError: boolean): void {
    const c = (this as unknown as Record<symbol, SseConnection>)[kConnection]!;
    c.streams?.delete(c);
    if (!c.socketClosed()) return;
    c.handler?.onClose(hadError);
  }
  static onDrain(this: Socket): void {
    (this as unknown as Record<symbol, SseConnection>)[kConnection]!.handler?.onDrain();
  }
}

/** Node's `_http_common` (a built-in module since Node 0.x): the parser release its server uses. */
interface HttpCommon {
  freeParser?: (parser: unknown, req: IncomingMessage | null, socket: Socket) => void;
}
const httpCommon = loadHttpCommon();

function loadHttpCommon(): HttpCommon {
  try {
    return createRequire(import.meta.url)('_http_common') as HttpCommon;
  } catch {
    return {};
  }
}

/**
 * Lets go of what Node's HTTP server keeps per socket once the stream is ours, as Node does itself
 * when a socket is upgraded (WebSocket, CONNECT): the response (socket._httpMessage), and the
 * parser with the request, the server's per-socket state and its bound listeners. Held, they were
 * about 5 KB of heap for every idle stream (with fastify's request, reply and logger, which only
 * they reached). The parser goes back to Node's pool only once its 'close' listener is gone (else
 * that listener would free it a second time, from under another connection): any surprise in
 * Node's internals leaves everything as it was, which is only more memory.
 */
function detachFromHttpServer(socket: Socket, req: IncomingMessage | null, res: ServerResponse): void {
  res.detachSocket(socket);
  const owned = socket as unknown as { parser?: unknown };
  const parser = owned.parser;
  const serverOnClose = removeNamed(socket, 'close', 'bound socketOnClose');
  removeNamed(socket, 'drain', 'bound socketOnDrain');
  removeNamed(socket, 'error', 'socketOnError');
  if (serverOnClose && parser !== undefined && parser !== null && typeof httpCommon.freeParser === 'function') {
    httpCommon.freeParser(parser, req, socket);
  }
}

/** Removes the one listener of `event` named `name`; false when there is not exactly one. */
function removeNamed(socket: Socket, event: string, name: string): boolean {
  const found = socket.listeners(event).filter((f) => f.name === name);
  if (found.length !== 1) return false;
  socket.removeListener(event, found[0] as (...args: unknown[]) => void);
  return true;
}

/**
 * removeAllListeners(event) deletes the event's key from the socket's listener table, which turns
 * V8's object into a dictionary (~800 bytes for every idle stream, where an MQTT socket's stays
 * compact); removing each listener instead leaves the key, undefined, as Node's streams intend.
 */
function removeAll(socket: EventEmitter, event: string): void {
  for (const listener of socket.rawListeners(event)) socket.removeListener(event, listener as (...args: unknown[]) => void);
}

function ignoreError(): void {
  // 'close' follows.
}
