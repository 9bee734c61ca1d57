// CONNECT as a named list of steps: validate -> admit (connection limit) -> authorize -> take over
// and open the session -> CONNACK -> resume. Each step refuses with the protocol-correct answer.
import { randomBytes } from 'node:crypto';
import type { IConnectPacket, Packet } from '../../protocol/codec.js';
import { encode } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { RC, v3ConnackCode } from '../../protocol/reason-codes.js';
import { validateTopicName } from '../../protocol/topic.js';
import type { Client } from '../client.js';
import type { Message, MessageProperties, QoS } from '../../shared/message.js';
import { dispatch, handleFailure } from '../dispatch.js';
import { announceConnected, attachConnection } from '../../broker/attach.js';

const refuse = (code: string, reasonCode: number, message: string) => new ProtocolError(code, reasonCode, message);

export async function handleConnect(client: Client, packet: IConnectPacket): Promise<void> {
  client.state = 'connecting';
  client.pending = [];
  const version = packet.protocolVersion ?? 4;
  client.version = version === 5 ? 5 : version === 3 ? 3 : 4;
  const limits = client.broker.limits;

  // v3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; v5 allows it.
  if (client.version !== 5 && packet.password !== undefined && packet.username === undefined) {
    throw refuse('password-without-username', RC.protocolError, 'a password requires a user name in MQTT 3.1.1');
  }
  const { clientId, assigned } = validateClientId(client, packet);
  client.clientId = clientId;
  readConnectProperties(client, packet);
  const expirySeconds = sessionExpiry(client, packet);
  client.will = buildWill(client, packet, clientId);
  applyKeepAlive(client, packet.keepalive ?? 0);
  // limits.maxConnectsPerClientIdPerSecond (AWS IoT: 1, "Connect requests per second per client
  // ID"). How AWS answers the excess is not documented: refused with CONNACK 0x97 Quota exceeded
  // (v3.1.1: 3 Server unavailable), see docs/compatibility.md. A server-assigned ID is new anyway.
  if (!assigned && !client.registry.allowConnect(clientId, limits.maxConnectsPerClientIdPerSecond)) {
    client.broker.counters.throttledConnects++;
    throw refuse('throttled', RC.quotaExceeded, `more than ${limits.maxConnectsPerClientIdPerSecond} CONNECT a second for client ID ${clientId}`);
  }

  // Admit: the connection limit counts connected clients, this one excluded.
  if (client.registry.connected >= limits.maxConnections) {
    throw refuse('server-full', RC.quotaExceeded, `connection limit of ${limits.maxConnections} reached`);
  }

  const decision = await client.broker.authorization.authorizeConnect({
    clientId,
    username: packet.username,
    password: packet.password,
    protocolVersion: client.version,
    connection: client.connection,
    cleanStart: packet.clean !== false,
    will: client.will ? { topic: client.will.message.topic, retain: client.will.message.retain } : undefined,
  });
  if (client.state !== 'connecting') return; // the socket went away while we waited
  if (!decision.allowed) throw refuse('not-authorized', decision.reasonCode, decision.reason);
  // Again after the await: other CONNECTs may have completed meanwhile.
  if (client.registry.connected >= limits.maxConnections) {
    throw refuse('server-full', RC.quotaExceeded, `connection limit of ${limits.maxConnections} reached`);
  }
  client.principal = decision.principal;
  client.username = packet.username;
  client.permissions = decision.permissions;

  const cleanStart = packet.clean !== false;
  // Cluster: the client ID may be connected, or its session kept, on another node.
  const cluster = client.broker.cluster;
  if (cluster !== null) {
    await cluster.claim(clientId, cleanStart);
    if (client.state !== 'connecting') return;
  }

  // Takeover: an existing connection with this client ID, of any protocol, is closed
  // [MQTT-3.1.4-3]; v5 gets 0x8E.
  const { session, present } = attachConnection(client.broker, client, { clientId, version: client.version, cleanStart, expirySeconds });
  client.session = session;
  client.state = 'connected';
  client.registry.connected++;
  client.lastActivity = client.broker.clock.now();
  client.broker.counters.connectionsAccepted++;

  sendConnack(client, present, assigned ? clientId : undefined, expirySeconds, packet);
  client.connectedAt = client.broker.clock.now();
  announceConnected(client.broker, session, client, client.principal, client.connection.remoteAddress);
  client.logger.info(
    {
      transport: client.connection.transport,
      protocolVersion: client.version,
      cleanStart,
      sessionPresent: present,
      keepAlive: client.keepAliveMs / 1000,
      principal: client.principal,
    },
    'client connected',
  );

  client.permissions.start?.(client);
  if (present) client.resendInflight();
  client.pump();

  const pending = client.pending;
  client.pending = null;
  for (const p of pending) {
    if (client.state !== 'connected') break;
    try {
      dispatch(client, p);
    } catch (err) {
      handleFailure(client, err);
    }
  }
}

function validateClientId(client: Client, packet: IConnectPacket): { clientId: string; assigned: boolean } {
  const limits = client.broker.limits;
  let clientId = packet.clientId ?? '';
  if (Buffer.byteLength(clientId) > limits.maxClientIdBytes) {
    throw refuse('client-id-too-long', RC.clientIdNotValid, `client identifier longer than ${limits.maxClientIdBytes} bytes`);
  }
  if (clientId.length > 0) return { clientId, assigned: false };
  // v3.1.1: a zero-length client id requires CleanSession=1 [MQTT-3.1.3-7, 3.1.3-8]; v5 always
  // assigns one and returns it [MQTT-3.2.2-16].
  if (client.version !== 5 && packet.clean === false) {
    throw refuse('empty-client-id-persistent', RC.clientIdNotValid, 'an empty client identifier needs clean session');
  }
  clientId = 'sb-' + randomBytes(12).toString('hex');
  return { clientId, assigned: true };
}

/** A v5 CONNACK without properties: fixed header, flags, reason code, property length 0. */
const MIN_CONNACK_BYTES = 5;

function readConnectProperties(client: Client, packet: IConnectPacket): void {
  const p = packet.properties;
  if (client.version !== 5 || p === undefined) return;
  if (p.receiveMaximum !== undefined) {
    // Receive Maximum of 0 is a protocol error [MQTT-3.1.2.11.3].
    if (p.receiveMaximum === 0) throw refuse('receive-maximum-zero', RC.protocolError, 'Receive Maximum must not be 0');
    client.sendQuota = p.receiveMaximum;
  }
  if (p.maximumPacketSize !== undefined) {
    if (p.maximumPacketSize === 0) throw refuse('maximum-packet-size-zero', RC.protocolError, 'Maximum Packet Size must not be 0');
    // Below the smallest CONNACK (5 bytes) nothing at all can be said to this client: refused
    // (the refusal cannot be sent either; the connection is closed) rather than left waiting.
    client.maxOutboundPacket = p.maximumPacketSize;
    if (p.maximumPacketSize < MIN_CONNACK_BYTES) {
      throw refuse('maximum-packet-size-too-small', RC.packetTooLarge, `Maximum Packet Size ${p.maximumPacketSize} cannot hold a CONNACK`);
    }
  }
  if (p.topicAliasMaximum !== undefined) client.clientTopicAliasMax = p.topicAliasMaximum;
  if (p.requestProblemInformation === false) client.requestProblemInfo = false;
  if (p.authenticationMethod !== undefined) {
    throw refuse('bad-authentication-method', RC.badAuthenticationMethod, 'enhanced authentication is not supported');
  }
}

function sessionExpiry(client: Client, packet: IConnectPacket): number {
  const limits = client.broker.limits;
  if (client.version === 5) {
    const requested = packet.properties?.sessionExpiryInterval ?? 0;
    return Math.min(requested, limits.maxSessionExpirySeconds);
  }
  // v3.1.1 CleanSession=0 keeps the session; the spec sets no expiry, we bound it (AWS: 1 h).
  return packet.clean === false ? Math.min(limits.defaultSessionExpirySeconds, limits.maxSessionExpirySeconds) : 0;
}

function buildWill(client: Client, packet: IConnectPacket, clientId: string): Client['will'] {
  const will = packet.will;
  if (will === undefined || will === null) return null;
  const limits = client.broker.limits;
  const topicError = validateTopicName(will.topic, limits);
  if (topicError !== null) throw refuse('will-topic-invalid', RC.topicNameInvalid, `will topic is invalid (${topicError})`);
  const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload ?? Buffer.alloc(0);
  if (payload.length > limits.maxPayloadBytes) {
    throw refuse('will-payload-too-large', RC.packetTooLarge, `will payload exceeds ${limits.maxPayloadBytes} bytes`);
  }
  if ((will.qos ?? 0) > 2) throw refuse('will-qos-invalid', RC.malformed, 'will QoS must be 0, 1 or 2'); // [MQTT-3.1.2-14]
  // Above our Maximum QoS (limits.maxQos 1, as AWS IoT): CONNACK 0x9B [MQTT-3.2.2-12], a code AWS lists for CONNACK.
  if ((will.qos ?? 0) > limits.maxQos) throw refuse('will-qos-not-supported', RC.qosNotSupported, `will QoS ${will.qos} is above the maximum QoS ${limits.maxQos}`);
  const wp = will.properties;
  let properties: MessageProperties | undefined;
  let expirySeconds = 0;
  let delaySeconds = 0;
  if (client.version === 5 && wp !== undefined) {
    properties = {};
    if (wp.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = wp.payloadFormatIndicator;
    if (wp.contentType !== undefined) properties.contentType = wp.contentType;
    if (wp.responseTopic !== undefined) {
      // A topic name, without wildcards (v5 §3.1.3.2.5, as [MQTT-3.3.2-14] for PUBLISH).
      if (validateTopicName(wp.responseTopic, limits) !== null) throw refuse('will-response-topic-invalid', RC.protocolError, 'will Response Topic is not a valid topic name');
      properties.responseTopic = wp.responseTopic;
    }
    if (wp.correlationData !== undefined) properties.correlationData = wp.correlationData;
    if (wp.userProperties !== undefined) properties.userProperties = wp.userProperties;
    if (Object.keys(properties).length === 0) properties = undefined;
    delaySeconds = wp.willDelayInterval ?? 0;
    if (wp.messageExpiryInterval !== undefined) {
      // A will's expiry counts from when it is published, not from CONNECT.
      expirySeconds = Math.min(wp.messageExpiryInterval, limits.maxMessageExpirySeconds);
    }
  }
  const message: Message = {
    topic: will.topic,
    payload,
    qos: (will.qos ?? 0) as QoS,
    retain: will.retain === true,
    properties,
    expiresAt: 0,
    publisherId: clientId,
  };
  return { message, delaySeconds, expirySeconds };
}

function applyKeepAlive(client: Client, requested: number): void {
  const limits = client.broker.limits;
  let effective = requested;
  // v5 is told the value we enforce; v3.1.1 cannot be, so its "no keep-alive" (0) is honoured
  // and only a value above the maximum is lowered (as AWS IoT does).
  const capZero = client.version === 5;
  if (limits.maxKeepAliveSeconds > 0 && ((effective === 0 && capZero) || effective > limits.maxKeepAliveSeconds)) {
    effective = limits.maxKeepAliveSeconds;
  }
  if (effective > 0 && effective < limits.minKeepAliveSeconds) effective = limits.minKeepAliveSeconds;
  client.keepAliveMs = effective * 1000;
  // v5 tells the client the value we enforce [MQTT-3.2.2-21]; v3.1.1 has no way to.
  client.serverKeepAlive = effective !== requested ? effective : undefined;
}

function sendConnack(client: Client, present: boolean, assignedId: string | undefined, expirySeconds: number, packet: IConnectPacket): void {
  if (client.version !== 5) {
    client.send({ cmd: 'connack', returnCode: 0, sessionPresent: present });
    return;
  }
  const limits = client.broker.limits;
  // Most important first: when the client's Maximum Packet Size cannot hold them all, the later
  // ones are left out (each has a default the client assumes when it is absent, v5 §3.2.2.3).
  const wanted: [string, unknown][] = [];
  if (assignedId !== undefined) wanted.push(['assignedClientIdentifier', assignedId]);
  wanted.push(['receiveMaximum', limits.maxInflightMessages], ['maximumPacketSize', limits.maxPacketBytes]);
  // Absent means 2 (v5 §3.2.2.3.4) [MQTT-3.2.2-9]; AWS IoT announces 1.
  if (limits.maxQos < 2) wanted.push(['maximumQoS', limits.maxQos]);
  if (client.serverKeepAlive !== undefined) wanted.push(['serverKeepAlive', client.serverKeepAlive]);
  const requested = packet.properties?.sessionExpiryInterval ?? 0;
  if (requested !== expirySeconds) wanted.push(['sessionExpiryInterval', expirySeconds]);
  // Absent, these mean what we would say anyway (0 aliases; the rest "available").
  wanted.push(
    ['topicAliasMaximum', limits.topicAliasMaximum],
    ['retainAvailable', true],
    ['wildcardSubscriptionAvailable', true],
    ['subscriptionIdentifiersAvailable', true],
    ['sharedSubscriptionAvailable', true],
  );
  const connack = (properties: Record<string, unknown>) => ({ cmd: 'connack', reasonCode: 0, sessionPresent: present, properties }) as Packet;
  const all = Object.fromEntries(wanted);
  const max = client.maxOutboundPacket;
  if (encode(connack(all), 5).length <= max) {
    client.send(connack(all));
    return;
  }
  // The server must not send a packet larger than the client's Maximum Packet Size
  // [MQTT-3.1.2-24]; a CONNACK that is not sent leaves the client waiting, so send the one that
  // fits: the properties that fit, most important first.
  const fitted: Record<string, unknown> = {};
  for (const [name, value] of wanted) {
    fitted[name] = value;
    if (encode(connack(fitted), 5).length > max) delete fitted[name];
  }
  client.logger.info({ maximumPacketSize: max, left: Object.keys(all).filter((k) => !(k in fitted)) }, 'CONNACK properties left out to fit the client Maximum Packet Size');
  client.send(connack(fitted));
}

/** Answers a refused or failed CONNECT with CONNACK where the spec allows one, then closes. */
export function refuseConnect(client: Client, reasonCode: number, reason: string, code: string): void {
  if (client.state === 'closed') return;
  client.broker.counters.connectFailed(code);
  if (code === 'not-authorized') client.broker.counters.deniedConnect++;
  const connection = client.connection;
  // v3.1.1: a malformed CONNECT (such as an invalid will topic) is closed without CONNACK [MQTT-3.1.4-1].
  const silent = client.version !== 5 && (code === 'will-topic-invalid' || code === 'will-qos-invalid' || code === 'password-without-username');
  if (client.state === 'connecting' && !silent) {
    if (client.version === 5) {
      const properties = client.requestProblemInfo && reason ? { reasonString: reason } : undefined;
      client.send({ cmd: 'connack', reasonCode, sessionPresent: false, ...(properties ? { properties } : {}) });
    } else {
      client.send({ cmd: 'connack', returnCode: v3ConnackCode(reasonCode), sessionPresent: false });
    }
  } else if (reasonCode === RC.unsupportedProtocolVersion) {
    // We cannot know the client's encoding; v3.1.1's CONNACK "unacceptable protocol version"
    // is what older clients understand [MQTT-3.1.2-2].
    connection.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
  }
  client.logger.info({ reason: code, reasonCode, detail: reason }, code === 'not-authorized' ? 'connection refused: not authorized' : 'connection refused');
  if (code === 'not-authorized' && client.clientId) {
    client.broker.lifecycle?.connectFailed(client.clientId, client.principal || undefined, connection.remoteAddress, 'AUTHORIZATION_FAILED');
  }
  client.will = null; // a refused connection never publishes a will [MQTT-3.1.4-5]
  client.finish(code, false);
  connection.end();
}
