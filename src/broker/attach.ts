// The steps of a connect that every front-end shares once its client is authorized: claim the
// client ID (cluster), take it over from whatever connection holds it — of any protocol —, open or
// resume its session, and announce the connection (lifecycle event). MQTT's CONNECT handler, the
// JSON WebSocket and the SSE front-ends all call these, so a takeover works across protocols and
// every connected event carries the same AWS fields.
import { randomUUID } from 'node:crypto';
import { RC } from '../protocol/reason-codes.js';
import type { Broker } from './broker.js';
import type { ClientConnection } from './client-connection.js';
import { nextVersionNumber, type ConnectionInfo } from './lifecycle.js';
import type { Session } from './session.js';


export interface AttachRequest {
  clientId: string;
  /** The session's MQTT version for what it stores and encodes (JSON and SSE sessions: 5). */
  version: 3 | 4 | 5;
  cleanStart: boolean;
  expirySeconds: number;
}

/**
 * Closes the connection that holds `clientId` now (on this node), whatever its protocol
 * [MQTT-3.1.4-3], opens or resumes the session and attaches `connection` to it.
 */
export function attachConnection(broker: Broker, connection: ClientConnection, request: AttachRequest): { session: Session; present: boolean } {
  const existing = broker.sessions.get(request.clientId)?.client;
  if (existing != null && existing !== connection) {
    existing.disconnect(RC.sessionTakenOver, 'session taken over', 'session-taken-over');
  }
  const { session, present } = broker.openSession(request.clientId, request.version, request.cleanStart, request.expirySeconds);
  session.client = connection;
  session.permissions = connection.permissions;
  return { session, present };
}

/**
 * Gives a connection that has just been accepted its lifecycle identity, then publishes its
 * connected event. In that order: listeners of the event (the cluster's presence record, which a
 * dead node's `disconnected` event and will are rebuilt from) read the connection's info.
 */
export function announceConnected(broker: Broker, session: Session, connection: ClientConnection, principal: string, ipAddress: string, protocol?: 'json' | 'sse'): ConnectionInfo {
  session.identifier ??= randomUUID();
  // One literal, the optional field added after: a spread would build the object property by
  // property into an out-of-object property array (40 more bytes per idle connection).
  const info: ConnectionInfo = {
    clientId: session.clientId,
    principal,
    ipAddress,
    sessionIdentifier: session.identifier,
    versionNumber: nextVersionNumber(),
  };
  if (protocol !== undefined) info.protocol = protocol;
  connection.setInfo(info);
  broker.lifecycle?.connected(info);
  return info;
}
