// Every live connection, for the connection limit, keep-alive and CONNECT timeouts. One sweep timer
// for all connections instead of a timer each: with 10,000 idle WebSockets, 10,000 timers re-armed
// on every packet would cost more than the sweep.
import { RC } from '../protocol/reason-codes.js';
import { systemClock, type Clock, type Timer } from '../shared/clock.js';
import type { Client } from './client.js';

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
