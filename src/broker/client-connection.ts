// The one interface the core knows a connected client by, whatever protocol it speaks: the MQTT
// connection (src/mqtt/client.ts) today, JSON over WebSocket and Server-Sent Events next. Sessions,
// the router, the HTTP API and the cluster act on a client only through it, never by casting to a
// front-end's class; so it carries no wire types (no packets, no encoders).
import type { ClientPermissions, ConnectionControl } from '../auth/authorization.js';
import type { Broadcast } from './broadcast.js';
import type { ConnectionInfo } from './lifecycle.js';
import type { Delivery, Session, Will } from './session.js';

/** What the admin and data-plane APIs report about a live connection. */
export interface ConnectionDetails {
  readonly clientId: string;
  readonly principal: string;
  /** The user name the client connected with, if it gave one. */
  readonly username: string | undefined;
  /** The front-end's protocol ('mqtt') and its version as people write it ('5.0', '3.1.1'). */
  readonly protocol: string;
  readonly protocolVersion: string;
  /** What carries it: 'tcp', 'tls', 'ws', 'wss'. */
  readonly transport: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Epoch ms of the connection's acceptance by the server (CONNACK for MQTT). */
  readonly connectedAt: number;
  /** The keep-alive the server enforces; 0 = none. */
  readonly keepAliveSeconds: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
}

export interface ClientConnection extends ConnectionControl {
  /** What this connection may do (compiled at connect); checked per publish, subscribe, delivery. */
  readonly permissions: ClientPermissions;
  /** The session it is attached to; null until its connect completes. */
  readonly session: Session | null;
  /** Past connect and not closed. */
  readonly connected: boolean;
  /**
   * Ends the connection: `reasonCode` and `reason` are told to the client where its protocol can
   * (an MQTT 5 DISCONNECT), `why` is the stable code its lifecycle event is named from
   * (lifecycle.ts disconnectReason). The will is published unless cleared first.
   */
  disconnect(reasonCode: number, reason: string, why: string): void;
  /** The will published if the connection is lost [MQTT-3.1.2-8]; null for none. */
  readonly will: Will | null;
  setWill(will: Will | null): void;
  /**
   * Its lifecycle identity, set once connected; its disconnected event is published from it.
   * Cleared (setInfo(null)) when another party has already published that event.
   */
  readonly info: ConnectionInfo | null;
  setInfo(info: ConnectionInfo | null): void;
  details(): ConnectionDetails;
  /**
   * Sends a delivery, or queues it (QoS 1/2) when the connection cannot take it now. `broadcast`
   * is shared by every subscriber of one publish, for encodings; null for a single delivery.
   */
  deliver(delivery: Delivery, broadcast: Broadcast | null): void;
}
