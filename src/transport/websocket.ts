// MQTT over WebSocket on the shared HTTP server: the upgrade on /mqtt becomes a Connection whose
// upgrade request (query string and headers) is kept for the authorizer.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Connection, ConnectionAcceptor, ConnectionHandler, TransportKind, UpgradeRequest } from './connection.js';
import { corkUntilNextTick } from './cork.js';
import { normalizeAddress } from './tcp.js';

const kConnection = Symbol('switchboard.connection');

// ws's own framing (Sender.frame) for a server's unmasked, final, binary frame.
// Exported at run time, absent from @types/ws.
const senderFrame = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame;
const FRAME_OPTIONS = { fin: true, opcode: 0x02, mask: false, readOnly: true, rsv1: false };
const frames = new WeakMap<Buffer, Buffer>();

function frameOf(bytes: Buffer): Buffer {
  const parts = senderFrame(bytes, FRAME_OPTIONS);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
export const MQTT_WS_PATH = '/mqtt';
// [MQTT-6.0.0-3] the client includes "mqtt"; MQTT 3.1 clients historically used "mqttv3.1".
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

class WsConnection implements Connection {
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly serverName: string | undefined;
  readonly request: UpgradeRequest;
  private handler: ConnectionHandler | null = null;
  closed = false;
  readonly ws: WebSocket;
  private readonly socket: Socket;

  constructor(ws: WebSocket, req: IncomingMessage, transport: TransportKind) {
    this.ws = ws;
    this.socket = req.socket;
    this.transport = transport;
    this.remoteAddress = normalizeAddress(req.socket.remoteAddress);
    this.remotePort = req.socket.remotePort ?? 0;
    this.serverName = (req.socket as any).servername || undefined;
    this.request = { url: req.url ?? '/', headers: req.headers };
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  write(bytes: Buffer): void {
    if (this.closed || this.ws.readyState !== 1 /* OPEN */) return;
    // One binary frame per distinct byte buffer, framed once and written as-is to every
    // subscriber that shares it (a broadcast hands every subscriber the same Buffer). Safe beside
    // ws's own writes: without compression its sender never queues, and it writes whole frames.
    let frame = frames.get(bytes);
    if (frame === undefined) {
      frame = frameOf(bytes);
      frames.set(bytes, frame);
    }
    corkUntilNextTick(this.socket);
    this.socket.write(frame);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  end(): void {
    if (this.closed) return;
    this.ws.close(1000);
    this.socket.setTimeout(5000, () => this.socket.destroy());
  }

  destroy(): void {
    this.ws.terminate();
  }

  static onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const c = (this as any)[kConnection] as WsConnection;
    // MQTT is carried in binary frames [MQTT-6.0.0-1]; a text frame is a protocol violation.
    if (!isBinary) {
      c.ws.close(1003, 'MQTT requires binary frames');
      return;
    }
    const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    c.handler?.onData(chunk);
  }
  static onClose(this: WebSocket, code: number): void {
    const c = (this as any)[kConnection] as WsConnection;
    if (c.closed) return;
    c.closed = true;
    // 1006: the socket went away without a Close frame.
    c.handler?.onClose(code === 1006);
  }
  static onError(this: WebSocket): void {
    // 'close' follows.
  }
  static onDrain(this: Socket): void {
    const c = (this as any)[kConnection] as WsConnection | undefined;
    c?.handler?.onDrain();
  }
}

export interface WebSocketEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createWebSocketEndpoint(
  options: { secure: boolean; maxPacketBytes: number },
  accept: ConnectionAcceptor,
): WebSocketEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    // The MQTT layer enforces the packet size; this only caps one frame so the bound holds early.
    maxPayload: Math.max(options.maxPacketBytes * 2, 1 << 20),
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols(protocols) {
      for (const p of SUBPROTOCOLS) if (protocols.has(p)) return p;
      return false;
    },
  });
  const kind: TransportKind = options.secure ? 'wss' : 'ws';
  return {
    handleUpgrade(req, socket, head) {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (path !== MQTT_WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const offered = req.headers['sec-websocket-protocol'];
      if (offered !== undefined && !String(offered).split(',').some((p) => SUBPROTOCOLS.includes(p.trim()))) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      socket.on('error', () => {});
      wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new WsConnection(ws, req, kind);
        (ws as any)[kConnection] = connection;
        (req.socket as any)[kConnection] = connection;
        (req.socket as Socket).setNoDelay(true);
        ws.on('message', WsConnection.onMessage);
        ws.on('close', WsConnection.onClose);
        ws.on('error', WsConnection.onError);
        req.socket.on('drain', WsConnection.onDrain);
        accept(connection);
      });
    },
    close() {
      wss.close();
    },
  };
}
