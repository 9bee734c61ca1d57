// What must survive a restart of persistent sessions [MQTT-4.1]: the session itself, its
// subscriptions, QoS 1/2 messages queued for it, QoS 1/2 messages in flight to it (with their
// packet identifiers and PUBREL state), and the QoS 2 packet identifiers received from it and not
// yet released. The broker keeps the live state in memory and records each change here; the
// store batches changes and commits them together (see Store.afterCommit).
import type { MessageProperties, QoS } from '../shared/message.js';

export interface StoredMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: MessageProperties | undefined;
  /** Epoch ms; 0 = never expires. */
  expiresAt: number;
  publisherId: string | undefined;
  /** Epoch ms when the server received it (retained messages' lastModifiedTime). */
  receivedAt?: number;
}

export interface StoredDelivery {
  message: StoredMessage;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | undefined;
}

export interface StoredSubscription {
  /** The filter as the client sent it, `$share/...` included. */
  key: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
}

export interface StoredInflight {
  packetId: number;
  state: 'publish' | 'pubrel';
  delivery: StoredDelivery;
}

export interface StoredQueued {
  /** Increasing per session; the queue's order. */
  seq: number;
  delivery: StoredDelivery;
}

export interface StoredSession {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  expirySeconds: number;
  /** Epoch ms when the client went away; null while connected (after a crash: use the start time). */
  disconnectedAt: number | null;
  subscriptions: StoredSubscription[];
  inflight: StoredInflight[];
  queue: StoredQueued[];
  inboundQos2: number[];
}

export interface SessionStore {
  /**
   * Every stored session, each with its subscriptions, in-flight, queued messages in order, after
   * this node's pending changes are committed. Sessions and messages whose expiry passed while
   * nobody held them are removed rather than returned (SQLite: at open; Redis: at each load).
   * Redis: rejects StoreUnavailableError while Redis is unreachable.
   */
  loadSessions(): Promise<StoredSession[]>;
  /**
   * One session as loadSessions would return it, or undefined if there is none (or it expired).
   * Reads the latest committed state from the store itself, never a cache: a cluster calls it when
   * a client arrives whose session another node held (that node must have committed first).
   */
  loadSession(clientId: string): Promise<StoredSession | undefined>;
  /** Creates or updates the session row (not its children). */
  putSession(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, disconnectedAt: number | null): void;
  /** Removes the session and everything that belongs to it. */
  deleteSession(clientId: string): void;
  putSubscription(clientId: string, subscription: StoredSubscription): void;
  deleteSubscription(clientId: string, key: string): void;
  enqueue(clientId: string, seq: number, delivery: StoredDelivery): void;
  dequeue(clientId: string, seq: number): void;
  /** Creates or replaces the in-flight entry for that packet identifier. */
  putInflight(clientId: string, packetId: number, state: 'publish' | 'pubrel', delivery: StoredDelivery): void;
  deleteInflight(clientId: string, packetId: number): void;
  addInboundQos2(clientId: string, packetId: number): void;
  deleteInboundQos2(clientId: string, packetId: number): void;
}
