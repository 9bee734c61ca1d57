// SUBSCRIBE: each filter is validated, limited and authorized on its own; a refused filter gets a
// failure code in SUBACK while the others succeed [MQTT-3.9.3]. Retained messages follow SUBACK.
import type { ISubscribePacket } from '../../protocol/codec.js';
import { protocolError } from '../../protocol/errors.js';
import { RC } from '../../protocol/reason-codes.js';
import { parseSharedFilter, validateTopicFilter } from '../../protocol/topic.js';
import type { Client } from '../client.js';
import type { QoS } from '../../shared/message.js';
import type { Subscription } from '../../broker/session.js';

export function handleSubscribe(client: Client, packet: ISubscribePacket): void {
  const broker = client.broker;
  const limits = broker.limits;
  const session = client.session!;
  const v5 = client.version === 5;
  const subscriptionId = v5 ? packet.properties?.subscriptionIdentifier : undefined;
  if (subscriptionId === 0) throw protocolError('Subscription Identifier must not be 0'); // [MQTT-3.8.2.1.2]
  if (packet.subscriptions.length === 0) throw protocolError('SUBSCRIBE without topic filters'); // [MQTT-3.8.3-2]
  if (!v5 && limits.maxQos < 2 && packet.subscriptions.some((r) => r.qos > limits.maxQos)) {
    // limits.maxQos 1, v3.1.1: "AWS IoT Core does not support ... subscribing with QoS level 2.
    // When QoS level 2 is requested, the AWS IoT message broker does not send a PUBACK or SUBACK"
    // (developerguide/mqtt.html, differences from MQTT specifications): nothing is subscribed and
    // nothing answered. (v5 is granted the maximum instead, as the spec lets a server do.)
    broker.counters.qosNotSupported++;
    client.logger.info({ filters: packet.subscriptions.map((r) => r.topic) }, 'subscribe ignored: QoS 2 is not supported (limits.maxQos)');
    return;
  }
  const granted: number[] = [];
  const refusals: string[] = [];
  const fresh: { sub: Subscription; existed: boolean }[] = [];

  packet.subscriptions.forEach((request, i) => {
    const key = request.topic;
    const fail = (code: number, why: string) => {
      granted.push(v5 ? code : RC.unspecified);
      refusals.push(`${key}: ${why}`);
    };
    if (i >= limits.maxFiltersPerSubscribe) return fail(RC.quotaExceeded, `more than ${limits.maxFiltersPerSubscribe} filters in one SUBSCRIBE`);
    const error = validateTopicFilter(key, limits);
    if (error !== null) return fail(RC.topicFilterInvalid, `invalid topic filter (${error})`);
    const shared = parseSharedFilter(key);
    // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
    if (shared && request.nl) throw protocolError('No Local must not be set on a shared subscription');
    if (!session.subscriptions.has(key) && session.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
      return fail(RC.quotaExceeded, `subscription limit of ${limits.maxSubscriptionsPerConnection} reached`);
    }
    // limits.maxSubscriptionsPerSecond, per node (AWS IoT: 500 per account, counted per filter).
    // AWS's answer to the excess is not documented: SUBACK 0x97 Quota exceeded for the filter
    // (v3.1.1: 0x80), see docs/compatibility.md.
    if (!client.registry.allowSubscription(limits.maxSubscriptionsPerSecond)) {
      broker.counters.throttledSubscriptions++;
      return fail(RC.quotaExceeded, `more than ${limits.maxSubscriptionsPerSecond} subscriptions a second`);
    }
    if (!client.permissions.canSubscribe(key)) {
      const decidedBy = client.permissions.explain?.('subscribe', key);
      if (decidedBy) client.logger.info({ filter: key, decidedBy }, 'subscribe denied');
      broker.counters.deniedSubscribe++;
      return fail(RC.notAuthorized, `not authorized: iot:Subscribe on topicfilter/${key}`);
    }
    // Granted at most our maximum QoS (the spec lets the server grant less than asked, v5 §3.9.3).
    const qos = Math.min(request.qos, limits.maxQos) as QoS;
    const result = broker.subscribe(session, key, {
      qos,
      noLocal: v5 && request.nl === true,
      retainAsPublished: v5 && request.rap === true,
      retainHandling: v5 ? ((request.rh ?? 0) as 0 | 1 | 2) : 0,
      subscriptionId,
    });
    granted.push(qos);
    fresh.push({ sub: result.subscription, existed: result.existed });
  });

  const properties = v5 && refusals.length > 0 && client.requestProblemInfo ? { reasonString: refusals.join('; ').slice(0, 1000) } : undefined;
  const answer = () => {
    if (client.state !== 'connected') return;
    client.send({ cmd: 'suback', messageId: packet.messageId!, granted, ...(properties ? { properties } : {}) });
    if (refusals.length > 0) client.logger.info({ refusals }, 'subscribe refused in part');
    if (fresh.length > 0 && client.info !== null) client.broker.lifecycle?.subscribed(client.info, fresh.map((f) => f.sub.key));
    // An UNSUBSCRIBE handled while this SUBACK waited removed the subscription: no retained then.
    for (const { sub, existed } of fresh) if (session.subscriptions.get(sub.key) === sub) sendRetained(client, sub, existed);
  };
  // Cluster: SUBACK once every node routes the new filters here, so a publish made anywhere after
  // it arrives. Messages may flow before the SUBACK, which MQTT 5 §3.8.4 permits; a SUBACK never
  // overtakes an earlier one (any pending change delays it).
  const settling = broker.cluster?.interestSettled() ?? null;
  if (settling) void settling.then(answer);
  else answer();
}

/**
 * Retained messages for a new subscription: Retain Handling 0 always, 1 only if the subscription
 * is new, 2 never [MQTT-3.3.1-9, 3.3.1-10]; never for a shared subscription [MQTT-3.8.4-?, v5 4.8.2].
 * Each message on its own: one that cannot be delivered (an internal error) is counted and logged
 * and the others still go, and the subscriber stays connected.
 */
function sendRetained(client: Client, sub: Subscription, existed: boolean): void {
  if (sub.group !== undefined || sub.retainHandling === 2 || (sub.retainHandling === 1 && existed)) return;
  const broker = client.broker;
  const messages = broker.retainedFor(sub.filter);
  for (const message of messages) {
    if (client.state !== 'connected') return;
    if (!client.permissions.canReceive(message.topic)) continue;
    try {
      client.deliver(
        {
          message,
          qos: (message.qos < sub.qos ? message.qos : sub.qos) as QoS,
          retain: true, // [MQTT-3.3.1-8]
          subscriptionIds: sub.subscriptionId === undefined ? undefined : [sub.subscriptionId],
        },
        null,
      );
    } catch (err) {
      broker.counters.deliveryFailures++;
      broker.logger.error({ err, clientId: client.clientId, topic: message.topic }, 'delivery failed');
    }
  }
}
