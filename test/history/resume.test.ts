// History in the core, with a real Broker and router on a ManualClock: the recorder stamps exactly
// the covered topics before delivery, and Resumption hands a returning client from history to live
// delivery with nothing lost and nothing twice, says `reset` when history no longer reaches back,
// applies iot:Receive, and starts a new client at the head.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientPermissions } from '../../src/auth/authorization.js';
import type { Broker } from '../../src/broker/broker.js';
import { HistoryRecorder, type HistoryRule } from '../../src/history/recorder.js';
import { parseCursor, Resumption, type ResumedMessage } from '../../src/history/resume.js';
import { ManualClock } from '../../src/shared/clock.js';
import { formatHistoryId, HistoryCursor } from '../../src/shared/history-id.js';
import { MemoryHistoryStore } from '../../src/store/history-memory.js';
import type { HistoryStore } from '../../src/store/history-store.js';
import { allowEverything, FakeConnection } from '../helpers/fake-connection.js';
import { message, subscribeOptions, testBroker } from '../helpers/core.js';
import { prng } from '../helpers/prng.js';
import { topicMatches } from '../../src/protocol/topic.js';

const CAPS = { maxMessages: 10_000, maxBytes: 1 << 26 };

function setup(rules: HistoryRule[], store: HistoryStore = new MemoryHistoryStore(CAPS)) {
  const clock = new ManualClock();
  const recorder = new HistoryRecorder({ store, rules, clock });
  const { broker } = testBroker({ history: recorder, clock });
  return { broker, clock, recorder, store };
}

/** A resumable client the way a JSON/SSE front-end runs one: every live delivery goes through offer(). */
class ResumingClient {
  readonly received: { text: string; id: string }[] = [];
  private seen = 0;
  connection: FakeConnection | null = null;
  resumption: Resumption | null = null;

  constructor(
    private readonly broker: Broker,
    private readonly clientId: string,
    private readonly filters: string[],
    private readonly permissions: ClientPermissions = allowEverything,
  ) {}

  /** Subscribes live (step 2) and returns the Resumption, not started. */
  connect(store: HistoryStore, clock: ManualClock, since: string | null): Resumption {
    const { session } = this.broker.openSession(this.clientId, 5, true, 0);
    this.connection = new FakeConnection(this.clientId, this.permissions).attach(session);
    this.seen = 0;
    this.resumption = new Resumption({ history: store, filters: this.filters, since: since === null ? null : parseCursor(since)!, canReceive: (t) => this.permissions.canReceive(t), clock });
    for (const f of this.filters) this.broker.subscribe(session, f, subscribeOptions);
    return this.resumption;
  }

  /** Takes what the core delivered since last time, through offer(). */
  pump(): void {
    const delivered = this.connection!.delivered;
    for (; this.seen < delivered.length; this.seen++) {
      const m = delivered[this.seen]!.message;
      if (this.resumption!.offer(m) === 'deliver') this.received.push({ text: m.payload.toString(), id: this.resumption!.idText });
    }
  }

  take(messages: ResumedMessage[]): void {
    for (const r of messages) this.received.push({ text: r.message.payload.toString(), id: r.id });
  }

  disconnect(): string {
    const session = this.connection!.session!;
    this.broker.endSession(session);
    this.connection = null;
    return this.received.at(-1)?.id ?? '';
  }

  get texts(): string[] {
    return this.received.map((r) => r.text);
  }
}

const pub = (broker: Broker, topic: string, text: string) => broker.publish(message(topic, { payload: Buffer.from(text) }), 'api');

describe('recorder', () => {
  test('no rules: no recorder at all', () => {
    assert.equal(HistoryRecorder.create({ store: new MemoryHistoryStore(CAPS), rules: [], clock: new ManualClock() }), null);
  });

  test('only covered topics are stamped; the id is on every live delivery and on the retained copy', () => {
    const { broker } = setup([{ filter: 'kept/#', maxMessages: 10, maxAgeSeconds: 0 }]);
    const { session } = broker.openSession('s', 5, true, 0);
    const c = new FakeConnection('s').attach(session);
    broker.subscribe(session, '#', subscribeOptions);
    broker.publish(message('kept/a', { retain: true }), 'api');
    broker.publish(message('other'), 'api');
    broker.publish(message('kept/b'), 'api');
    const ids = c.delivered.map((d) => d.message.historyId);
    assert.equal(ids[1], undefined);
    assert.ok(ids[0] !== undefined && ids[2] !== undefined && ids[0].seq < ids[2].seq);
    assert.deepEqual(broker.retained.get('kept/a')?.historyId, ids[0]);
  });

  test('overlapping rules: the most generous bound wins (0 = no age limit)', () => {
    const r = new HistoryRecorder({
      store: new MemoryHistoryStore(CAPS),
      rules: [
        { filter: 'a/#', maxMessages: 5, maxAgeSeconds: 60 },
        { filter: 'a/+', maxMessages: 2, maxAgeSeconds: 0 },
      ],
      clock: new ManualClock(),
    });
    assert.deepEqual(r.keepFor('a/b'), { maxMessages: 5, maxAgeMs: 0 });
    assert.deepEqual(r.keepFor('a/b/c'), { maxMessages: 5, maxAgeMs: 60_000 });
    assert.equal(r.keepFor('b'), null);
  });

  test('maxAge on a ManualClock: the sweep drops old messages from topics nobody writes to', () => {
    const { broker, clock, recorder, store } = setup([{ filter: 't/#', maxMessages: 10, maxAgeSeconds: 60 }]);
    recorder.start();
    pub(broker, 't/1', 'old');
    clock.advance(30_000);
    pub(broker, 't/2', 'newer');
    assert.equal(store.stats.messages, 2);
    clock.advance(31_000); // t = 61 s: the sweep at 60 s dropped 'old' (0 s), kept 'newer' (30 s)
    assert.equal(store.stats.messages, 1);
    clock.advance(60_000); // t = 121 s: the sweep at 120 s dropped 'newer'
    assert.equal(store.stats.messages, 0);
    recorder.stop();
  });
});

describe('resume', () => {
  test('a wildcard client comes back with one id and gets what it missed on every topic, then live, nothing twice', async () => {
    const { broker, clock, store } = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    const client = new ResumingClient(broker, 'c', ['a/+', 'b/#']);
    await client.connect(store, clock, null).start();
    pub(broker, 'a/1', '1');
    pub(broker, 'b/x/y', '2');
    client.pump();
    const last = client.disconnect();
    assert.equal(last, formatHistoryId({ origin: store.origin, seq: 2 }));
    // Missed: two topics, same millisecond, plus one it does not match.
    pub(broker, 'b/z', '3');
    pub(broker, 'a/2', '4');
    pub(broker, 'c/1', 'not mine');
    const r = client.connect(store, clock, last);
    // Published between the live subscription and the history read: held, not lost, not twice.
    pub(broker, 'a/3', '5');
    client.pump();
    assert.deepEqual(client.texts, ['1', '2'], 'held while replaying');
    const start = await r.start();
    assert.equal(start.reset, false);
    client.take(start.messages);
    pub(broker, 'a/4', '6');
    client.pump();
    assert.deepEqual(client.texts, ['1', '2', '3', '4', '5', '6']);
    // Every id is the cursor after its message; on one node that is the message's own id.
    assert.deepEqual(client.received.map((r) => r.id), [1, 2, 3, 4, 6, 7].map((seq) => `${store.origin}-${seq}`));
  });

  test('random publishes, disconnects and resumes (seeded): every matching message exactly once, in publish order', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = prng(seed);
      const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const { broker, clock, store } = setup([{ filter: '#', maxMessages: 10_000, maxAgeSeconds: 0 }]);
      const filters = ['a/+', 'b/#', 'c/1'];
      const topics = ['a/1', 'a/2', 'b', 'b/x', 'b/x/y', 'c/1', 'c/2', 'd', '$sys/a'];
      const client = new ResumingClient(broker, 'c', filters);
      const expected: string[] = [];
      let n = 0;
      const publish = () => {
        const topic = pick(topics);
        const text = `${topic}#${++n}`;
        pub(broker, topic, text);
        if (filters.some((f) => topicMatches(f, topic))) expected.push(text);
      };
      let connected = false;
      let last: string | null = null;
      for (let step = 0; step < 400; step++) {
        const r = random();
        if (r < 0.7) {
          publish();
          if (connected) client.pump();
        } else if (r < 0.85 && connected) {
          last = client.disconnect() || last;
          connected = false;
        } else if (!connected) {
          // Reconnect: live first, some publishes while history is read, then the handover.
          const resumption = client.connect(store, clock, last);
          for (let k = Math.floor(random() * 3); k > 0; k--) publish();
          client.pump();
          const start = await resumption.start();
          assert.equal(start.reset, false, `seed ${seed}`);
          client.take(start.messages);
          connected = true;
        }
      }
      if (!connected) {
        const start = await client.connect(store, clock, last).start();
        client.take(start.messages);
      }
      client.pump();
      // Before the first connect a client has no cursor: what came before it is not its own.
      const firstSeen = client.texts[0];
      const from = firstSeen === undefined ? expected.length : expected.indexOf(firstSeen);
      assert.deepEqual(client.texts, expected.slice(from), `seed ${seed}`);
    }
  });

  test('history that no longer reaches back is a reset, then what is kept', async () => {
    const { broker, clock, store } = setup([{ filter: 't', maxMessages: 2, maxAgeSeconds: 0 }]);
    const client = new ResumingClient(broker, 'c', ['t']);
    await client.connect(store, clock, null).start();
    pub(broker, 't', '1');
    client.pump();
    const last = client.disconnect();
    for (const t of ['2', '3', '4']) pub(broker, 't', t);
    const start = await client.connect(store, clock, last).start();
    assert.equal(start.reset, true);
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['3', '4']);
  });

  test('no reset when only messages the client had were trimmed', async () => {
    const { broker, clock, store } = setup([{ filter: 't', maxMessages: 2, maxAgeSeconds: 0 }]);
    const client = new ResumingClient(broker, 'c', ['t']);
    await client.connect(store, clock, null).start();
    for (const t of ['1', '2', '3']) pub(broker, 't', t);
    client.pump();
    const last = client.disconnect();
    pub(broker, 't', '4');
    const start = await client.connect(store, clock, last).start();
    assert.equal(start.reset, false);
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['4']);
  });

  test('more missed than the limit is a reset with the newest', async () => {
    const { broker, clock, store } = setup([{ filter: 't', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(broker, 't', '0');
    const since = `${store.origin}-1`;
    for (let i = 1; i <= 5; i++) pub(broker, 't', String(i));
    const r = new Resumption({ history: store, filters: ['t'], since: parseCursor(since), canReceive: () => true, clock, limit: 2 });
    const start = await r.start();
    assert.equal(start.reset, true);
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['4', '5']);
  });

  test('a replay is bounded by bytes too: the newest that fit, and a reset', async () => {
    const { broker, clock, store } = setup([{ filter: 't', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(broker, 't', 'start');
    for (let i = 1; i <= 4; i++) pub(broker, 't', String(i).repeat(1000));
    const r = new Resumption({ history: store, filters: ['t'], since: parseCursor(`${store.origin}-1`), canReceive: () => true, clock, maxBytes: 2500 });
    const start = await r.start();
    assert.equal(start.reset, true);
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()[0]), ['3', '4']);
  });

  test('iot:Receive applies to the replay as to live delivery', async () => {
    const { broker, clock, store } = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(broker, 'start', 's');
    pub(broker, 'a/open', 'ok');
    pub(broker, 'a/secret', 'hidden');
    const deny: ClientPermissions = { ...allowEverything, canReceive: (t) => t !== 'a/secret' };
    const client = new ResumingClient(broker, 'c', ['a/#'], deny);
    const start = await client.connect(store, clock, `${store.origin}-1`).start();
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['ok']);
  });

  test('a new client starts at the head: a later resume does not replay what came before it', async () => {
    const { broker, clock, store } = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(broker, 'a', 'before');
    const client = new ResumingClient(broker, 'c', ['#']);
    const r = client.connect(store, clock, null);
    const start = await r.start();
    assert.deepEqual(start.messages, []);
    assert.equal(r.idText, `${store.origin}-1`);
    client.disconnect();
    pub(broker, 'a', 'after');
    const again = await new Resumption({ history: store, filters: ['#'], since: parseCursor(r.idText), canReceive: () => true, clock }).start();
    assert.deepEqual(again.messages.map((m) => m.message.payload.toString()), ['after']);
  });

  test('a new client given an old retained message on subscribe still starts at the head', async () => {
    const { broker, clock, store } = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    broker.publish(message('r', { retain: true, payload: Buffer.from('retained') }), 'api');
    pub(broker, 'r', 'live but before the client');
    const r = new Resumption({ history: store, filters: ['r'], since: null, canReceive: () => true, clock });
    // The retained copy (id 1) reaches the new subscription while it is held.
    assert.equal(r.offer(broker.retained.get('r')!), 'hold');
    const start = await r.start();
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['retained']);
    assert.equal(r.idText, `${store.origin}-2`);
  });

  test('a held delivery keeps its retain flag when released', async () => {
    const { broker, clock, store } = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    broker.publish(message('r', { retain: true, payload: Buffer.from('retained') }), 'api');
    const r = new Resumption({ history: store, filters: ['r'], since: null, canReceive: () => true, clock });
    assert.equal(r.offer(broker.retained.get('r')!, true), 'hold');
    // A live copy of a retained publish is not a retained delivery ([MQTT-3.3.1-9]).
    assert.equal(r.offer(message('r', { retain: true, payload: Buffer.from('live'), historyId: { origin: store.origin, seq: 2 } })), 'hold');
    const start = await r.start();
    assert.deepEqual(start.messages.map((m) => [m.message.payload.toString(), m.retain === true]), [['retained', true], ['live', false]]);
  });

  test('a cursor from before a memory store restart is a reset', async () => {
    const first = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(first.broker, 'a', 'x');
    const old = `${first.store.origin}-1`;
    const second = setup([{ filter: '#', maxMessages: 100, maxAgeSeconds: 0 }]);
    pub(second.broker, 'a', 'y');
    const start = await new Resumption({ history: second.store, filters: ['#'], since: parseCursor(old), canReceive: () => true, clock: second.clock }).start();
    assert.equal(start.reset, true);
    assert.deepEqual(start.messages.map((m) => m.message.payload.toString()), ['y']);
  });

  test('a live message the cursor already covers (had through another node) is a duplicate', () => {
    const store = new MemoryHistoryStore(CAPS);
    const r = new Resumption({ history: store, filters: ['#'], since: HistoryCursor.parse('abc-5'), canReceive: () => true, clock: new ManualClock() });
    return r.start().then(() => {
      assert.equal(r.offer(message('x', { historyId: { origin: 'abc', seq: 5 } })), 'duplicate');
      assert.equal(r.offer(message('x', { historyId: { origin: 'abc', seq: 6 } })), 'deliver');
      assert.equal(r.offer(message('untracked')), 'deliver');
      assert.equal(r.idText, 'abc-6');
    });
  });

  test('history that cannot be read (Redis unreachable) is a reset, and what arrived live still comes', async () => {
    const failing: HistoryStore = {
      ...new MemoryHistoryStore(CAPS),
      kind: 'redis',
      durable: true,
      origin: 'abc',
      nextSeq: () => 1,
      append: () => {},
      configure: () => {},
      sweep: () => {},
      stats: { messages: 0, bytes: 0, topics: 0 },
      read: () => Promise.reject(new Error('Redis is unreachable')),
      head: () => Promise.reject(new Error('Redis is unreachable')),
    };
    const r = new Resumption({ history: failing, filters: ['#'], since: HistoryCursor.parse('abc-5'), canReceive: () => true, clock: new ManualClock() });
    assert.equal(r.offer(message('x', { historyId: { origin: 'abc', seq: 7 } })), 'hold');
    const start = await r.start();
    assert.equal(start.reset, true);
    assert.match(String(start.error), /unreachable/);
    assert.deepEqual(start.messages.map((m) => m.id), ['abc-7']);
  });

  test('cursor text: ids and multi-origin cursors round-trip; malformed text is refused', () => {
    const c = HistoryCursor.parse('zz-3_aa-10')!;
    assert.equal(c.toString(), 'aa-10_zz-3');
    assert.equal(c.covers({ origin: 'aa', seq: 10 }), true);
    assert.equal(c.covers({ origin: 'aa', seq: 11 }), false);
    assert.equal(c.covers({ origin: 'bb', seq: 1 }), false);
    for (const bad of ['A-1', 'a-01', 'a-1_a-2', 'a', '-1', 'a-', 'a-1_', 'a-1\n', 'a-99999999999999999']) assert.equal(HistoryCursor.parse(bad), null, bad);
  });
});
