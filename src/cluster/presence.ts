// What a node keeps in Redis about each of its connections ({prefix}conns:{node}): enough for the
// admin API to list it and for the node that cleans up after a dead one to publish the client's
// will and its disconnected event exactly as the dead node would have. Also the listener that
// writes them as clients come and go.
import type { ConnectionInfo, LifecycleListener } from '../broker/lifecycle.js';
import type { MessageProperties, QoS } from '../shared/message.js';
import type { Will } from '../broker/session.js';
import { decodeProperties, encodeProperties } from '../shared/properties-json.js';
import { validateTopicName } from '../protocol/topic.js';
import type { ClusterContext } from './context.js';

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

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * A record as another node wrote it, or null when it is damaged (it came from Redis: another
 * process's output, checked before a will is published from it).
 */
export function parsePresenceRecord(json: string): PresenceRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isObject(value) || !isObject(value.info) || !isCount(value.connectedAt) || typeof value.persistent !== 'boolean') return null;
  const { clientId, principal, ipAddress, sessionIdentifier, versionNumber, protocol } = value.info;
  if (!isString(clientId) || clientId.length === 0 || !isString(principal) || !isString(ipAddress) || !isString(sessionIdentifier) || !isCount(versionNumber)) return null;
  // The front-end of a JSON or SSE client: kept, so that the disconnected event published for it
  // after its node died names the protocol as its connected event did (absent: MQTT).
  if (!(protocol === undefined || protocol === 'json' || protocol === 'sse')) return null;
  const will = value.will === null ? null : parseStoredWill(value.will);
  if (will === undefined) return null;
  const info: ConnectionInfo = { clientId, principal, ipAddress, sessionIdentifier, versionNumber, ...(protocol !== undefined ? { protocol } : {}) };
  return { info, connectedAt: value.connectedAt, persistent: value.persistent, will };
}

/** A stored will, or undefined when damaged. */
function parseStoredWill(will: unknown): StoredWill | undefined {
  if (!isObject(will)) return undefined;
  const { topic, payload, qos, retain, properties, delaySeconds, expirySeconds } = will;
  // The protocol's own bound only [MQTT-4.7.3-3]: the dead node applied its limits at CONNECT.
  if (!isString(topic) || validateTopicName(topic, { maxTopicBytes: 65_535, maxTopicLevels: Number.POSITIVE_INFINITY }) !== null) return undefined;
  if (!isString(payload) || !(qos === 0 || qos === 1 || qos === 2) || typeof retain !== 'boolean') return undefined;
  if (!(properties === null || isString(properties)) || !isCount(delaySeconds) || !isCount(expirySeconds)) return undefined;
  if (properties !== null) {
    try {
      decodeProperties(properties);
    } catch {
      return undefined;
    }
  }
  return { topic, payload, qos, retain, properties, delaySeconds, expirySeconds };
}

/**
 * A lifecycle listener that keeps this node's presence records in Redis ({prefix}conns:{node}).
 * `recordOf` gives the record of a client connected here (connection-adapter.ts), or null.
 */
export function presenceListener(ctx: ClusterContext, recordOf: (clientId: string) => PresenceRecord | null): LifecycleListener {
  return {
    connected: (info) => {
      if (!ctx.connected) return;
      const record = recordOf(info.clientId);
      if (record === null) return;
      ctx.redis.hset(ctx.keys.conns(ctx.nodeId), info.clientId, JSON.stringify(record)).catch(() => {});
    },
    disconnected: (info) => {
      if (ctx.connected) ctx.redis.hdel(ctx.keys.conns(ctx.nodeId), info.clientId).catch(() => {});
    },
    connectFailed: () => {},
    subscribed: () => {},
    unsubscribed: () => {},
  };
}
