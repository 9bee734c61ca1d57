import type { IDisconnectPacket } from '../../protocol/codec.js';
import { protocolError } from '../../protocol/errors.js';
import { RC } from '../../protocol/reason-codes.js';
import type { Client } from '../client.js';

export function handleDisconnect(client: Client, packet: IDisconnectPacket): void {
  const session = client.session!;
  const expiry = client.version === 5 ? packet.properties?.sessionExpiryInterval : undefined;
  if (expiry !== undefined) {
    // A session that was to end with the connection cannot be extended at DISCONNECT [MQTT-3.14.2-2].
    if (session.expirySeconds === 0 && expiry > 0) throw protocolError('Session Expiry Interval cannot be raised from 0 at DISCONNECT');
    session.expirySeconds = Math.min(expiry, client.broker.limits.maxSessionExpirySeconds);
  }
  // Only a normal DISCONNECT (reason 0x00) discards the will [MQTT-3.14.4-3]; 0x04 asks for it,
  // and an error reason from a v5 client leaves it to be published.
  if (client.version !== 5 || (packet.reasonCode ?? RC.success) === RC.success) client.will = null;
  client.finish('client-disconnect', false);
  client.connection.end();
}
