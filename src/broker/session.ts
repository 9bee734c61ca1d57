// A session: what the server keeps for one client ID, across connections when it is persistent
// [MQTT-4.1]: subscriptions, QoS 1/2 messages in flight and queued, QoS 2 ids received. Data plus
// small methods; the connection (Client) and the Broker act on it.
import type { ClientPermissions } from './authorization.js';
import { BoundedQueue } from './bounded-queue.js';
import type { BroadcastEncoder } from './encode-publish.js';
import type { LongTimeout } from './long-timeout.js';
import type { Message, QoS } from './message.js';
import { PacketIdAllocator } from './packet-ids.js';

export interface Subscription {
  readonly kind: 'direct';
  readonly session: Session;
  /** The filter as the client sent it, including any `$share/group/` prefix. */
  readonly key: string;
  /** The filter matched against topics. */
  readonly filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
  readonly group: SharedGroup | undefined;
}

/** One `$share/{name}/{filter}` group; the trie holds the group, which picks one member per message. */
export interface SharedGroup {
  readonly kind: 'shared';
  readonly name: string;
  readonly filter: string;
  readonly members: Subscription[];
  next: number;
}

export interface Will {
  /** Its expiresAt is 0; expirySeconds applies from the moment the will is published. */
  message: Message;
  delaySeconds: number;
  expirySeconds: number;
}

/** A message on its way to this session's client. */
export interface Delivery {
  readonly message: Message;
  readonly qos: QoS;
  /** RETAIN flag as sent: set for retained-on-subscribe, or live with retain-as-published. */
  readonly retain: boolean;
  readonly subscriptionIds: number[] | undefined;
}

export interface InflightEntry extends Delivery {
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
}

/** What a Session needs from the connection currently attached to it. */
export interface SessionClient {
  readonly permissions: ClientPermissions;
  /** `encoder` is shared by every subscriber of one broadcast; null for a single delivery. */
  deliver(delivery: Delivery, encoder: BroadcastEncoder | null): void;
}

export class Session {
  readonly clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** Session Expiry Interval in seconds; 0 ends the session with the connection. */
  expirySeconds: number;
  client: SessionClient | null = null;
  /** Rights of the last connection, kept to filter what an offline persistent session queues. */
  permissions: ClientPermissions | null = null;
  readonly subscriptions = new Map<string, Subscription>();
  readonly inflight = new Map<number, InflightEntry>();
  readonly queue: BoundedQueue<Delivery>;
  /** QoS 2 packet ids received and PUBREC'd, awaiting PUBREL [MQTT-4.3.3]. */
  readonly inboundQos2 = new Set<number>();
  readonly ids = new PacketIdAllocator();
  droppedMessages = 0;
  expiryTimer: LongTimeout | null = null;
  /** A will whose delay is running [MQTT-3.1.3-9]. */
  pendingWill: { will: Will; timer: LongTimeout } | null = null;
  /** Per-publish scratch used by the broker to merge overlapping subscriptions without a Map. */
  mark = 0;
  markQos: QoS = 0;
  markRetain = false;
  markIds: number[] | undefined = undefined;

  constructor(clientId: string, protocolVersion: 3 | 4 | 5, expirySeconds: number, queueLimit: number) {
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
    this.expirySeconds = expirySeconds;
    this.queue = new BoundedQueue(queueLimit);
  }

  get persistent(): boolean {
    return this.expirySeconds > 0;
  }

  /** Queues a QoS 1/2 delivery; when full the oldest is dropped and counted. Returns true on a drop. */
  enqueue(delivery: Delivery): boolean {
    const dropped = this.queue.push(delivery);
    if (dropped !== undefined) {
      this.droppedMessages++;
      return true;
    }
    return false;
  }
}
