// Maps each packet to its handler, and is the only place that turns a failure into a protocol
// answer (DISCONNECT with a reason code on v5, a closed connection on v3.1.1) [MQTT-4.13].
import type { Packet } from '../protocol/codec.js';
import { ProtocolError, protocolError } from '../protocol/errors.js';
import { RC } from '../protocol/reason-codes.js';
import type { Client } from './client.js';
import { handleConnect, refuseConnect } from './handlers/connect.js';
import { handlePublish } from './handlers/publish.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './handlers/acks.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { handleDisconnect } from './handlers/disconnect.js';

export function dispatch(client: Client, packet: Packet): void {
  if (client.state === 'awaiting-connect') {
    // The first packet must be CONNECT [MQTT-3.1.0-1].
    if (packet.cmd !== 'connect') throw protocolError(`first packet must be CONNECT, got ${packet.cmd.toUpperCase()}`);
    handleConnect(client, packet).catch((err) => handleFailure(client, err));
    return;
  }
  switch (packet.cmd) {
    case 'publish':
      return handlePublish(client, packet);
    case 'puback':
      return handlePuback(client, packet);
    case 'pubrec':
      return handlePubrec(client, packet);
    case 'pubrel':
      return handlePubrel(client, packet);
    case 'pubcomp':
      return handlePubcomp(client, packet);
    case 'subscribe':
      return handleSubscribe(client, packet);
    case 'unsubscribe':
      return handleUnsubscribe(client, packet);
    case 'pingreq':
      client.send({ cmd: 'pingresp' });
      return;
    case 'disconnect':
      return handleDisconnect(client, packet);
    case 'connect':
      // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
      throw protocolError('second CONNECT on a connection');
    case 'auth':
      throw new ProtocolError('auth-not-supported', RC.protocolError, 'enhanced authentication (AUTH) is not supported');
    default:
      // CONNACK, SUBACK, PINGRESP... are server-to-client packets.
      throw protocolError(`unexpected ${String(packet.cmd).toUpperCase()} from a client`);
  }
}

export function handleFailure(client: Client, err: unknown): void {
  const broker = client.broker;
  if (!(err instanceof ProtocolError)) {
    broker.logger.error({ err, clientId: client.clientId }, 'internal error handling a packet');
    client.disconnect(RC.unspecified, 'internal error', 'internal-error');
    return;
  }
  const connecting = client.state === 'awaiting-connect' || client.state === 'connecting';
  if (err.code === 'not-authorized') {
    // A policy or authorizer refusal is not a protocol violation: it is logged (and counted) as
    // a refusal, by refuseConnect for a CONNECT, here for a later packet (a v3.1.1 PUBLISH).
    if (connecting) return refuseConnect(client, err.reasonCode, err.message, err.code);
    client.logger.info({ reasonCode: err.reasonCode, detail: err.message }, 'closing connection: not authorized');
    client.disconnect(err.reasonCode, err.message, err.code);
    return;
  }
  broker.counters.protocolErrors++;
  const level = client.state === 'connected' ? 'warn' : 'info';
  client.logger[level]({ code: err.code, reasonCode: err.reasonCode, detail: err.message }, 'closing connection: protocol violation');
  if (connecting) {
    refuseConnect(client, err.reasonCode, err.message, err.code);
    return;
  }
  client.disconnect(err.reasonCode, err.message, err.code);
}
