// How the broker reports connection lifecycle to whoever listens (events/ publishes AWS's
// $aws/events/... messages from it). The broker knows only this interface.

/** Why a connection ended, as AWS IoT names it in disconnected events. */
export type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'SERVER_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'API_INITIATED_DISCONNECT'
  | 'THROTTLED'
  | 'AUTH_ERROR'
  | 'CUSTOMAUTH_TTL_EXPIRATION';

export interface ConnectionInfo {
  clientId: string;
  principal: string;
  ipAddress: string;
  sessionIdentifier: string;
  /** Shared by a connect and its disconnect; increases per client ID (across restarts too). */
  versionNumber: number;
  /**
   * The front-end when it is not MQTT ('json': /ws, 'sse': /events), named in the presence events
   * as an extra `protocol` field; absent for MQTT, whose events are AWS's field for field.
   */
  protocol?: 'json' | 'sse';
}

export interface LifecycleListener {
  connected(info: ConnectionInfo): void;
  disconnected(info: ConnectionInfo, reason: DisconnectReason, clientInitiated: boolean): void;
  connectFailed(clientId: string, principal: string | undefined, ipAddress: string, reason: 'AUTHORIZATION_FAILED'): void;
  subscribed(info: ConnectionInfo, topics: string[]): void;
  unsubscribed(info: ConnectionInfo, topics: string[]): void;
}

/** Maps the stable codes connections end with (Client.finish's `why`) to AWS's reasons. */
export function disconnectReason(why: string): { reason: DisconnectReason; clientInitiated: boolean } {
  switch (why) {
    case 'client-disconnect':
    case 'client-closed':
      return { reason: 'CLIENT_INITIATED_DISCONNECT', clientInitiated: true };
    case 'connection-lost':
      return { reason: 'CONNECTION_LOST', clientInitiated: false };
    case 'session-taken-over':
      return { reason: 'DUPLICATE_CLIENTID', clientInitiated: false };
    case 'keep-alive-timeout':
      return { reason: 'MQTT_KEEP_ALIVE_TIMEOUT', clientInitiated: false };
    case 'server-shutdown':
      return { reason: 'SERVER_INITIATED_DISCONNECT', clientInitiated: false };
    case 'api-disconnect':
      return { reason: 'API_INITIATED_DISCONNECT', clientInitiated: false };
    case 'customauth-ttl-expiration':
      return { reason: 'CUSTOMAUTH_TTL_EXPIRATION', clientInitiated: false };
    // AWS has no reason for expired SigV4 credentials (it keeps the connection): AUTH_ERROR is the nearest.
    case 'credential-expired':
    case 'auth-refresh-denied':
      return { reason: 'AUTH_ERROR', clientInitiated: false };
    case 'internal-error':
      return { reason: 'SERVER_ERROR', clientInitiated: false };
    case 'too-many-pending':
    // AWS has no reason for a slow consumer; THROTTLED ("exceeded a throttling limit") is the
    // nearest of its values (docs/compatibility.md).
    case 'slow-consumer':
      return { reason: 'THROTTLED', clientInitiated: false };
    default:
      // Every protocol violation (malformed packet, bad topic, second CONNECT...).
      return { reason: 'CLIENT_ERROR', clientInitiated: false };
  }
}

let lastVersion = 0;
/**
 * versionNumber: epoch milliseconds times 1,000 plus a counter, so it increases per client ID
 * across connections and restarts without keeping any per-client state (AWS allows skipped values).
 */
export function nextVersionNumber(): number {
  const candidate = Date.now() * 1000;
  lastVersion = candidate > lastVersion ? candidate : lastVersion + 1;
  return lastVersion;
}
