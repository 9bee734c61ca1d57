// The core's facade: one object that front-ends, the HTTP API, events, rules and the cluster hold.
// It owns nothing itself: routing (the subscription index, retained messages, `publish`) is the
// Router's, session lifecycle (open, detach, expiry, wills, moves) the SessionManager's, and what
// the core calls out to is in BrokerHooks, given at construction.
import type { Logger } from 'pino';
import type { Limits, TopicsConfig } from '../config/schema.js';
import type { Counters } from '../metrics/counters.js';
import type { RetainedStore } from '../store/retained-store.js';
import type { SessionStore, StoredSession } from '../store/session-store.js';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import type { Message, Origin } from '../shared/message.js';
import type { Authorization } from '../auth/authorization.js';
import type { Broadcast } from './broadcast.js';
import type { ClusterHooks } from './cluster-hooks.js';
import { BrokerHooks } from './hooks.js';
import type { BasicIngest } from './hooks.js';
import type { LifecycleListener } from './lifecycle.js';
import { Router, type HistoryStamper, type PublishListener, type SubscribeOptions } from './router.js';
import type { Delivery, Session, Subscription, Will } from './session.js';
import { SessionManager } from './session-manager.js';
import type { AckOrder } from './ack-order.js';

export type { HistoryStamper, PublishListener, SubscribeOptions } from './router.js';

export interface BrokerOptions {
  limits: Limits;
  retained: RetainedStore;
  counters: Counters;
  logger: Logger;
  authorization: Authorization;
  /** Where persistent sessions are recorded; null keeps them in memory only. */
  sessionStore: SessionStore | null;
  /** Runs a callback once recorded changes are durable (Store.afterCommit). */
  afterCommit: (callback: () => void) => void;
  /** Lifecycle listener, Basic Ingest and cluster, bound once each when built; none by default. */
  hooks?: BrokerHooks;
  /** Time for keep-alive, expiry and will delays; the system clock by default. */
  clock?: Clock;
  /** Topic matching and retained delivery where AWS IoT differs from the spec; the spec's by default. */
  topics?: TopicsConfig;
  /** Per-topic history (src/history/recorder.ts); none by default. */
  history?: HistoryStamper | null;
}

export class Broker {
  readonly limits: Limits;
  readonly retained: RetainedStore;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly authorization: Authorization;
  readonly afterCommit: (callback: () => void) => void;
  readonly clock: Clock;
  readonly hooks: BrokerHooks;
  readonly router: Router;
  readonly sessionManager: SessionManager;
  /** Every session on this node, by client ID (the session manager's map). */
  readonly sessions: Map<string, Session>;

  constructor(options: BrokerOptions) {
    this.limits = options.limits;
    this.retained = options.retained;
    this.counters = options.counters;
    this.logger = options.logger;
    this.authorization = options.authorization;
    this.afterCommit = options.afterCommit;
    this.clock = options.clock ?? systemClock;
    this.hooks = options.hooks ?? new BrokerHooks();
    this.router = new Router({ limits: this.limits, retained: this.retained, counters: this.counters, logger: this.logger, hooks: this.hooks, clock: this.clock, history: options.history ?? null, ...(options.topics ? { topics: options.topics } : {}) });
    this.sessionManager = new SessionManager({
      limits: this.limits,
      logger: this.logger,
      router: this.router,
      hooks: this.hooks,
      clock: this.clock,
      sessionStore: options.sessionStore,
    });
    this.sessions = this.sessionManager.sessions;
  }

  /** Lifecycle events (connect, disconnect, subscribe...); null when nobody listens. */
  get lifecycle(): LifecycleListener | null {
    return this.hooks.lifecycle;
  }

  /** `$aws/rules/{rule}/...` publishes (Basic Ingest) go here, never to subscribers. */
  get basicIngest(): BasicIngest | null {
    return this.hooks.basicIngest;
  }

  /** The Redis backplane in cluster mode; null on a single node. */
  get cluster(): ClusterHooks | null {
    return this.hooks.cluster;
  }

  // ---- routing (router.ts) --------------------------------------------------------------------

  onPublish(listener: PublishListener): void {
    this.router.onPublish(listener);
  }

  /** The single publish entry point (Router.publish). */
  publish(message: Message, origin: Origin, groups: ReadonlySet<string> | null = null, sharedOnly = false): void {
    // A member that may have been declared dead must not write into sessions adopted elsewhere.
    if (origin !== 'cluster' && this.hooks.cluster !== null && this.hooks.cluster.park(message, origin)) return;
    this.router.publish(message, origin, groups, sharedOnly);
  }

  deliver(session: Session, delivery: Delivery, broadcast: Broadcast | null): void {
    this.router.deliver(session, delivery, broadcast);
  }

  /**
   * Sends a publish's acknowledgement (`send`) once what the publish just made caused is durable:
   * this node's commit and, in a cluster, the commit of every node it went to (ClusterHooks
   * whenForwarded). Call synchronously right after publish(). `order` keeps one connection's
   * acknowledgements in order; without a cluster wait and with none queued, this is afterCommit.
   * `refuse` runs instead of `send` when a copy for another node was given up: the publisher must
   * not hold an acknowledgement for a message that will not be delivered.
   */
  afterPublished(order: AckOrder, send: () => void, refuse: () => void): void {
    const cluster = this.hooks.cluster;
    let parts = 1;
    let delivered = true;
    let ready: (() => void) | null = null;
    const part = (ok: boolean): void => {
      if (!ok) delivered = false;
      if (--parts === 0) ready!();
    };
    if (cluster !== null && cluster.whenForwarded(part)) parts++;
    if (parts === 1 && order.idle) {
      this.afterCommit(send);
      return;
    }
    ready = order.add(() => (delivered ? send() : refuse()));
    this.afterCommit(() => part(true));
  }

  subscribe(session: Session, key: string, options: SubscribeOptions, record = true): { subscription: Subscription; existed: boolean } {
    return this.router.subscribe(session, key, options, record);
  }

  unsubscribe(session: Session, key: string): boolean {
    return this.router.unsubscribe(session, key);
  }

  retainedFor(filter: string): Message[] {
    return this.router.retainedFor(filter);
  }

  get subscriptionCount(): number {
    return this.router.subscriptionCount;
  }

  // ---- sessions (session-manager.ts) ----------------------------------------------------------

  openSession(clientId: string, version: 3 | 4 | 5, cleanStart: boolean, expirySeconds: number): { session: Session; present: boolean } {
    return this.sessionManager.open(clientId, version, cleanStart, expirySeconds);
  }

  detachSession(session: Session, will: Will | null): void {
    this.sessionManager.detach(session, will);
  }

  restoreSessions(stored: StoredSession[], now: number): number {
    return this.sessionManager.restore(stored, now);
  }

  endSession(session: Session): void {
    this.sessionManager.end(session);
  }

  releaseSession(session: Session): void {
    this.sessionManager.release(session);
  }

  holdForMove(session: Session): void {
    this.sessionManager.holdForMove(session);
  }

  publishWill(will: Will): void {
    this.sessionManager.publishWill(will);
  }

  /** SessionManager.scheduleWill: a lost connection's will, now or after its delay. */
  scheduleWill(will: Will, session: Session | undefined): void {
    this.sessionManager.scheduleWill(will, session);
  }
}
