// What every part of a cluster member shares: who it is, its options and collaborators, the Redis
// command connection, the key names, whether the backplane is reachable right now, and how to send
// a control message. Cluster (cluster.ts) builds one and hands it to each part.
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Counters } from '../metrics/counters.js';
import type { Store } from '../store/store.js';
import type { RedisTarget } from '../store/redis-target.js';
import { encodeControlFrame, type ControlMessage } from './control-messages.js';
import type { ClusterKeys } from './keys.js';
import type { ClusterRedis } from './redis-scripts.js';

/** How much earlier than the others could declare it dead a node stops trusting its lease. */
const LEASE_MARGIN_MS = 250;

export interface ClusterOptions {
  /** A URL, or the Sentinels watching the master (store/redis-target.ts). */
  redis: RedisTarget;
  keyPrefix: string;
  nodeId?: string;
  /** A node silent this long is declared dead. */
  nodeTimeoutMs: number;
  /** Unacknowledged QoS 1/2 frames kept per target node. */
  outboxLimit: number;
  /** ... and their bytes at most (default: unbounded by bytes). */
  outboxBytes?: number;
  /**
   * Replicas a won client-ID claim must reach (WAIT) before the CONNECT is accepted, so that a
   * Redis failover cannot forget it and let a second node claim the same ID; default 0 (no WAIT).
   */
  waitForReplicas?: number;
  waitTimeoutMs?: number;
  /**
   * 'interest' (default): a message goes only to nodes with a matching subscription. 'broadcast':
   * to every node, which then matches locally — kept to measure what interest routing saves.
   */
  routing?: 'interest' | 'broadcast';
  broker: Broker;
  store: Store;
  counters: Counters;
  logger: Logger;
  connectTimeoutMs?: number;
}

export class ClusterContext {
  /** The command connection, with the cluster's scripts; set once start() has connected. */
  redis!: ClusterRedis;
  /** Whether the backplane is reachable (and this node's state written there) right now. */
  connected = false;
  /**
   * performance.now() when the last heartbeat that Redis accepted was sent. The others declare
   * this node dead only once Redis has seen no beat for nodeTimeoutMs, so until then (less a
   * margin) it is certainly still a member: its lease. A node that was paused (SIGSTOP, a long GC
   * pause, a frozen VM) wakes up past its lease and must not act as the owner of its sessions
   * until a heartbeat says it still is one (see leaseValid's callers).
   */
  lastBeatAt = 0;
  /**
   * Declared dead, and waiting for the cluster to finish adopting its sessions before it lets go
   * of them and rejoins (cluster.ts fence): no lease whatever the connection, no new clients.
   */
  fenced = false;
  readonly broker: Broker;
  readonly store: Store;
  readonly counters: Counters;

  constructor(
    readonly nodeId: string,
    readonly keys: ClusterKeys,
    readonly options: ClusterOptions,
    readonly logger: Logger,
  ) {
    this.broker = options.broker;
    this.store = options.store;
    this.counters = options.counters;
  }

  /**
   * Whether this node may act as a member: while the backplane is unreachable nobody can declare
   * it dead (the others wait a full timeout after Redis returns, in which it beats again).
   */
  leaseValid(): boolean {
    if (this.fenced) return false;
    if (!this.connected) return true;
    return performance.now() - this.lastBeatAt < this.options.nodeTimeoutMs - LEASE_MARGIN_MS;
  }

  /** Sends a control message to a node (or, with `raw`, to the channel named by `node`); false while cut off. */
  control(node: string, message: ControlMessage, raw = false): boolean {
    if (!this.connected) return false;
    this.redis.publish(raw ? node : this.keys.channel(node), encodeControlFrame(message)).catch(() => {});
    return true;
  }
}
