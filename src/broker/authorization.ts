// The only thing the broker knows about authorization. auth/ implements it; tests run the broker
// with allowAll. Decisions on the publish path are synchronous: documents are compiled at CONNECT.
import type { Connection } from '../transport/connection.js';

export interface ConnectRequest {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  protocolVersion: 3 | 4 | 5;
  connection: Connection;
  cleanStart: boolean;
  will: { topic: string; retain: boolean } | undefined;
}

/** What one connected client may do; consulted on every publish, subscribe and delivery. */
export interface ClientPermissions {
  canPublish(topic: string, retain: boolean): boolean;
  canSubscribe(filter: string): boolean;
  canReceive(topic: string): boolean;
  /** Called once when the connection ends, to release timers (refresh, expiry). */
  release?(): void;
}

export type ConnectDecision =
  | { allowed: true; principal: string; permissions: ClientPermissions }
  | { allowed: false; reasonCode: number; reason: string };

export interface Authorization {
  authorizeConnect(request: ConnectRequest): Promise<ConnectDecision>;
}

const allowEverything: ClientPermissions = {
  canPublish: () => true,
  canSubscribe: () => true,
  canReceive: () => true,
};

/** Admits every client with every right: for tests and for the broker before auth/ is wired. */
export const allowAll: Authorization = {
  async authorizeConnect() {
    return { allowed: true, principal: 'anonymous', permissions: allowEverything };
  },
};
