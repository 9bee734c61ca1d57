// Messages <-> SQLite rows. Payloads are BLOBs; v5 properties are one JSON text column in the
// encoding of shared/properties-json.ts. Booleans are stored as 0/1.
import type { Message, MessageProperties, QoS } from '../shared/message.js';
import { encodableProperties } from '../shared/message.js';
import { decodeProperties, encodeProperties } from '../shared/properties-json.js';
import type { StoredMessage } from './session-store.js';

/** The message columns every message table has, in this order (see sqlite-schema.ts). */
export const MESSAGE_COLUMNS = 'topic, payload, message_qos, message_retain, properties, expires_at, publisher_id, received_at';
export const MESSAGE_PLACEHOLDERS = MESSAGE_COLUMNS.split(',').map(() => '?').join(', ');

export interface MessageRow {
  topic: string;
  payload: Buffer;
  message_qos: number;
  message_retain: number;
  properties: string | null;
  expires_at: number;
  received_at: number;
  publisher_id: string | null;
}

export type SqlValue = string | number | Buffer | null;

/** Parameters computed only when the change is committed (a cancelled change never computes them). */
export interface LazyParams {
  values(): SqlValue[];
}

/** A change's parameters: ready, or computed at commit. */
export type SqlParams = SqlValue[] | LazyParams;

/**
 * Properties of a stored message (SQLite or Redis), as deliverable: what an older version stored
 * and no PUBLISH can carry (a user property whose value is null, issue 13) is left out, so that it
 * cannot break every delivery of the message; an unreadable value means no properties.
 */
export function decodeStoredProperties(json: string | null): MessageProperties | undefined {
  let decoded: MessageProperties | undefined;
  try {
    decoded = decodeProperties(json);
  } catch {
    return undefined;
  }
  return encodableProperties(decoded);
}

/** Parameters for MESSAGE_COLUMNS. */
export function messageParams(m: StoredMessage | Message): SqlValue[] {
  return [m.topic, m.payload, m.qos, m.retain ? 1 : 0, encodeProperties(m.properties), m.expiresAt, m.publisherId ?? null, m.receivedAt ?? 0];
}

export function decodeMessage(row: MessageRow): StoredMessage {
  return {
    topic: row.topic,
    payload: row.payload,
    qos: row.message_qos as QoS,
    retain: row.message_retain !== 0,
    properties: decodeStoredProperties(row.properties),
    expiresAt: row.expires_at,
    publisherId: row.publisher_id ?? undefined,
    ...(row.received_at ? { receivedAt: row.received_at } : {}),
  };
}
