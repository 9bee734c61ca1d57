// MQTT over TCP and TLS; on plain TCP optionally behind the PROXY protocol (proxy-protocol.ts).
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Connection, ConnectionAcceptor, TransportKind } from './connection.js';
import { READ_SLICE, SocketConnection, type OutboundFlow } from './flow.js';
import { looksLikeProxyHeader, MAX_HEADER_BYTES, parseProxyHeader } from './proxy-protocol.js';

const kConnection = Symbol('switchboard.connection');

/** The client a PROXY protocol header announced, and the proxy that sent it. */
export interface ProxiedSource {
  address: string;
  port: number;
  proxiedBy: string;
  /** The destination the proxy announced (the address the client connected to), if it named one. */
  destination?: { address: string; port: number } | undefined;
}

class TcpConnection extends SocketConnection implements Connection {
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly proxiedBy: string | undefined;
  readonly serverName: string | undefined;
  readonly request = undefined;

  constructor(socket: net.Socket, transport: TransportKind, flow: OutboundFlow, proxied?: ProxiedSource) {
    super(socket, flow);
    this.transport = transport;
    // Behind a PROXY protocol sender, the client is the source it announced.
    this.remoteAddress = proxied?.address ?? normalizeAddress(socket.remoteAddress);
    this.remotePort = proxied?.port ?? socket.remotePort ?? 0;
    this.localAddress = proxied?.destination?.address ?? normalizeAddress(socket.localAddress);
    this.localPort = proxied?.destination?.port ?? socket.localPort ?? 0;
    this.proxiedBy = proxied?.proxiedBy;
    this.serverName = transport === 'tls' ? ((socket as tls.TLSSocket).servername || undefined) : undefined;
  }

  releaseRequest(): void {}

  write(bytes: Buffer): void {
    if (this.closed) return;
    this.push(bytes);
  }

  writeShared(bytes: Buffer): void {
    this.write(bytes);
  }

  writePatched(template: Buffer, idOffset: number, packetId: number): void {
    if (this.closed) return;
    const copy = Buffer.allocUnsafe(template.length);
    template.copy(copy, 0);
    copy[idOffset] = packetId >> 8;
    copy[idOffset + 1] = packetId & 0xff;
    this.push(copy);
  }

  end(): void {
    if (this.closed || this.closing) return;
    this.socket.end();
    // A fixed deadline: a peer that never reads, or keeps sending, would keep a half-closed socket.
    this.startClosing();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Hands MQTT bytes to the reader in slices, stopping between them when over budget (flow.ts). */
  protected readChunk(chunk: Buffer): void {
    const handler = this.handler;
    if (handler === null) return;
    const end = chunk.length;
    if (end <= READ_SLICE && !this.mustPause()) {
      handler.onData(chunk);
      return;
    }
    let pos = 0;
    while (pos < end && !this.closing && !this.closed) {
      if (this.mustPause()) return this.pauseReading(pos === 0 ? chunk : chunk.subarray(pos));
      const next = Math.min(end, pos + READ_SLICE);
      handler.onData(pos === 0 && next === end ? chunk : chunk.subarray(pos, next));
      pos = next;
    }
  }

  static onData(this: net.Socket, chunk: Buffer): void {
    const c = (this as any)[kConnection] as TcpConnection;
    c.receive(chunk);
  }
  static onDrain(this: net.Socket): void {
    const c = (this as any)[kConnection] as TcpConnection;
    c.handler?.onDrain();
  }
  static onClose(this: net.Socket, hadError: boolean): void {
    const c = (this as any)[kConnection] as TcpConnection;
    if (!c.socketClosed()) return;
    c.handler?.onClose(hadError);
  }
  static onError(this: net.Socket): void {
    // 'close' follows; errors such as ECONNRESET are a normal way for clients to leave.
  }
}

export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function adopt(socket: net.Socket, kind: TransportKind, accept: ConnectionAcceptor, flow: OutboundFlow, proxied?: ProxiedSource, head?: Buffer): void {
  socket.setNoDelay(true);
  const connection = new TcpConnection(socket, kind, flow, proxied);
  (socket as any)[kConnection] = connection;
  socket.on('data', TcpConnection.onData);
  socket.on('drain', TcpConnection.onDrain);
  socket.on('close', TcpConnection.onClose);
  socket.on('error', TcpConnection.onError);
  accept(connection);
  // MQTT bytes that arrived behind a PROXY protocol header.
  if (head !== undefined && head.length > 0) TcpConnection.onData.call(socket, head);
}

export interface TcpListenOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string; ca?: string | undefined } | undefined;
  /**
   * PROXY protocol v1/v2 (proxy-protocol.ts) from the peers `trusted` accepts: they must send a
   * header, within `timeoutMs`; other peers connect directly (a header from them is not a
   * CONNECT, so MQTT refuses it [MQTT-3.1.0-1]).
   */
  proxyProtocol?: { trusted(address: string): boolean; timeoutMs: number } | undefined;
}

function noop(): void {}

function refuseUntrustedHeader(this: net.Socket, chunk: Buffer): void {
  if (looksLikeProxyHeader(chunk)) this.destroy();
}

/** Reads a PROXY header from a trusted sender, then hands the socket (and what followed) on. */
function readProxyHeader(socket: net.Socket, timeoutMs: number, done: (source: ProxiedSource, head: Buffer) => void): void {
  const peer = normalizeAddress(socket.remoteAddress);
  let received: Buffer | null = null;
  // A fixed deadline, not an idle timeout: a sender trickling bytes cannot extend it.
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const finish = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', finish);
  };
  const onData = (chunk: Buffer) => {
    received = received === null ? chunk : Buffer.concat([received, chunk]);
    const result = parseProxyHeader(received);
    if (result.kind === 'incomplete') {
      if (received.length > MAX_HEADER_BYTES) socket.destroy();
      return;
    }
    finish();
    if (result.kind === 'invalid') {
      socket.destroy();
      return;
    }
    const source = result.source;
    const proxied = { address: source?.address ?? peer, port: source?.port ?? socket.remotePort ?? 0, proxiedBy: peer, destination: source?.destination };
    done(proxied, received.subarray(result.consumed));
  };
  socket.on('error', noop);
  socket.on('close', finish);
  socket.on('data', onData);
}

export async function listenTcp(options: TcpListenOptions, accept: ConnectionAcceptor, flow: OutboundFlow): Promise<net.Server> {
  let server: net.Server;
  const proxy = options.proxyProtocol;
  if (proxy !== undefined && options.tls) {
    // The header precedes the TLS handshake; terminate TLS at the proxy instead.
    throw new Error('listeners.mqtt.proxyProtocol cannot be combined with listeners.mqtt.tls: terminate TLS at the proxy');
  }
  if (proxy !== undefined) {
    server = net.createServer((socket) => {
      if (!proxy.trusted(normalizeAddress(socket.remoteAddress))) {
        // A PROXY header from anyone else would name an address of their choosing: close at its
        // first byte rather than wait for the MQTT reader to time out on it.
        socket.prependOnceListener('data', refuseUntrustedHeader);
        return adopt(socket, 'tcp', accept, flow);
      }
      readProxyHeader(socket, proxy.timeoutMs, (source, head) => {
        socket.off('error', noop);
        adopt(socket, 'tcp', accept, flow, source, head);
      });
    });
  } else if (options.tls) {
    server = tls.createServer(
      {
        cert: readFileSync(options.tls.cert),
        key: readFileSync(options.tls.key),
        ...(options.tls.ca ? { ca: readFileSync(options.tls.ca) } : {}),
      },
      (socket) => adopt(socket, 'tls', accept, flow),
    );
    // A failed TLS handshake must not take the server down.
    server.on('tlsClientError', () => {});
  } else {
    server = net.createServer((socket) => adopt(socket, 'tcp', accept, flow));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
