// The broker's own view of an application message, independent of the wire version it came in on.
import type { UserProperties } from '../protocol/codec.js';

export type QoS = 0 | 1 | 2;

/** v5 properties forwarded unchanged to subscribers [MQTT-3.3.2-4 ... 3.3.2-20]. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: MessageProperties | undefined;
  /** Epoch ms when the message expires (v5 Message Expiry Interval); 0 = never. */
  readonly expiresAt: number;
  /** Client ID of the publishing MQTT client (for no-local); undefined for HTTP, events, rules. */
  readonly publisherId: string | undefined;
  /** Epoch ms when the server received it; retained messages report it as lastModifiedTime. */
  readonly receivedAt?: number;
  /** The publishing client's principal (rules' principal()). */
  readonly principal?: string;
}

/** Where a publish came from; the backplane will add 'cluster', which is never forwarded again. */
export type Origin = 'client' | 'api' | 'event' | 'rule' | 'will' | 'cluster';

export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== 0 && message.expiresAt <= now;
}

/** Remaining Message Expiry Interval in whole seconds, as forwarded [MQTT-3.3.2-6]. */
export function remainingExpirySeconds(message: Message, now: number): number | undefined {
  if (message.expiresAt === 0) return undefined;
  return Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
}
