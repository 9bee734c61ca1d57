// The cluster's view of the connection attached to a session: the three things it does to one.
// This is the only place cluster/ reaches the MQTT front-end's concrete Client (to read its info
// and will, and to close it); to be replaced by the broker's connection interface (deliver,
// disconnect with a reason, info, will) once it exists, after which this file goes away.
import type { Client } from '../broker/client.js';
import type { Session } from '../broker/session.js';
import { RC } from '../protocol/reason-codes.js';
import { presenceOf, type PresenceRecord } from './presence.js';

export interface ClusterConnection {
  /** What this node keeps in Redis about the connection; null until its CONNECT completed. */
  presence(): PresenceRecord | null;
  /** Closes it: its client ID connected on another node (v5: 0x8E session taken over). */
  closeTakenOver(): void;
  /**
   * Closes it without its will or a disconnected event (v5: 0x88 server unavailable): the node
   * that declared this one dead has published them already.
   */
  closeFenced(): void;
}

/** The connection of `session`, or null while the session is offline. */
export function connectionOf(session: Session): ClusterConnection | null {
  // The one cast to the concrete MQTT Client; the connection interface will make it unnecessary.
  const client = session.client as Client | null;
  if (client === null) return null;
  return {
    presence: () =>
      client.info === null ? null : presenceOf({ info: client.info, connectedAt: client.connectedAt, persistent: client.session?.persistent ?? false, will: client.will }),
    closeTakenOver: () => client.disconnect(RC.sessionTakenOver, 'session taken over', 'session-taken-over'),
    closeFenced: () => {
      client.will = null;
      client.info = null;
      client.disconnect(RC.serverUnavailable, 'node rejoining the cluster', 'server-shutdown');
    },
  };
}
