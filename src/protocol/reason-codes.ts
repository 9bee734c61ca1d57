// MQTT 5 reason codes used by the server, and their MQTT 3.1.1 counterparts where one exists.
// v3.1.1 CONNACK return codes: [MQTT-3.2.2.3]; SUBACK failure is 0x80 [MQTT-3.9.3].
export const RC = {
  success: 0x00,
  grantedQos1: 0x01,
  grantedQos2: 0x02,
  disconnectWithWill: 0x04,
  noMatchingSubscribers: 0x10,
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  implementationSpecific: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  banned: 0x8a,
  badAuthenticationMethod: 0x8c,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdInUse: 0x91,
  packetIdNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  retainNotSupported: 0x9a,
  qosNotSupported: 0x9b,
  sharedSubscriptionsNotSupported: 0x9e,
  connectionRateExceeded: 0x9f,
  maximumConnectTime: 0xa0,
  subscriptionIdsNotSupported: 0xa1,
  wildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCode = (typeof RC)[keyof typeof RC];

// v3.1.1 CONNACK return codes.
export const V3_CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** Maps a v5 CONNACK reason code to the nearest v3.1.1 return code. */
export function v3ConnackCode(reason: number): number {
  switch (reason) {
    case RC.success:
      return V3_CONNACK.accepted;
    case RC.unsupportedProtocolVersion:
      return V3_CONNACK.unacceptableProtocolVersion;
    case RC.clientIdNotValid:
      return V3_CONNACK.identifierRejected;
    case RC.badUserNameOrPassword:
      return V3_CONNACK.badUserNameOrPassword;
    case RC.notAuthorized:
    case RC.banned:
      return V3_CONNACK.notAuthorized;
    default:
      return V3_CONNACK.serverUnavailable;
  }
}
