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
  let gone: string[] | null = null;
  for (const key of packet.unsubscriptions) {
    if (validateTopicFilter(key, client.broker.limits) !== null) {
      codes.push(RC.topicFilterInvalid);
      continue;
    }
    const removed = client.broker.unsubscribe(session, key);
    codes.push(removed ? RC.success : RC.noSubscriptionExisted);
    if (removed) (gone ??= []).push(key);
  }
  if (gone !== null && client.info !== null) client.broker.lifecycle?.unsubscribed(client.info, gone);
  // v3.1.1 UNSUBACK has no payload [MQTT-3.11.3].
  if (client.version === 5) client.send({ cmd: 'unsuback', messageId: packet.messageId!, granted: codes });
  else client.send({ cmd: 'unsuback', messageId: packet.messageId!, granted: [] } as never);
}
