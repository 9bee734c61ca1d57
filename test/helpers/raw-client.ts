// A byte-level MQTT client over TCP or WebSocket, for what MQTT.js will not do on purpose:
// withhold acks, send malformed or oversize packets, a second CONNECT, no CONNECT at all,
// or stop reading. Packets are built with mqtt-packet's `generate` (or given as raw bytes)
// and everything the server sends is parsed and kept in order.
import net from 'node:net';
import mqttPacket, { type IConnackPacket, type IConnectPacket, type Packet } from 'mqtt-packet';
import { WebSocket } from 'ws';
import { uid, waitUntil } from './clients.js';

export type RawTransport = 'tcp' | 'ws';

const open = new Set<RawClient>();

export interface RawOptions {
  protocolVersion: 4 | 5;
}

export class RawClient {
  /** Every packet the server sent, in order. */
  readonly packets: Packet[] = [];
  /** Indexes of packets already returned by `expect`. */
  private readonly taken = new Set<number>();
  readonly errors: Error[] = [];
  /** When true, QoS 1/2 PUBLISHes are acknowledged (PUBACK / PUBREC, PUBREL -> PUBCOMP) on arrival. */
  autoAck = false;
  closed = false;
  closedAt = 0;
  bytesReceived = 0;
  readonly openedAt = Date.now();
  readonly protocolVersion: 4 | 5;

  private readonly parser: ReturnType<typeof mqttPacket.parser>;

  private constructor(
    private readonly io: {
      write(buf: Buffer): void;
      pause(): void;
      resume(): void;
      destroy(): void;
      end(): void;
      /** WebSocket only: a text frame, which MQTT forbids [MQTT-6.0.0-1]. */
      text?(s: string): void;
      /** WebSocket only: the subprotocol the server selected. */
      protocol?(): string;
    },
    opts: RawOptions,
  ) {
    this.protocolVersion = opts.protocolVersion;
    this.parser = mqttPacket.parser({ protocolVersion: opts.protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      if (this.autoAck) this.ack(p);
    });
    this.parser.on('error', (err: Error) => this.errors.push(err));
    open.add(this);
  }

  /** Opens a TCP connection to 127.0.0.1:port (no MQTT traffic yet). */
  static tcp(port: number, opts: RawOptions): Promise<RawClient> {
    return new Promise((res, rej) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const client = new RawClient(
        {
          write: (b) => {
            if (!socket.destroyed) socket.write(b);
          },
          pause: () => socket.pause(),
          resume: () => socket.resume(),
          destroy: () => socket.destroy(),
          end: () => socket.end(),
        },
        opts,
      );
      socket.on('data', (chunk) => client.onData(chunk));
      socket.on('error', (err) => client.errors.push(err));
      socket.on('close', () => client.onClose());
      socket.once('connect', () => res(client));
      socket.once('error', rej);
    });
  }

  /** Opens a WebSocket (subprotocol `mqtt` unless given) to `url`; each write is one binary frame. */
  static ws(url: string, opts: RawOptions & { subprotocols?: string[] }): Promise<RawClient> {
    return new Promise((res, rej) => {
      const ws = new WebSocket(url, opts.subprotocols ?? ['mqtt']);
      const client = new RawClient(
        {
          write: (b) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(b);
          },
          pause: () => ws.pause(),
          resume: () => ws.resume(),
          destroy: () => ws.terminate(),
          end: () => ws.close(),
          text: (t) => ws.send(t, { binary: false }),
          protocol: () => ws.protocol,
        },
        opts,
      );
      ws.on('message', (data: Buffer) => client.onData(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
      ws.on('error', (err) => client.errors.push(err));
      ws.on('close', () => client.onClose());
      ws.once('open', () => res(client));
      ws.once('error', rej);
    });
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.parser.parse(chunk);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closedAt = Date.now();
    open.delete(this);
  }

  private ack(p: Packet): void {
    if (p.cmd === 'publish' && p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId! });
    else if (p.cmd === 'publish' && p.qos === 2) this.send({ cmd: 'pubrec', messageId: p.messageId! });
    else if (p.cmd === 'pubrel') this.send({ cmd: 'pubcomp', messageId: p.messageId! });
  }

  /** The bytes of `packet` for this client's protocol version (to split, join or corrupt). */
  encode(packet: Packet): Buffer {
    return mqttPacket.generate(packet, { protocolVersion: this.protocolVersion });
  }

  send(packet: Packet): void {
    this.io.write(this.encode(packet));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.io.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Sends CONNECT (defaults: unique client id, clean, keepalive 0) and waits for CONNACK. */
  async connect(fields: Partial<IConnectPacket> = {}, timeoutMs = 3_000): Promise<IConnackPacket> {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: uid('raw'),
      clean: true,
      keepalive: 0,
      ...fields,
    } as IConnectPacket);
    return (await this.expect('connack', timeoutMs)) as IConnackPacket;
  }

  /** The next packet of type `cmd` not yet taken; rejects after `timeoutMs` (or on close with none). */
  async expect(cmd: Packet['cmd'], timeoutMs = 3_000): Promise<Packet> {
    let found = -1;
    const scan = () => {
      found = this.packets.findIndex((p, i) => p.cmd === cmd && !this.taken.has(i));
      return found >= 0;
    };
    try {
      await waitUntil(() => scan() || this.closed, timeoutMs, `${cmd}`);
    } catch {
      throw new Error(`no ${cmd} within ${timeoutMs} ms; got ${this.describe()}`);
    }
    if (found < 0 && !scan()) throw new Error(`connection closed without ${cmd}; got ${this.describe()}`);
    this.taken.add(found);
    return this.packets[found]!;
  }

  /** All received packets of `cmd` (taken or not). */
  received<T extends Packet = Packet>(cmd: Packet['cmd']): T[] {
    return this.packets.filter((p) => p.cmd === cmd) as T[];
  }

  /** Resolves with the close time (ms since epoch); rejects if still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 3_000): Promise<number> {
    try {
      await waitUntil(() => this.closed, timeoutMs, 'close');
    } catch {
      throw new Error(`connection still open after ${timeoutMs} ms; got ${this.describe()}`);
    }
    return this.closedAt;
  }

  describe(): string {
    return JSON.stringify(
      this.packets.map((p) => {
        const { cmd } = p;
        const rc = (p as { reasonCode?: number; returnCode?: number }).reasonCode ?? (p as { returnCode?: number }).returnCode;
        return rc === undefined ? cmd : `${cmd}(0x${rc.toString(16)})`;
      }),
    ) + (this.closed ? ' [closed]' : ' [open]');
  }

  /** WebSocket only: sends `s` as a text frame. */
  sendText(s: string): void {
    if (!this.io.text) throw new Error('sendText needs a WebSocket client');
    this.io.text(s);
  }

  /** WebSocket only: the subprotocol the server selected ('' if none). */
  get subprotocol(): string {
    if (!this.io.protocol) throw new Error('subprotocol needs a WebSocket client');
    return this.io.protocol();
  }

  pause(): void {
    this.io.pause();
  }

  resume(): void {
    this.io.resume();
  }

  /** Abrupt close: no DISCONNECT, no FIN handshake wait (TCP) / terminate (WS). */
  destroy(): void {
    this.io.destroy();
  }

  end(): void {
    this.io.end();
  }
}

export function rawConnect(
  transport: RawTransport,
  target: { mqttPort: number; wsUrl: string },
  opts: RawOptions,
): Promise<RawClient> {
  return transport === 'ws' ? RawClient.ws(target.wsUrl, opts) : RawClient.tcp(target.mqttPort, opts);
}

export function destroyAllRaw(): void {
  for (const c of open) c.destroy();
  open.clear();
}
