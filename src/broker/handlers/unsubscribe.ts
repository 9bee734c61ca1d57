import type { IUnsubscribePacket } from '../../protocol/codec.js';
import { protocolError } from '../../protocol/errors.js';
import { RC } from '../../protocol/reason-codes.js';
import { validateTopicFilter } from '../../protocol/topic.js';
import type { Client } from '../client.js';

export function handleUnsubscribe(client: Client, packet: IUnsubscribePacket): void {
  const session = client.session!;
  // [MQTT-3.10.3-2] at least one topic filter.
  if (packet.unsubscriptions.length === 0) throw protocolError('UNSUBSCRIBE without topic filters');
  const codes: number[] = [];
  for (const key of packet.unsubscriptions) {
    if (validateTopicFilter(key, client.broker.limits) !== null) {
      codes.push(RC.topicFilterInvalid);
      continue;
    }
    codes.push(client.broker.unsubscribe(session, key) ? RC.success : RC.noSubscriptionExisted);
  }
  // v3.1.1 UNSUBACK has no payload [MQTT-3.11.3].
  if (client.version === 5) client.send({ cmd: 'unsuback', messageId: packet.messageId!, granted: codes });
  else client.send({ cmd: 'unsuback', messageId: packet.messageId!, granted: [] } as never);
}
