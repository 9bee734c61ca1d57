// The session manager: every session's life, from the CONNECT that opens it to its end. It opens
// (or resumes) a session, keeps it when its connection goes (per its expiry), ends it when that
// expiry passes, publishes wills (at once or after their delay), and lets a session go to another
// node (holdForMove, release). Time comes from the injected Clock. Routing is router.ts's job.
import type { Logger } from 'pino';
import type { Limits } from '../config/schema.js';
import type { Clock } from '../shared/clock.js';
import type { SessionStore, StoredSession } from '../store/session-store.js';
import type { BrokerHooks } from './hooks.js';
import type { Router } from './router.js';
import type { Will } from './session.js';
import { Session } from './session.js';

export interface SessionManagerOptions {
  limits: Limits;
  logger: Logger;
  router: Router;
  hooks: BrokerHooks;
  clock: Clock;
  /** Where persistent sessions are recorded; null keeps them in memory only. */
  sessionStore: SessionStore | null;
}

export class SessionManager {
  /** Every session on this node, connected or not, by client ID. */
  readonly sessions = new Map<string, Session>();
  private readonly limits: Limits;
  private readonly logger: Logger;
  private readonly router: Router;
  private readonly hooks: BrokerHooks;
  private readonly clock: Clock;
  private readonly store: SessionStore | null;

  private readonly presenceChanged = (session: Session) => this.router.presenceChanged(session);

  constructor(options: SessionManagerOptions) {
    this.limits = options.limits;
    this.logger = options.logger;
    this.router = options.router;
    this.hooks = options.hooks;
    this.clock = options.clock;
    this.store = options.sessionStore;
  }

  /**
   * Finds or creates the session for a connecting client. With clean start an existing session
   * is ended first [MQTT-3.1.2-4]. Returns whether a session was present.
   */
  open(clientId: string, version: 3 | 4 | 5, cleanStart: boolean, expirySeconds: number): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId);
    if (session !== undefined && cleanStart) {
      this.end(session);
      session = undefined;
    }
    const present = session !== undefined;
    if (session === undefined) {
      session = this.create(clientId, version, expirySeconds);
    } else {
      // A new connection to the session before the will delay passes cancels the will [MQTT-3.1.3-9].
      this.stopTimers(session);
      session.protocolVersion = version;
      session.expirySeconds = expirySeconds;
    }
    session.syncStored(null);
    return { session, present };
  }

  private create(clientId: string, version: 3 | 4 | 5, expirySeconds: number): Session {
    const session = new Session(clientId, version, expirySeconds, this.limits.maxQueuedMessagesPerSession, this.store);
    session.onPresence = this.presenceChanged;
    this.sessions.set(clientId, session);
    this.hooks.cluster?.sessionOpened(clientId);
    return session;
  }

  /** Called when a session's connection has gone; keeps or ends the session per its expiry. */
  detach(session: Session, will: Will | null): void {
    session.client = null;
    if (!session.persistent) {
      this.end(session);
      if (will !== null) this.publishWill(will);
      return;
    }
    session.syncStored(this.clock.now());
    if (will !== null) this.scheduleWill(will, session);
    this.armExpiry(session, session.expirySeconds * 1000);
  }

  /**
   * Publishes the will of a connection that was lost: now, or — when the will has a delay and its
   * session lives on offline — at the earlier of the delay and the session's end [MQTT-3.1.3-9]
   * (end() sends it early; a reconnect through open() cancels it). The cluster calls this for
   * the connections of a dead node, after restoring their sessions.
   */
  scheduleWill(will: Will, session: Session | undefined): void {
    if (will.delaySeconds > 0 && session !== undefined && session.client === null) {
      const delayMs = Math.min(will.delaySeconds, session.expirySeconds) * 1000;
      session.pendingWill = {
        will,
        timer: this.clock.setTimeout(() => {
          session.pendingWill = null;
          this.publishWill(will);
        }, delayMs),
      };
      return;
    }
    this.publishWill(will);
  }

  /** Ends an offline session `ms` from now, unless a connection returns first. */
  private armExpiry(session: Session, ms: number): void {
    const expire = () => {
      session.expiryTimer = null;
      if (session.client === null && this.sessions.get(session.clientId) === session) {
        this.logger.info({ clientId: session.clientId }, 'session expired');
        this.end(session);
      }
    };
    // Already past its expiry (restored from the store): ended now, before anyone can resume it.
    if (ms <= 0) expire();
    else session.expiryTimer = this.clock.setTimeout(expire, ms);
  }

  /**
   * Rebuilds persistent sessions read from the store (at start-up, or adopted from another node):
   * subscriptions back in the index, queued and in-flight messages ready for the client's return,
   * expiry timers armed for what is left of each session's interval.
   */
  restore(stored: StoredSession[], now: number): number {
    let restored = 0;
    for (const s of stored) {
      if (this.sessions.has(s.clientId)) continue;
      const session = this.create(s.clientId, s.protocolVersion, s.expirySeconds);
      session.restore(s, (sub) => {
        this.router.subscribe(session, sub.key, sub, false);
      });
      const since = s.disconnectedAt ?? now;
      if (s.disconnectedAt === null) session.syncStored(now);
      this.armExpiry(session, Math.max(0, since + s.expirySeconds * 1000 - now));
      restored++;
    }
    return restored;
  }

  /** Removes a session and its subscriptions; a will still waiting for its delay is sent now. */
  end(session: Session): void {
    if (this.sessions.get(session.clientId) === session) {
      this.sessions.delete(session.clientId);
      this.hooks.cluster?.sessionEnded(session.clientId);
    }
    session.dropStored();
    this.router.removeAll(session);
    session.inflight.clear();
    session.queue.clear();
    session.inboundQos2.clear();
    const will = this.stopTimers(session);
    if (will !== null) this.publishWill(will);
  }

  /**
   * Lets go of a persistent session another node takes over: out of memory and the index, its
   * timers stopped (the other node's new connection cancels a pending will [MQTT-3.1.3-9]), but
   * kept in the store for the other node to load. The caller has closed its connection.
   */
  release(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.router.removeAll(session);
    this.stopTimers(session);
  }

  /**
   * First half of handing a persistent session to another node: its timers stop and it no longer
   * changes here (deliveries are diverted to the other node, see ClusterHooks.divert), but its
   * subscriptions stay in the index, so messages published meanwhile still reach it. The second
   * half is release, once the other node routes them itself.
   */
  holdForMove(session: Session): void {
    this.stopTimers(session);
  }

  /** Publishes a will now; its Message Expiry Interval counts from this moment. */
  publishWill(will: Will): void {
    const now = this.clock.now();
    const message = { ...will.message, receivedAt: now, expiresAt: will.expirySeconds > 0 ? now + will.expirySeconds * 1000 : 0 };
    this.router.publish(message, 'will');
  }

  /** Stops a session's expiry and will-delay timers; returns the will that was waiting, if any. */
  private stopTimers(session: Session): Will | null {
    session.expiryTimer?.cancel();
    session.expiryTimer = null;
    const pending = session.pendingWill;
    if (pending === null) return null;
    pending.timer.cancel();
    session.pendingWill = null;
    return pending.will;
  }
}
