// MQTT over TCP and TLS.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Connection, ConnectionAcceptor, TransportKind } from './connection.js';
import { READ_SLICE, SocketConnection, type OutboundFlow } from './flow.js';

const kConnection = Symbol('switchboard.connection');

class TcpConnection extends SocketConnection implements Connection {
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly serverName: string | undefined;
  readonly request = undefined;

  constructor(socket: net.Socket, transport: TransportKind, flow: OutboundFlow) {
    super(socket, flow);
    this.transport = transport;
    this.remoteAddress = normalizeAddress(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
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

function adopt(socket: net.Socket, kind: TransportKind, accept: ConnectionAcceptor, flow: OutboundFlow): void {
  socket.setNoDelay(true);
  const connection = new TcpConnection(socket, kind, flow);
  (socket as any)[kConnection] = connection;
  socket.on('data', TcpConnection.onData);
  socket.on('drain', TcpConnection.onDrain);
  socket.on('close', TcpConnection.onClose);
  socket.on('error', TcpConnection.onError);
  accept(connection);
}

export interface TcpListenOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string; ca?: string | undefined } | undefined;
}

export async function listenTcp(options: TcpListenOptions, accept: ConnectionAcceptor, flow: OutboundFlow): Promise<net.Server> {
  let server: net.Server;
  if (options.tls) {
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
