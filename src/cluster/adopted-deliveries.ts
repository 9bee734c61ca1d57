// Delivering what another node still held for a node that died before acknowledging it. The
// message was routed to the dead node for its own subscriptions; this node adopted that node's
// persistent sessions (reaper.ts), so it delivers the message to those sessions only, as the dead
// node would have: each session once, at the highest QoS of its matching subscriptions with all
// their identifiers [MQTT-3.3.4-2, 3.3.4-3], a shared subscription only for the groups the sender
// picked the dead node for, and only where the session may receive the topic (iot:Receive).
// Sessions of this node that were not the dead node's never see it (they had their own copy).
import type { Broker } from '../broker/broker.js';
import type { Delivery } from '../broker/session.js';
import type { Message, QoS } from '../shared/message.js';
import { topicMatches } from '../shared/topic-match.js';

/** Returns how many sessions got the message, or -1 when `clientIds` is unknown (this node adopted nothing from that node). */
export function deliverAdopted(broker: Broker, clientIds: ReadonlySet<string> | undefined, message: Message, groups: readonly string[]): number {
  if (clientIds === undefined) return -1;
  let delivered = 0;
  for (const clientId of clientIds) {
    const session = broker.sessions.get(clientId);
    if (session === undefined) continue;
    let qos = -1;
    let retain = false;
    let ids: number[] | undefined;
    for (const sub of session.subscriptions.values()) {
      if (sub.group !== undefined) {
        if (!groups.includes(sub.group.name + '\u0000' + sub.group.filter)) continue;
      } else if (sub.noLocal && message.publisherId === clientId) continue; // [MQTT-3.3.3-3]
      if (!topicMatches(sub.filter, message.topic)) continue;
      if (sub.qos > qos) qos = sub.qos;
      if (sub.retainAsPublished) retain = true;
      if (sub.subscriptionId !== undefined) (ids ??= []).push(sub.subscriptionId);
    }
    if (qos < 0) continue;
    const permissions = session.client?.permissions ?? session.permissions;
    if (permissions !== null && !permissions.canReceive(message.topic)) {
      broker.counters.deniedReceive++;
      continue;
    }
    const delivery: Delivery = { message, qos: (message.qos < qos ? message.qos : qos) as QoS, retain: message.retain && retain, subscriptionIds: ids };
    broker.deliver(session, delivery, null);
    delivered++;
  }
  return delivered;
}
