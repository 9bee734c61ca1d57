// AWS IoT Core's lifecycle events, field for field, published through the broker like any other
// message (so policies decide who receives them). Published synchronously where they happen, so
// the events of one client ID on one node are never out of order (unlike AWS).
import type { Broker } from '../broker/broker.js';
import type { ConnectionInfo, DisconnectReason, LifecycleListener } from '../broker/lifecycle.js';
import type { QoS } from '../shared/message.js';
import { systemClock, type Clock } from '../shared/clock.js';

export interface EventSwitches {
  connected: boolean;
  disconnected: boolean;
  connectFailed: boolean;
  subscribed: boolean;
  unsubscribed: boolean;
  qos: QoS;
}

const JSON_CONTENT = { contentType: 'application/json', payloadFormatIndicator: true };

export class LifecycleEvents implements LifecycleListener {
  private readonly broker: Broker;
  private readonly switches: EventSwitches;
  private readonly clock: Clock;

  /** `clock` stamps the events (the same clock as the broker's, so a test reads what it set). */
  constructor(broker: Broker, switches: EventSwitches, clock: Clock = systemClock) {
    this.broker = broker;
    this.switches = switches;
    this.clock = clock;
  }

  connected(info: ConnectionInfo): void {
    if (!this.switches.connected || !eventsAllowed(info.clientId)) return;
    this.emit(`$aws/events/presence/connected/${info.clientId}`, {
      clientId: info.clientId,
      timestamp: this.clock.now(),
      eventType: 'connected',
      sessionIdentifier: info.sessionIdentifier,
      principalIdentifier: info.principal,
      ipAddress: info.ipAddress,
      versionNumber: info.versionNumber,
      ...(info.protocol !== undefined ? { protocol: info.protocol } : {}),
    });
  }

  disconnected(info: ConnectionInfo, reason: DisconnectReason, clientInitiated: boolean): void {
    if (!this.switches.disconnected || !eventsAllowed(info.clientId)) return;
    this.emit(`$aws/events/presence/disconnected/${info.clientId}`, {
      clientId: info.clientId,
      timestamp: this.clock.now(),
      eventType: 'disconnected',
      sessionIdentifier: info.sessionIdentifier,
      principalIdentifier: info.principal,
      clientInitiatedDisconnect: clientInitiated,
      disconnectReason: reason,
      versionNumber: info.versionNumber,
      ...(info.protocol !== undefined ? { protocol: info.protocol } : {}),
    });
  }

  connectFailed(clientId: string, principal: string | undefined, ipAddress: string, reason: 'AUTHORIZATION_FAILED'): void {
    if (!this.switches.connectFailed || !eventsAllowed(clientId)) return;
    this.emit(`$aws/events/presence/connect_failed/${clientId}`, {
      clientId,
      timestamp: this.clock.now(),
      eventType: 'connect_failed',
      connectFailureReason: reason,
      ...(principal !== undefined ? { principalIdentifier: principal } : {}),
      ipAddress,
    });
  }

  subscribed(info: ConnectionInfo, topics: string[]): void {
    if (!this.switches.subscribed || !eventsAllowed(info.clientId)) return;
    this.emit(`$aws/events/subscriptions/subscribed/${info.clientId}`, this.subscriptionPayload(info, 'subscribed', topics));
  }

  unsubscribed(info: ConnectionInfo, topics: string[]): void {
    if (!this.switches.unsubscribed || !eventsAllowed(info.clientId)) return;
    this.emit(`$aws/events/subscriptions/unsubscribed/${info.clientId}`, this.subscriptionPayload(info, 'unsubscribed', topics));
  }

  private subscriptionPayload(info: ConnectionInfo, eventType: string, topics: string[]) {
    return {
      clientId: info.clientId,
      timestamp: this.clock.now(),
      eventType,
      sessionIdentifier: info.sessionIdentifier,
      principalIdentifier: info.principal,
      topics,
    };
  }

  private emit(topic: string, payload: object): void {
    this.broker.publish(
      {
        topic,
        payload: Buffer.from(JSON.stringify(payload)),
        qos: this.switches.qos,
        retain: false,
        properties: JSON_CONTENT,
        expiresAt: 0,
        publisherId: undefined,
      },
      'event',
    );
  }
}

/** AWS: client IDs containing `#` or `+` produce no lifecycle events (they are not valid topics). */
function eventsAllowed(clientId: string): boolean {
  return !clientId.includes('#') && !clientId.includes('+') && !clientId.includes('\u0000');
}
