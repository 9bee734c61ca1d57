// What the cluster's loss tests share: a checker recording every acknowledged QoS 1 publish and
// every delivery by subscriber, a publisher streaming QoS 1 with a bounded window, persistent
// subscribers and their collection after a fault. A message acknowledged to its publisher must
// reach every matching persistent subscription (duplicates are allowed: QoS 1 is at least once,
// and counted for the notes). Every wait is bounded.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { connectClient, type Inbox, waitUntil } from './clients.js';
import type { TestServer } from './server.js';

/** Every acknowledged publish and every delivery, by subscriber. */
export class Checker {
  readonly acked = new Set<string>();
  readonly delivered = new Map<string, Set<string>>();
  /** Deliveries of a message the subscriber already had. */
  duplicates = 0;
  /** Of those, the ones without the DUP flag (a second delivery, not a resend [MQTT-4.3.3]). */
  freshDuplicates = 0;

  received(subscriber: string, text: string, dup = false): void {
    let set = this.delivered.get(subscriber);
    if (set === undefined) this.delivered.set(subscriber, (set = new Set()));
    if (set.has(text)) {
      this.duplicates++;
      if (!dup) this.freshDuplicates++;
    } else set.add(text);
  }

  /** Acknowledged messages `subscriber` has not received. */
  missing(subscriber: string): string[] {
    const got = this.delivered.get(subscriber) ?? new Set<string>();
    return [...this.acked].filter((m) => !got.has(m));
  }
}

/** Publishes QoS 1 (or 2) to `topic` as fast as `window` allows until stopped; records each acknowledgement. */
export class Stream {
  sent = 0;
  inflight = 0;
  failed = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly client: MqttClient,
    private readonly topic: string,
    private readonly name: string,
    private readonly checker: Checker,
    private readonly qos: 1 | 2 = 1,
    private readonly window = 40,
    private readonly everyMs = 5,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      while (this.inflight < this.window && this.client.connected) {
        const text = `${this.name}-${this.sent++}`;
        this.inflight++;
        this.client.publish(this.topic, text, { qos: this.qos }, (err) => {
          this.inflight--;
          if (err) this.failed++;
          else this.checker.acked.add(text);
        });
      }
    }, this.everyMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Waits until every publish was answered (or its connection is gone). */
  async drain(timeoutMs: number): Promise<void> {
    this.stop();
    await waitUntil(() => this.inflight === 0 || !this.client.connected, timeoutMs, `${this.name}'s ${this.inflight} unacknowledged publishes`);
  }
}

const SESSION = { clean: false, properties: { sessionExpiryInterval: 3600 } };

/** A persistent session (clean start 0, expiry 3600 s) subscribed to `filter` at QoS 1, left offline. */
export async function offlineSubscriber(node: TestServer, clientId: string, filter: string): Promise<void> {
  const c = await connectClient(node, { clientId, ...SESSION });
  await c.client.subscribeAsync(filter, { qos: 1 });
  await new Promise<void>((res) => c.client.end(false, {}, () => res()));
}

/** Reconnects each subscriber's session on `node` and waits (bounded) until it has every acknowledged message. */
export async function collect(node: TestServer, ids: string[], checker: Checker, timeoutMs: number): Promise<void> {
  const inboxes = new Map<string, Inbox>();
  for (const clientId of ids) {
    const c = await connectClient(node, { clientId, ...SESSION });
    inboxes.set(clientId, c.inbox);
    assert.equal(c.connack.sessionPresent, true, `${clientId}'s session survived`);
  }
  const seen = new Map<string, number>();
  const sync = (): void => {
    for (const [id, inbox] of inboxes) {
      for (let i = seen.get(id) ?? 0; i < inbox.messages.length; i++) checker.received(id, inbox.messages[i]!.text, inbox.messages[i]!.packet.dup);
      seen.set(id, inbox.messages.length);
    }
  };
  await waitUntil(
    () => {
      sync();
      return ids.every((id) => checker.missing(id).length === 0);
    },
    timeoutMs,
    'every acknowledged message at every subscriber',
  ).catch(() => {});
  sync();
}

/** Prints one line for the notes and asserts nothing acknowledged is missing. */
export function report(what: string, seed: number, checker: Checker, ids: string[], streams: Stream[]): void {
  const sent = streams.reduce((n, s) => n + s.sent, 0);
  const missing = ids.map((id) => checker.missing(id).length);
  console.log(`# ${what} seed=${seed}: sent=${sent} acked=${checker.acked.size} missing=${missing.join('/')} duplicates=${checker.duplicates} (without DUP flag: ${checker.freshDuplicates})`);
  for (const id of ids) {
    const m = checker.missing(id);
    assert.equal(m.length, 0, `${id} never got ${m.length} acknowledged message(s), e.g. ${m.slice(0, 5).join(', ')}`);
  }
  assert.ok(checker.acked.size > 0, 'something was acknowledged');
}
