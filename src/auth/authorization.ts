// The only thing the broker knows about authorization: the contract auth/ implements (custom-
// authorization.ts, policy-permissions.ts), kept here below the broker so that the core imports it
// and not the other way round; tests run the broker with allowAll. Decisions on the publish path are
// synchronous: documents are compiled at CONNECT.
import type { Connection } from '../transport/connection.js';

export interface ConnectRequest {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  protocolVersion: 3 | 4 | 5;
  /** The front-end (auth/request.ts CredentialSources.protocol); absent: MQTT. */
  protocol?: 'mqtt' | 'json' | 'sse';
  connection: Connection;
  cleanStart: boolean;
  will: { topic: string; retain: boolean } | undefined;
}

/** Lets authorization end a live connection (expired credentials, revoked rights). */
export interface ConnectionControl {
  disconnect(reasonCode: number, reason: string, why: string): void;
}

/** What one connected client may do; consulted on every publish, subscribe and delivery. */
export interface ClientPermissions {
  canPublish(topic: string, retain: boolean): boolean;
  canSubscribe(filter: string): boolean;
  canReceive(topic: string): boolean;
  /** For logs: which rule decided a refusal (e.g. the policy statement). */
  explain?(action: 'publish' | 'retain' | 'subscribe' | 'receive', name: string): string;
  /** Called once the client is connected: start refresh and expiry timers. */
  start?(control: ConnectionControl): void;
  /** Called once when the connection ends, to release timers. */
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
