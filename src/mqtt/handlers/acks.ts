// Acknowledgements of the QoS 1 and QoS 2 flows [MQTT-4.3.2, 4.3.3].
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from '../../protocol/codec.js';
import { RC } from '../../protocol/reason-codes.js';
import type { Client } from '../client.js';

export function handlePuback(client: Client, packet: IPubackPacket): void {
  const session = client.session!;
  const id = packet.messageId!;
  const entry = session.inflight.get(id);
  // An ack for an id we don't have in flight is ignored: it may answer a redelivery we dropped.
  if (entry === undefined || entry.qos !== 1) return;
  session.completeInflight(id);
  client.pump();
}

export function handlePubrec(client: Client, packet: IPubrecPacket): void {
  const session = client.session!;
  const id = packet.messageId!;
  const entry = session.inflight.get(id);
  if (entry === undefined || entry.qos !== 2) {
    // [MQTT-4.3.3]: answer with PUBREL; v5 says the id was not found.
    client.send(client.version === 5 ? { cmd: 'pubrel', messageId: id, reasonCode: RC.packetIdNotFound } : { cmd: 'pubrel', messageId: id });
    return;
  }
  // A v5 PUBREC with a failure reason ends the flow [MQTT-4.3.3-4 note].
  if (client.version === 5 && (packet.reasonCode ?? 0) >= 0x80) {
    session.completeInflight(id);
    client.pump();
    return;
  }
  session.markReleased(id, entry);
  client.send({ cmd: 'pubrel', messageId: id });
}

export function handlePubcomp(client: Client, packet: IPubcompPacket): void {
  const session = client.session!;
  const id = packet.messageId!;
  const entry = session.inflight.get(id);
  if (entry === undefined || entry.state !== 'pubrel') return;
  session.completeInflight(id);
  client.pump();
}

export function handlePubrel(client: Client, packet: IPubrelPacket): void {
  const session = client.session!;
  const id = packet.messageId!;
  const known = session.releaseInbound(id);
  if (!known && client.version === 5) {
    client.send({ cmd: 'pubcomp', messageId: id, reasonCode: RC.packetIdNotFound });
    return;
  }
  client.send({ cmd: 'pubcomp', messageId: id });
}
