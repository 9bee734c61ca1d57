// Every live connection, for the connection limit, keep-alive and CONNECT timeouts. One sweep timer
// for all connections instead of a timer each: with 10,000 idle WebSockets, 10,000 timers re-armed
// on every packet would cost more than the sweep.
import { RC } from '../protocol/reason-codes.js';
import { systemClock, type Clock, type Timer } from '../shared/clock.js';
import type { Client } from './client.js';
import { KeyedRateLimiter, TokenBucket } from '../shared/rate-limit.js';

const SWEEP_MS = 250;

export class ClientRegistry {
  private readonly clients = new Set<Client>();
  private timer: Timer | null = null;
  private readonly connectTimeoutMs: number;
  private readonly clock: Clock;

  constructor(connectTimeoutMs: number, clock: Clock = systemClock) {
    this.connectTimeoutMs = connectTimeoutMs;
    this.clock = clock;
  }

  add(client: Client): void {
    this.clients.add(client);
    if (this.timer === null) {
      this.timer = this.clock.setInterval(() => this.sweep(), SWEEP_MS);
    }
  }

  remove(client: Client): void {
    this.clients.delete(client);
  }

  get size(): number {
    return this.clients.size;
  }

  /** Clients past CONNACK; kept by Client as it enters and leaves the connected state. */
  connected = 0;

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

  all(): IterableIterator<Client> {
    return this.clients.values();
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const client of this.clients) {
      if (client.state === 'awaiting-connect') {
        // A network connection without CONNECT within a reasonable time is closed [MQTT-3.1.4 note].
        if (now - client.acceptedAt > this.connectTimeoutMs) {
          client.finish('connect-timeout', true);
        }
      } else if (client.state === 'connecting') {
        // Authorizers have their own timeouts (at most 60 s); this only catches the impossible.
        if (now - client.acceptedAt > this.connectTimeoutMs + 65_000) client.finish('connect-timeout', true);
      } else if (client.state === 'connected' && client.keepAliveMs > 0) {
        if (now - client.lastActivity > client.keepAliveMs * 1.5) {
          client.disconnect(RC.keepAliveTimeout, 'keep alive timeout', 'keep-alive-timeout');
        }
      }
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
