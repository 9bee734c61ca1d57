// Kept history for the console's Monitor: one sample per second of the counters' increments and
// the connected gauge, kept at three resolutions (1 s for 15 min, 10 s for 1 h, 60 s for 24 h)
// in fixed-size rings, so memory is constant whatever the uptime. Also the totals in the units
// AWS bills (connection-minutes, messages).
import type { Counters } from './counters.js';

export interface Point {
  t: number;
  connected: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  qos0Dropped: number;
  connects: number;
  connectFailures: number;
  failuresByReason: Record<string, number>;
  authorizerInvocations: number;
  denials: { connect: number; publish: number; subscribe: number; receive: number };
  ruleExecutions: number;
  ruleFailures: number;
}

interface Snapshot {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  qos0Dropped: number;
  connects: number;
  connectFailures: number;
  failures: Map<string, number>;
  authorizerInvocations: number;
  connect: number;
  publish: number;
  subscribe: number;
  receive: number;
  ruleExecutions: number;
  ruleFailures: number;
}

class Ring {
  private readonly items: (Point | undefined)[];
  private next = 0;
  constructor(readonly capacity: number, readonly stepSeconds: number) {
    this.items = new Array(capacity);
  }
  push(p: Point): void {
    this.items[this.next] = p;
    this.next = (this.next + 1) % this.capacity;
  }
  list(): Point[] {
    const out: Point[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const p = this.items[(this.next + i) % this.capacity];
      if (p !== undefined) out.push(p);
    }
    return out;
  }
}

export type Range = '15m' | '1h' | '24h';

function emptyPoint(t: number): Point {
  return {
    t,
    connected: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    qos0Dropped: 0,
    connects: 0,
    connectFailures: 0,
    failuresByReason: {},
    authorizerInvocations: 0,
    denials: { connect: 0, publish: 0, subscribe: 0, receive: 0 },
    ruleExecutions: 0,
    ruleFailures: 0,
  };
}

/** Adds b into a (counts summed, the connected gauge kept at its maximum). */
function accumulate(a: Point, b: Point): void {
  a.connected = Math.max(a.connected, b.connected);
  a.messagesIn += b.messagesIn;
  a.messagesOut += b.messagesOut;
  a.bytesIn += b.bytesIn;
  a.bytesOut += b.bytesOut;
  a.qos0Dropped += b.qos0Dropped;
  a.connects += b.connects;
  a.connectFailures += b.connectFailures;
  for (const [k, v] of Object.entries(b.failuresByReason)) a.failuresByReason[k] = (a.failuresByReason[k] ?? 0) + v;
  a.authorizerInvocations += b.authorizerInvocations;
  a.denials.connect += b.denials.connect;
  a.denials.publish += b.denials.publish;
  a.denials.subscribe += b.denials.subscribe;
  a.denials.receive += b.denials.receive;
  a.ruleExecutions += b.ruleExecutions;
  a.ruleFailures += b.ruleFailures;
}

export class MetricsHistory {
  private readonly rings: Record<Range, Ring> = { '15m': new Ring(900, 1), '1h': new Ring(360, 10), '24h': new Ring(1440, 60) };
  private last: Snapshot;
  private pending10: Point | null = null;
  private pending60: Point | null = null;
  private ticks = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Sum over time of connected clients, in client-seconds. */
  private connectedSeconds = 0;

  constructor(
    private readonly counters: Counters,
    private readonly connected: () => number,
  ) {
    this.last = this.snapshot();
  }

  start(): void {
    this.timer = setInterval(() => this.sample(Date.now()), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private snapshot(): Snapshot {
    const c = this.counters;
    let failures = 0;
    for (const v of c.connectFailures.values()) failures += v;
    return {
      messagesIn: c.messagesReceived,
      messagesOut: c.messagesDelivered,
      bytesIn: c.bytesReceived,
      bytesOut: c.bytesSent,
      qos0Dropped: c.qos0Dropped,
      connects: c.connectionsAccepted,
      connectFailures: failures,
      failures: new Map(c.connectFailures),
      authorizerInvocations: c.authorizerInvocations,
      connect: c.deniedConnect,
      publish: c.deniedPublish,
      subscribe: c.deniedSubscribe,
      receive: c.deniedReceive,
      ruleExecutions: c.ruleExecutions,
      ruleFailures: c.ruleFailures,
    };
  }

  /** One sample: the increments since the previous one. Public for tests. */
  sample(now: number): void {
    const s = this.snapshot();
    const l = this.last;
    const failuresByReason: Record<string, number> = {};
    for (const [k, v] of s.failures) {
      const d = v - (l.failures.get(k) ?? 0);
      if (d > 0) failuresByReason[k] = d;
    }
    const connected = this.connected();
    this.connectedSeconds += connected;
    const point: Point = {
      t: now,
      connected,
      messagesIn: s.messagesIn - l.messagesIn,
      messagesOut: s.messagesOut - l.messagesOut,
      bytesIn: s.bytesIn - l.bytesIn,
      bytesOut: s.bytesOut - l.bytesOut,
      qos0Dropped: s.qos0Dropped - l.qos0Dropped,
      connects: s.connects - l.connects,
      connectFailures: s.connectFailures - l.connectFailures,
      failuresByReason,
      authorizerInvocations: s.authorizerInvocations - l.authorizerInvocations,
      denials: { connect: s.connect - l.connect, publish: s.publish - l.publish, subscribe: s.subscribe - l.subscribe, receive: s.receive - l.receive },
      ruleExecutions: s.ruleExecutions - l.ruleExecutions,
      ruleFailures: s.ruleFailures - l.ruleFailures,
    };
    this.last = s;
    this.rings['15m'].push(point);
    this.ticks++;
    accumulate((this.pending10 ??= emptyPoint(now)), point);
    accumulate((this.pending60 ??= emptyPoint(now)), point);
    if (this.ticks % 10 === 0) {
      this.pending10!.t = now;
      this.rings['1h'].push(this.pending10!);
      this.pending10 = null;
    }
    if (this.ticks % 60 === 0) {
      this.pending60!.t = now;
      this.rings['24h'].push(this.pending60!);
      this.pending60 = null;
    }
  }

  history(range: Range): { range: Range; stepSeconds: number; points: Point[] } {
    const ring = this.rings[range];
    return { range, stepSeconds: ring.stepSeconds, points: ring.list() };
  }

  /** Connection-minutes since start (AWS bills connectivity per minute of connection). */
  get connectionMinutes(): number {
    return this.connectedSeconds / 60;
  }
}

export function isRange(value: unknown): value is Range {
  return value === '15m' || value === '1h' || value === '24h';
}
