// The cluster's view of the connection attached to a session: the three things it does to one,
// through the core's ClientConnection, whatever protocol the client speaks.
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
  const client = session.client;
  if (client === null) return null;
  return {
    presence: () =>
      client.info === null ? null : presenceOf({ info: client.info, connectedAt: client.details().connectedAt, persistent: client.session?.persistent ?? false, will: client.will }),
    closeTakenOver: () => client.disconnect(RC.sessionTakenOver, 'session taken over', 'session-taken-over'),
    closeFenced: () => {
      client.setWill(null);
      client.setInfo(null);
      client.disconnect(RC.serverUnavailable, 'node rejoining the cluster', 'server-shutdown');
    },
  };
}
