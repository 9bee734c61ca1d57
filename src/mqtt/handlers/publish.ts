// PUBLISH from a client: resolve the topic alias, validate, authorize, acknowledge per QoS, and
// hand the message to broker.publish.
import type { IPublishPacket } from '../../protocol/codec.js';
import { ProtocolError, protocolError } from '../../protocol/errors.js';
import { RC } from '../../protocol/reason-codes.js';
import { validateTopicName } from '../../protocol/topic.js';
import type { Client } from '../client.js';
import type { Message, MessageProperties } from '../../shared/message.js';
import { TokenBucket } from '../../shared/rate-limit.js';

export function handlePublish(client: Client, packet: IPublishPacket): void {
  const broker = client.broker;
  const limits = broker.limits;
  client.messagesIn++;
  broker.counters.messagesReceived++;
  const props = client.version === 5 ? packet.properties : undefined;

  if (packet.qos > limits.maxQos) {
    // limits.maxQos 1 (AWS IoT supports QoS 0 and 1 only). v5: DISCONNECT 0x9B, as the
    // Maximum QoS we announced requires [MQTT-3.2.2-11]. v3.1.1: "the AWS IoT message broker
    // does not send a PUBACK or SUBACK when QoS level 2 is requested" (developerguide/mqtt.html,
    // differences from MQTT specifications): the message is discarded, unanswered.
    broker.counters.qosNotSupported++;
    if (client.version === 5) throw new ProtocolError('qos-not-supported', RC.qosNotSupported, `QoS ${packet.qos} is above the maximum QoS ${limits.maxQos}`);
    client.logger.info({ topic: packet.topic, qos: packet.qos }, 'publish discarded: QoS 2 is not supported (limits.maxQos)');
    return;
  }

  let topic = packet.topic;
  if (props?.topicAlias !== undefined) {
    const alias = props.topicAlias;
    // [MQTT-3.3.2-9, 3.3.2-10]: 0 or above our Topic Alias Maximum is a protocol error.
    if (!Number.isInteger(alias) || alias === 0 || alias > limits.topicAliasMaximum) {
      throw new ProtocolError('topic-alias-invalid', RC.topicAliasInvalid, `topic alias ${alias} is outside 1..${limits.topicAliasMaximum}`);
    }
    if (topic.length > 0) client.aliasesIn.set(alias, topic);
    else {
      const known = client.aliasesIn.get(alias);
      if (known === undefined) throw protocolError(`topic alias ${alias} has no topic yet`);
      topic = known;
    }
  }
  if (topic.length === 0) throw protocolError('PUBLISH without a topic name or topic alias'); // [MQTT-3.3.2-1]
  const topicError = validateTopicName(topic, limits);
  if (topicError !== null) {
    throw new ProtocolError('topic-name-invalid', RC.topicNameInvalid, `topic name is invalid (${topicError})`);
  }
  // A Response Topic is a topic name: no wildcards [MQTT-3.3.2-14], within our topic limits.
  if (props?.responseTopic !== undefined && validateTopicName(props.responseTopic, limits) !== null) {
    throw protocolError(`Response Topic ${JSON.stringify(props.responseTopic)} is not a valid topic name`);
  }
  if (props?.subscriptionIdentifier !== undefined) {
    // A client must not send a Subscription Identifier in PUBLISH [MQTT-3.3.4-6].
    throw protocolError('PUBLISH from a client must not carry a Subscription Identifier');
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > limits.maxPayloadBytes) {
    throw new ProtocolError('payload-too-large', RC.packetTooLarge, `payload of ${payload.length} bytes exceeds ${limits.maxPayloadBytes}`);
  }
  const qos = packet.qos;
  const id = packet.messageId ?? 0;
  if (qos === 2) {
    const session = client.session!;
    // A retransmission of a QoS 2 message we already have is acknowledged, not delivered again
    // [MQTT-4.3.3-10].
    if (session.inboundQos2.has(id)) {
      // Through afterCommit too, so PUBRECs leave in the order their PUBLISHes came [MQTT-4.6.0-3].
      broker.afterPublished(client.acks, () => client.send({ cmd: 'pubrec', messageId: id }), () => refuseUndelivered(client, 2, id));
      return;
    }
    // Our Receive Maximum bounds QoS 2 messages awaiting PUBREL [MQTT-3.3.4-9].
    if (session.inboundQos2.size >= limits.maxInflightMessages) {
      throw new ProtocolError('receive-maximum-exceeded', RC.receiveMaximumExceeded, `more than ${limits.maxInflightMessages} QoS 2 messages awaiting PUBREL`);
    }
  }

  // limits.maxPublishesPerSecond (AWS IoT: 100 per connection). AWS: "publish requests that
  // exceed this quota are discarded" and the connection stays: QoS 0 and v3.1.1 QoS 1 get no
  // answer (the client's retry comes later); v5 QoS 1 gets PUBACK 0x97 Quota exceeded, a code
  // AWS lists for PUBACK (its use here is our choice, see docs/compatibility.md).
  const rate = limits.maxPublishesPerSecond;
  if (rate > 0) {
    const bucket = (client.publishBucket ??= new TokenBucket(rate, broker.clock));
    bucket.setRate(rate);
    if (!bucket.take(1)) {
      broker.counters.throttledPublishes++;
      if (client.version === 5 && qos > 0) {
        const properties = client.requestProblemInfo ? { reasonString: `more than ${rate} PUBLISH a second on this connection` } : undefined;
        client.send({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: id, reasonCode: RC.quotaExceeded, ...(properties ? { properties } : {}) });
      }
      return;
    }
  }

  // Basic Ingest (AWS): `$aws/rules/{rule}/...` goes to that rule only, never to subscribers.
  const ingest = topic.startsWith('$aws/rules/') && broker.basicIngest !== null;
  // Other topics beginning with '$' are the server's [MQTT-4.7.2]; clients may not publish to them.
  const refusal = topic.charCodeAt(0) === 0x24 /* $ */ && !ingest
    ? `publishing to the reserved topic ${topic} is not allowed`
    : !client.permissions.canPublish(topic, packet.retain)
      ? `not authorized: ${packet.retain && client.permissions.canPublish(topic, false) ? 'iot:RetainPublish' : 'iot:Publish'} on topic/${topic}`
      : null;
  if (refusal !== null) {
    const decidedBy = client.permissions.explain?.(packet.retain && client.permissions.canPublish(topic, false) ? 'retain' : 'publish', topic);
    return refusePublish(client, qos, id, refusal, decidedBy);
  }

  let properties: MessageProperties | undefined;
  let expiresAt = 0;
  if (props !== undefined) {
    const { topicAlias: _a, messageExpiryInterval, subscriptionIdentifier: _s, ...forwarded } = props;
    if (Object.keys(forwarded).length > 0) properties = forwarded;
    if (messageExpiryInterval !== undefined) {
      expiresAt = broker.clock.now() + Math.min(messageExpiryInterval, limits.maxMessageExpirySeconds) * 1000;
    }
  }
  const message: Message = {
    topic,
    payload,
    qos,
    retain: packet.retain,
    properties,
    expiresAt,
    publisherId: client.clientId,
    receivedAt: client.lastActivity,
    principal: client.principal,
  };
  if (qos === 2) client.session!.addInbound(id);
  if (ingest) broker.basicIngest!(message);
  else broker.publish(message, 'client');
  if (qos === 0) return;
  // Acknowledge only once what this message caused (queued and in-flight copies for persistent
  // sessions, a retained copy, the QoS 2 packet id) is durable: one group commit (Store.afterCommit),
  // and in a cluster the commit of each node it went to (a PUBACK survives any one node's death).
  broker.afterPublished(
    client.acks,
    qos === 1 ? () => client.send({ cmd: 'puback', messageId: id }) : () => client.send({ cmd: 'pubrec', messageId: id }),
    () => refuseUndelivered(client, qos, id),
  );
}

/**
 * A refused publish: v5 answers QoS 1/2 with 0x87 in the ack and drops QoS 0; v3.1.1 has no way
 * to say no in an ack, so the connection is closed (as AWS IoT does).
 */
function refusePublish(client: Client, qos: number, id: number, reason: string, decidedBy: string | undefined): void {
  client.logger.info({ detail: reason, decidedBy }, 'publish refused');
  client.broker.counters.deniedPublish++;
  if (client.version !== 5) {
    throw new ProtocolError('not-authorized', RC.notAuthorized, reason);
  }
  const properties = client.requestProblemInfo ? { reasonString: reason } : undefined;
  if (qos === 1) client.send({ cmd: 'puback', messageId: id, reasonCode: RC.notAuthorized, ...(properties ? { properties } : {}) });
  else if (qos === 2) client.send({ cmd: 'pubrec', messageId: id, reasonCode: RC.notAuthorized, ...(properties ? { properties } : {}) });
}

/**
 * A publish whose copy for another node was given up (docs/cluster.md, "A full outbox"): it is
 * not acknowledged. v5 says so in the ack (0x80 Unspecified error; for QoS 2 the packet id is
 * released, so a resend is a new message); v3.1.1 cannot, so the connection is closed and the
 * client sends the message again after reconnecting [MQTT-4.4.0-1].
 */
function refuseUndelivered(client: Client, qos: number, id: number): void {
  if (qos === 2) client.session?.releaseInbound(id);
  client.broker.counters.publishesRefusedUndelivered++;
  const reason = 'the message could not be forwarded to another node';
  client.logger.warn({ packetId: id, qos }, 'publish not acknowledged: its copy for another node was given up');
  if (client.version !== 5) {
    client.disconnect(RC.unspecified, reason, 'internal-error');
    return;
  }
  const properties = client.requestProblemInfo ? { reasonString: reason } : undefined;
  client.send({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: id, reasonCode: RC.unspecified, ...(properties ? { properties } : {}) });
}
