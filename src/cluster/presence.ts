// What a node keeps in Redis about each of its connections ({prefix}conns:{node}): enough for the
// admin API to list it and for the node that cleans up after a dead one to publish the client's
// will and its disconnected event exactly as the dead node would have.
import type { ConnectionInfo } from '../broker/lifecycle.js';
import type { MessageProperties, QoS } from '../shared/message.js';
import type { Will } from '../broker/session.js';
import { decodeProperties, encodeProperties } from '../shared/properties-json.js';

export interface PresenceRecord {
  info: ConnectionInfo;
  connectedAt: number;
  persistent: boolean;
  will: StoredWill | null;
}

export interface StoredWill {
  topic: string;
  /** base64 */
  payload: string;
  qos: QoS;
  retain: boolean;
  /** v5 properties as the stores encode them. */
  properties: string | null;
  delaySeconds: number;
  expirySeconds: number;
}

/** What a connection is, as the presence record needs it (connection-adapter.ts reads it). */
export interface PresenceSource {
  info: ConnectionInfo;
  connectedAt: number;
  persistent: boolean;
  will: Will | null;
}

export function presenceOf(source: PresenceSource): PresenceRecord {
  const will = source.will;
  return {
    info: source.info,
    connectedAt: source.connectedAt,
    persistent: source.persistent,
    will:
      will === null
        ? null
        : {
            topic: will.message.topic,
            payload: will.message.payload.toString('base64'),
            qos: will.message.qos,
            retain: will.message.retain,
            properties: encodeProperties(will.message.properties as MessageProperties | undefined),
            delaySeconds: will.delaySeconds,
            expirySeconds: will.expirySeconds,
          },
  };
}

export function willOf(clientId: string, w: StoredWill): Will {
  return {
    message: { topic: w.topic, payload: Buffer.from(w.payload, 'base64'), qos: w.qos, retain: w.retain, properties: decodeProperties(w.properties), expiresAt: 0, publisherId: clientId },
    delaySeconds: w.delaySeconds,
    expirySeconds: w.expirySeconds,
  };
}
