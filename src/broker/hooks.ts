// What the core calls out to that is built after it, because it needs the core: lifecycle events
// (events/ publishes through the broker), Basic Ingest (the rules engine publishes through it) and
// the cluster backplane (which routes into it). server.ts builds the broker with one BrokerHooks
// and binds each implementation once, when it exists; the core only reads them. Nothing is ever
// assigned onto the broker itself, and a hook read before it is bound is simply absent (null).
import type { ClusterHooks } from './cluster-hooks.js';
import type { LifecycleListener } from './lifecycle.js';
import type { Message } from '../shared/message.js';

export type BasicIngest = (message: Message) => void;

export class BrokerHooks {
  private lifecycleListener: LifecycleListener | null = null;
  private ingest: BasicIngest | null = null;
  private backplane: ClusterHooks | null = null;

  /** Lifecycle events (connect, disconnect, subscribe...); null when nobody listens. */
  get lifecycle(): LifecycleListener | null {
    return this.lifecycleListener;
  }

  /** `$aws/rules/{rule}/...` publishes (Basic Ingest) go here, never to subscribers. */
  get basicIngest(): BasicIngest | null {
    return this.ingest;
  }

  /** The Redis backplane while this node is part of a cluster; null on a single node. */
  get cluster(): ClusterHooks | null {
    return this.backplane;
  }

  bindLifecycle(listener: LifecycleListener): void {
    if (this.lifecycleListener !== null) throw new Error('lifecycle listener already bound');
    this.lifecycleListener = listener;
  }

  bindBasicIngest(ingest: BasicIngest): void {
    if (this.ingest !== null) throw new Error('basic ingest already bound');
    this.ingest = ingest;
  }

  /**
   * The cluster takes part in routing from when it has joined until it starts leaving
   * (server.ts: after Cluster.start, before Cluster.stop); before and after, this node routes alone.
   */
  joinCluster(cluster: ClusterHooks): void {
    if (this.backplane !== null) throw new Error('already in a cluster');
    this.backplane = cluster;
  }

  leaveCluster(): void {
    this.backplane = null;
  }
}
