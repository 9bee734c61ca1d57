// A transport Connection in memory, for unit tests of the MQTT connection: what the server writes
// is parsed back into packets, what the test sends goes straight to the handler, and end/destroy
// are recorded. No socket, so no timing but the injected clock's.
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Connection, ConnectionHandler, TransportKind } from '../../src/transport/connection.js';

export class MemoryConnection implements Connection {
  readonly transport: TransportKind = 'tcp';
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 50000;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 1883;
  readonly serverName = undefined;
  readonly request = undefined;
  closed = false;
  /** 'end' (flushed, then closed) or 'destroy' (closed at once); null while open. */
  closedBy: 'end' | 'destroy' | null = null;
  /** Packets the server wrote, parsed. */
  readonly received: Packet[] = [];
  private handler: ConnectionHandler | null = null;
  private readonly parser;

  constructor(protocolVersion: 3 | 4 | 5 = 5) {
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (packet: Packet) => this.received.push(packet));
  }

  releaseRequest(): void {}

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.parser.parse(bytes);
  }

  writeShared(bytes: Buffer): void {
    this.write(bytes);
  }

  writePatched(template: Buffer, idOffset: number, packetId: number): void {
    const copy = Buffer.from(template);
    copy.writeUInt16BE(packetId, idOffset);
    this.write(copy);
  }

  holdInput(): void {}

  bufferedBytes(): number {
    return 0;
  }

  end(): void {
    this.close('end');
  }

  destroy(): void {
    this.close('destroy');
  }

  private close(how: 'end' | 'destroy'): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBy = how;
    this.handler?.onClose(false);
  }

  /** The client sends a packet. */
  send(packet: Packet, protocolVersion: 3 | 4 | 5 = 5): void {
    this.handler!.onData(mqttPacket.generate(packet, { protocolVersion }));
  }

  /** The packets of one kind the server sent. */
  sent(cmd: Packet['cmd']): Packet[] {
    return this.received.filter((p) => p.cmd === cmd);
  }
}
