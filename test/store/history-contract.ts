// The contract every HistoryStore passes (memory, SQLite, Redis): ids and order, bounds
// (maxMessages, maxAge, the global caps), reset detection, filters and iot:Receive, and for
// durable backends the same after a reopen (restart). Time is the harness's number, never a sleep.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryCursor } from '../../src/shared/history-id.js';
import type { Message } from '../../src/shared/message.js';
import type { HistoryCaps, HistoryKeep, HistoryStore } from '../../src/store/history-store.js';

export interface HistoryHarness {
  /** A fresh, empty history with these caps. */
  open(caps: HistoryCaps): HistoryStore | Promise<HistoryStore>;
  /** Durable backends: close what open() gave (committing) and open the same data again. */
  reopen?(caps: HistoryCaps): HistoryStore | Promise<HistoryStore>;
  /** Wait until what was appended is readable (Redis: the pipeline has been answered). */
  settle?(): Promise<void>;
  cleanup(): void | Promise<void>;
  /** A new origin for every run (Redis: each node run stamps with its own); else the origin survives. */
  originPerRun?: boolean;
}

const CAPS: HistoryCaps = { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024 };
const KEEP: HistoryKeep = { maxMessages: 100, maxAgeMs: 0 };
const T0 = 1_700_000_000_000;

/** Stamps and appends one message, as the recorder does. */
function put(store: HistoryStore, topic: string, payload: string, now = T0, keep = KEEP, extra: Partial<Message> = {}): Message {
  const message: Message = {
    topic,
    payload: Buffer.from(payload),
    qos: 0,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    publisherId: undefined,
    receivedAt: now,
    historyId: { origin: store.origin, seq: store.nextSeq() },
    ...extra,
  };
  store.append(message, keep, now);
  return message;
}

const texts = (page: { entries: { message: Message }[] }) => page.entries.map((e) => e.message.payload.toString());

export function runHistorySuite(name: string, harness: HistoryHarness): void {
  const settle = async () => harness.settle?.();

  describe(`history contract: ${name}`, () => {
    test('ids are distinct and ordered per origin, also for one millisecond on several topics', async () => {
      const store = await harness.open(CAPS);
      try {
        const a = put(store, 'a/1', 'x');
        const b = put(store, 'b/1', 'y');
        const c = put(store, 'a/1', 'z');
        assert.equal(a.historyId!.origin, store.origin);
        assert.ok(a.historyId!.seq < b.historyId!.seq && b.historyId!.seq < c.historyId!.seq);
        await settle();
        const page = await store.read({ filters: ['#'], after: null, limit: 10, now: T0 });
        assert.deepEqual(texts(page), ['x', 'y', 'z']);
        assert.deepEqual(page.entries.map((e) => e.id), [a.historyId, b.historyId, c.historyId]);
        assert.equal(page.reset, false);
      } finally {
        await harness.cleanup();
      }
    });

    test('a cursor gets exactly what came after it on every matching topic', async () => {
      const store = await harness.open(CAPS);
      try {
        put(store, 'a/1', '1');
        const seen = put(store, 'b/1', '2');
        put(store, 'a/1', '3');
        put(store, 'c/1', 'other');
        put(store, 'b/1', '4');
        await settle();
        const after = HistoryCursor.of([seen.historyId!]);
        const page = await store.read({ filters: ['a/+', 'b/#', 'a/1'], after, limit: 10, now: T0 });
        assert.deepEqual(texts(page), ['3', '4']);
        assert.equal(page.reset, false);
        assert.equal(page.truncated, false);
      } finally {
        await harness.cleanup();
      }
    });

    test('iot:Receive is applied per topic; $ topics need their own filter', async () => {
      const store = await harness.open(CAPS);
      try {
        put(store, 'a/1', 'yes');
        put(store, 'a/secret', 'no');
        put(store, '$aws/events/x', 'dollar');
        await settle();
        const page = await store.read({ filters: ['#'], after: null, limit: 10, now: T0, canReceive: (t) => t !== 'a/secret' });
        assert.deepEqual(texts(page), ['yes']);
        const dollar = await store.read({ filters: ['$aws/#'], after: null, limit: 10, now: T0 });
        assert.deepEqual(texts(dollar), ['dollar']);
      } finally {
        await harness.cleanup();
      }
    });

    test('maxMessages per topic: the oldest go, and a cursor before them is a reset', async () => {
      const store = await harness.open(CAPS);
      try {
        const keep = { maxMessages: 3, maxAgeMs: 0 };
        const first = put(store, 't', '1', T0, keep);
        for (let i = 2; i <= 5; i++) put(store, 't', String(i), T0, keep);
        put(store, 'u', 'u1', T0, keep);
        await settle();
        const all = await store.read({ filters: ['t'], after: null, limit: 10, now: T0 });
        assert.deepEqual(texts(all), ['3', '4', '5']);
        assert.equal(all.reset, false, 'no cursor, no reset');
        const stale = await store.read({ filters: ['t'], after: HistoryCursor.of([first.historyId!]), limit: 10, now: T0 });
        assert.equal(stale.reset, true, 'message 2 is gone');
        assert.deepEqual(texts(stale), ['3', '4', '5']);
        // A reader of another topic lost nothing.
        const other = await store.read({ filters: ['u'], after: HistoryCursor.of([first.historyId!]), limit: 10, now: T0 });
        assert.equal(other.reset, false);
        assert.deepEqual(texts(other), ['u1']);
      } finally {
        await harness.cleanup();
      }
    });

    test('maxAge: old messages are not returned and count as a reset for a cursor before them', async () => {
      const store = await harness.open(CAPS);
      try {
        const keep = { maxMessages: 100, maxAgeMs: 10_000 };
        const old = put(store, 't', 'old', T0, keep);
        put(store, 't', 'older-but-kept', T0 + 5_000, keep);
        await settle();
        const now = T0 + 12_000;
        const page = await store.read({ filters: ['t'], after: new HistoryCursor(), limit: 10, now });
        assert.deepEqual(texts(page), ['older-but-kept']);
        assert.equal(page.reset, true);
        store.sweep(T0 + 20_000);
        await settle();
        const later = await store.read({ filters: ['t'], after: HistoryCursor.of([old.historyId!]), limit: 10, now: T0 + 20_000 });
        assert.deepEqual(texts(later), []);
        assert.equal(later.reset, true);
      } finally {
        await harness.cleanup();
      }
    });

    test('message expiry: an expired message is not replayed', async () => {
      const store = await harness.open(CAPS);
      try {
        put(store, 't', 'expires', T0, KEEP, { expiresAt: T0 + 1000 });
        put(store, 't', 'stays', T0, KEEP);
        await settle();
        const page = await store.read({ filters: ['t'], after: null, limit: 10, now: T0 + 2000 });
        assert.deepEqual(texts(page), ['stays']);
      } finally {
        await harness.cleanup();
      }
    });

    test('limit: the newest are returned and the answer says it is truncated', async () => {
      const store = await harness.open(CAPS);
      try {
        for (let i = 1; i <= 5; i++) put(store, 't', String(i));
        await settle();
        const page = await store.read({ filters: ['t'], after: new HistoryCursor(), limit: 2, now: T0 });
        assert.deepEqual(texts(page), ['4', '5']);
        assert.equal(page.truncated, true);
      } finally {
        await harness.cleanup();
      }
    });

    test('global caps: messages over all topics, oldest first; the bound holds', async () => {
      const store = await harness.open({ maxMessages: 4, maxBytes: 64 * 1024 * 1024 });
      try {
        const first = put(store, 'a', 'a1');
        put(store, 'b', 'b1');
        put(store, 'a', 'a2');
        put(store, 'c', 'c1');
        put(store, 'b', 'b2');
        put(store, 'c', 'c2');
        await settle();
        const page = await store.read({ filters: ['#'], after: null, limit: 100, now: T0 });
        assert.deepEqual(texts(page), ['a2', 'c1', 'b2', 'c2']);
        assert.ok(store.stats.messages <= 4);
        const reset = await store.read({ filters: ['a'], after: HistoryCursor.of([first.historyId!]), limit: 100, now: T0 });
        assert.equal(reset.reset, false, 'a1 was had; a2 is still kept');
        const lostB = await store.read({ filters: ['b'], after: HistoryCursor.of([first.historyId!]), limit: 100, now: T0 });
        assert.equal(lostB.reset, true, 'b1 was evicted after the cursor');
      } finally {
        await harness.cleanup();
      }
    });

    test('global caps: bytes', async () => {
      const store = await harness.open({ maxMessages: 1000, maxBytes: 3 * (1000 + 64 + 1) });
      try {
        for (let i = 0; i < 10; i++) put(store, 'x', String(i).repeat(1000));
        await settle();
        const page = await store.read({ filters: ['x'], after: null, limit: 100, now: T0 });
        assert.equal(page.entries.length, 3);
        assert.ok(store.stats.bytes <= 3 * (1000 + 64 + 1));
      } finally {
        await harness.cleanup();
      }
    });

    test('a cursor naming an origin this history never had is a reset', async () => {
      const store = await harness.open(CAPS);
      try {
        put(store, 't', '1');
        await settle();
        const page = await store.read({ filters: ['t'], after: HistoryCursor.parse('zzzzzzzz-5')!, limit: 10, now: T0 });
        assert.equal(page.reset, true);
        assert.deepEqual(texts(page), ['1']);
      } finally {
        await harness.cleanup();
      }
    });

    test('configure: topics no rule covers any more are dropped', async () => {
      const store = await harness.open(CAPS);
      try {
        put(store, 'keep/1', 'k');
        put(store, 'drop/1', 'd');
        await settle();
        store.configure((topic) => (topic.startsWith('keep/') ? KEEP : null), T0);
        await settle();
        const page = await store.read({ filters: ['#'], after: null, limit: 10, now: T0 });
        assert.deepEqual(texts(page), ['k']);
      } finally {
        await harness.cleanup();
      }
    });

    test('head: where a new reader starts', async () => {
      const store = await harness.open(CAPS);
      try {
        const m = put(store, 't', '1');
        await settle();
        const head = await store.head();
        assert.equal(head.seqOf(store.origin), m.historyId!.seq);
      } finally {
        await harness.cleanup();
      }
    });

    test('restart: what was kept, its ids, marks, and the sequence survive', { skip: harness.reopen === undefined ? 'the backend keeps nothing across a restart' : false }, async () => {
      const store = await harness.open(CAPS);
      try {
        const keep = { maxMessages: 1, maxAgeMs: 0 };
        const first = put(store, 't', '1', T0, keep);
        const second = put(store, 't', '2', T0, keep);
        put(store, 't', '3', T0, keep);
        put(store, 'u', 'with props', T0, keep, { properties: { contentType: 'text/plain', userProperties: { a: 'b' } }, qos: 1 });
        await settle();
        const again = await harness.reopen!(CAPS);
        if (harness.originPerRun) assert.notEqual(again.origin, store.origin);
        else assert.equal(again.origin, store.origin);
        const page = await again.read({ filters: ['#'], after: HistoryCursor.of([second.historyId!]), limit: 10, now: T0 });
        assert.deepEqual(texts(page), ['3', 'with props']);
        assert.equal(page.reset, false);
        const u = page.entries[1]!.message;
        assert.deepEqual(u.properties, { contentType: 'text/plain', userProperties: { a: 'b' } });
        assert.equal(u.qos, 1);
        assert.deepEqual(u.historyId, page.entries[1]!.id);
        const stale = await again.read({ filters: ['t'], after: HistoryCursor.of([first.historyId!]), limit: 10, now: T0 });
        assert.equal(stale.reset, true, 'message 2 was trimmed before the restart');
        const next = put(again, 't', '4', T0, keep);
        if (!harness.originPerRun) assert.ok(next.historyId!.seq > page.entries[1]!.id.seq, 'the sequence continues above what was handed out');
        await settle();
        const resumed = await again.read({ filters: ['#'], after: HistoryCursor.of(page.entries.map((e) => e.id)), limit: 10, now: T0 });
        assert.deepEqual(texts(resumed), ['4']);
        assert.equal(resumed.reset, false, 'the cursor from before the restart is still understood');
      } finally {
        await harness.cleanup();
      }
    });
  });
}
