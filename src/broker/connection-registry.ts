// Every live connection of every front-end (MQTT, JSON over WebSocket, Server-Sent Events): one
// count for the connection limit, one listing for the admin API and the console, one sweep timer
// for the time-driven checks each connection makes (CONNECT and keep-alive timeouts, pings). One
// timer for all instead of a timer each: with 10,000 idle WebSockets, 10,000 timers re-armed on
// every packet would cost more than the sweep.
import { systemClock, type Clock, type Timer } from '../shared/clock.js';
import { KeyedRateLimiter, TokenBucket } from '../shared/rate-limit.js';
import type { ClientConnection } from './client-connection.js';

const SWEEP_MS = 250;

/** What the registry asks of a connection beyond ClientConnection. */
export interface RegisteredConnection extends ClientConnection {
  /** The front-end's protocol, as in details().protocol ('mqtt', 'json', 'sse'); fixed for its life. */
  readonly protocol: string;
  /** The periodic check (timeouts, keep-alive pings); `connectTimeoutMs` is the configured limit. */
  sweep(now: number, connectTimeoutMs: number): void;
  /** The server stops: say so where the protocol can, publish the will, close. */
  shutdown(): void;
}

export class ConnectionRegistry<C extends RegisteredConnection = RegisteredConnection> {
  private readonly clients = new Set<C>();
  private timer: Timer | null = null;
  private readonly connectTimeoutMs: number;
  private readonly clock: Clock;

  constructor(connectTimeoutMs: number, clock: Clock = systemClock) {
    this.connectTimeoutMs = connectTimeoutMs;
    this.clock = clock;
  }

  add(client: C): void {
    this.clients.add(client);
    if (this.timer === null) {
      this.timer = this.clock.setInterval(() => this.sweep(), SWEEP_MS);
    }
  }

  remove(client: C): void {
    this.clients.delete(client);
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Connections past their connect step, every protocol together (the connection limit counts
   * them all); each front-end increments it as a connection is accepted and decrements it once.
   */
  connected = 0;

  /** Connected connections by protocol (read at scrape time: one pass over the set). */
  connectedByProtocol(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.clients) if (c.connected) out.set(c.protocol, (out.get(c.protocol) ?? 0) + 1);
    return out;
  }

  private connectLimiter: KeyedRateLimiter | null = null;
  private subscribeBucket: TokenBucket | null = null;

  /**
   * limits.maxConnectsPerClientIdPerSecond (0 = off): false when this client ID has used its
   * CONNECTs for now. AWS IoT: "1 MQTT CONNECT operation per second" per client ID. A refused
   * CONNECT does not count.
   */
  allowConnect(clientId: string, rate: number): boolean {
    if (rate <= 0) return true;
    const limiter = (this.connectLimiter ??= new KeyedRateLimiter(rate, this.clock));
    limiter.setRate(rate);
    return limiter.take(clientId);
  }

  /**
   * limits.maxSubscriptionsPerSecond (0 = off), for the whole node as AWS IoT counts it for the
   * whole account ("Subscriptions per second per account", counted per topic filter).
   */
  allowSubscription(rate: number): boolean {
    if (rate <= 0) return true;
    const bucket = (this.subscribeBucket ??= new TokenBucket(rate, this.clock));
    bucket.setRate(rate);
    return bucket.take(1);
  }

  all(): IterableIterator<C> {
    return this.clients.values();
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const client of this.clients) client.sweep(now, this.connectTimeoutMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
