// A ClientConnection without a protocol or a socket, for unit tests of the core (session manager,
// router): it records what it is given and what it is told, and attaches to a session like a
// front-end does once its connect completes.
import type { ClientPermissions } from '../../src/auth/authorization.js';
import type { Broadcast } from '../../src/broker/broadcast.js';
import type { ClientConnection, ConnectionDetails } from '../../src/broker/client-connection.js';
import type { ConnectionInfo } from '../../src/broker/lifecycle.js';
import type { Delivery, Session, Will } from '../../src/broker/session.js';

export const allowEverything: ClientPermissions = { canPublish: () => true, canSubscribe: () => true, canReceive: () => true };

export class FakeConnection implements ClientConnection {
  readonly permissions: ClientPermissions;
  session: Session | null = null;
  connected = true;
  will: Will | null = null;
  info: ConnectionInfo | null = null;
  readonly delivered: Delivery[] = [];
  readonly broadcasts: (Broadcast | null)[] = [];
  readonly disconnects: { reasonCode: number; reason: string; why: string }[] = [];
  /** Called by disconnect(), as a front-end detaches from its session when it closes. */
  onDisconnect: ((connection: FakeConnection) => void) | null = null;
  private readonly clientId: string;

  constructor(clientId: string, permissions: ClientPermissions = allowEverything) {
    this.clientId = clientId;
    this.permissions = permissions;
  }

  /** Attaches to `session` the way a front-end does after its connect. */
  attach(session: Session): this {
    session.client = this;
    session.permissions = this.permissions;
    this.session = session;
    return this;
  }

  disconnect(reasonCode: number, reason: string, why: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.disconnects.push({ reasonCode, reason, why });
    this.onDisconnect?.(this);
  }

  setWill(will: Will | null): void {
    this.will = will;
  }

  setInfo(info: ConnectionInfo | null): void {
    this.info = info;
  }

  details(): ConnectionDetails {
    return {
      clientId: this.clientId,
      principal: 'test',
      username: undefined,
      protocol: 'fake',
      protocolVersion: '1',
      transport: 'memory',
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
      localPort: 2,
      connectedAt: 0,
      keepAliveSeconds: 0,
      messagesIn: 0,
      messagesOut: this.delivered.length,
    };
  }

  deliver(delivery: Delivery, broadcast: Broadcast | null): void {
    this.delivered.push(delivery);
    this.broadcasts.push(broadcast);
  }

  /** Topics delivered so far, in order. */
  get topics(): string[] {
    return this.delivered.map((d) => d.message.topic);
  }
}
