// The contract every Store backend passes (memory, sqlite, redis). Each check runs on the live
// store and, for durable backends, again after closing it and opening the same data (`reopen`),
// so "what was written is what is read back" covers the encoding too. Checks that only make sense
// for durable backends are explicit skips elsewhere. Opening, closing and session reads may be
// asynchronous (Redis); a backend whose commits complete over the network says so
// (`asyncCommit`), and the afterCommit checks then wait for the callbacks instead of counting
// event-loop turns.
import { createAccessKey, secretLookup, unsealSecret } from '../../src/store/access-key-store.js';
import { createTemporaryAccessKey } from '../../src/store/temporary-access-key.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, MessageProperties } from '../../src/shared/message.js';
import type { AuthorizerRecord } from '../../src/store/authorizer-store.js';
import type { StoredDelivery, StoredSession, StoredSubscription } from '../../src/store/session-store.js';
import type { Store } from '../../src/store/store.js';

export interface StoreHarness {
  open(): Store | Promise<Store>;
  /** Durable backends: a new handle on the same data. The suite closes the previous one first. */
  reopen?(): Store | Promise<Store>;
  /** Removes what open() created; every handle is closed by then. */
  cleanup(): void | Promise<void>;
  /**
   * Commits complete on a later event-loop turn (a network round trip): afterCommit checks wait
   * (bounded) for the callbacks rather than for a fixed number of turns.
   */
  asyncCommit?: boolean;
}

const NOT_DURABLE = 'the backend keeps nothing across a reopen';

// --- fixtures -------------------------------------------------------------------------------

const FULL_PROPERTIES: MessageProperties = {
  payloadFormatIndicator: true,
  contentType: 'application/json',
  responseTopic: 'reply/here',
  correlationData: Buffer.from([0, 1, 2, 255]),
  // '10' is an integer-like name: an object would move it first, so the pairs must keep order.
  userProperties: { zeta: 'last letter', alpha: ['1', '2'], 10: 'ten', empty: '' },
};

function msg(topic: string, over: Partial<Message> = {}): Message {
  return {
    topic,
    payload: Buffer.from(`payload of ${topic}`),
    qos: 1,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    publisherId: undefined,
    ...over,
  };
}

function delivery(message: Message, over: Partial<StoredDelivery> = {}): StoredDelivery {
  return { message, qos: message.qos, retain: false, subscriptionIds: undefined, ...over };
}

function sub(key: string, over: Partial<StoredSubscription> = {}): StoredSubscription {
  return { key, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined, ...over };
}

function authorizer(name: string, over: Partial<AuthorizerRecord> = {}): AuthorizerRecord {
  return {
    name,
    type: 'http',
    url: `https://auth.example/${name}`,
    status: 'ACTIVE',
    signingDisabled: true,
    timeoutMs: 5000,
    creationDate: '2024-01-02T03:04:05.000Z',
    lastModifiedDate: '2024-01-02T03:04:05.000Z',
    ...over,
  };
}

const byTopic = (a: Message, b: Message) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0);
const topics = (ms: Message[]) => ms.map((m) => m.topic).sort();

/** A session with its order-free parts sorted. */
function normalized(s: StoredSession): StoredSession {
  return {
    ...s,
    subscriptions: [...s.subscriptions].sort((a, b) => (a.key < b.key ? -1 : 1)),
    inboundQos2: [...s.inboundQos2].sort((a, b) => a - b),
  };
}

/** loadSessions with order-free parts sorted, keyed by client ID. */
async function sessionsOf(store: Store): Promise<Map<string, StoredSession>> {
  const out = new Map<string, StoredSession>();
  for (const s of await store.sessions.loadSessions()) out.set(s.clientId, normalized(s));
  return out;
}

/** One session, from loadSessions, checked to be what loadSession returns too. */
async function session(store: Store, clientId: string): Promise<StoredSession> {
  const s = (await sessionsOf(store)).get(clientId);
  assert.ok(s, `session ${clientId} is loaded`);
  const one = await store.sessions.loadSession(clientId);
  assert.ok(one, `loadSession(${clientId}) finds it`);
  assert.deepEqual(normalized(one), s, 'loadSession and loadSessions agree');
  return s;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function closeStore(store: Store): Promise<void> {
  if (store.closeAsync) await store.closeAsync();
  else store.close();
}

const SETTLE_TIMEOUT_MS = 5_000;

// --- harness ----------------------------------------------------------------------------------

interface Context {
  /** The current handle (replaced by reopen). */
  store: Store;
  readonly durable: boolean;
  /** Runs `check` now and, for a durable backend, again on a reopened handle. */
  verify(check: (store: Store) => void | Promise<void>): Promise<void>;
  /** Closes the handle and opens the same data again (durable backends only). */
  reopen(): Promise<Store>;
  /**
   * Lets afterCommit callbacks run: `turns` event-loop turns for a local backend (the exact
   * promise), until `done()` holds for an asyncCommit one (bounded).
   */
  settle(done: () => boolean, turns?: number): Promise<void>;
}

/** `skip`: a reason the whole suite cannot run here (e.g. no redis-server installed). */
export function runStoreContract(name: string, factory: () => StoreHarness, options: { skip?: string | false } = {}): void {
  function contract(title: string, body: (ctx: Context) => void | Promise<void>, options: { durableOnly?: boolean } = {}): void {
    // The factory must not touch anything before open(): this only asks what it can do.
    const probe = factory();
    const isDurable = probe.reopen !== undefined;
    const asyncCommit = probe.asyncCommit === true;
    void Promise.resolve(probe.cleanup()).catch(() => undefined);
    const skip = options.durableOnly && !isDurable ? NOT_DURABLE : false;
    test(title, { skip }, async () => {
      const harness = factory();
      const handles: Store[] = [];
      const ctx: Context = {
        store: await harness.open(),
        durable: isDurable,
        async verify(check) {
          await check(ctx.store);
          if (isDurable) await check(await ctx.reopen());
        },
        async reopen() {
          assert.ok(harness.reopen, 'reopen needs a durable backend');
          await closeStore(ctx.store);
          ctx.store = await harness.reopen();
          handles.push(ctx.store);
          return ctx.store;
        },
        async settle(done, turns = 1) {
          if (!asyncCommit) {
            for (let i = 0; i < turns; i++) await nextTurn();
            return;
          }
          const deadline = Date.now() + SETTLE_TIMEOUT_MS;
          while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
        },
      };
      handles.push(ctx.store);
      try {
        await body(ctx);
      } finally {
        for (const h of handles) await closeStore(h);
        await harness.cleanup();
      }
    });
  }

  describe(`${name} store contract`, { skip: options.skip ?? false }, () => {
    describe('retained', () => {
      contract('set, get, replace, delete and size', async (ctx) => {
        const s = ctx.store;
        assert.equal(s.retained.size, 0);
        assert.equal(s.retained.get('a/b'), undefined);
        s.retained.set(msg('a/b', { retain: true }));
        s.retained.set(msg('a/c', { retain: true }));
        const replacement = msg('a/b', { retain: true, payload: Buffer.from('second'), qos: 2, publisherId: 'pub-1' });
        s.retained.set(replacement);
        s.retained.set(msg('gone', { retain: true }));
        s.retained.delete('gone');
        s.retained.delete('never-set');
        await ctx.verify(async (store) => {
          assert.equal(store.retained.size, 2);
          assert.deepEqual(store.retained.get('a/b'), replacement);
          assert.equal(store.retained.get('gone'), undefined);
        });
      });

      contract('keeps every message field, properties in order', async (ctx) => {
        const full = msg('props/all', {
          retain: true,
          qos: 2,
          payload: Buffer.from([0, 159, 146, 150, 0]),
          properties: FULL_PROPERTIES,
          expiresAt: Date.now() + 3_600_000,
          publisherId: 'publisher',
        });
        const bare = msg('props/none', { retain: true, qos: 0, properties: {} });
        ctx.store.retained.set(full);
        ctx.store.retained.set(bare);
        await ctx.verify(async (store) => {
          const got = store.retained.get('props/all');
          assert.deepEqual(got, full);
          assert.deepEqual(Object.entries(got!.properties!.userProperties!), Object.entries(FULL_PROPERTIES.userProperties!));
          assert.deepEqual(store.retained.get('props/none'), bare);
        });
      });

      contract('match: exact, + and #, and $ topics only for filters naming them', async (ctx) => {
        for (const t of ['a', 'a/b', 'a/c', 'a/b/c', 'x/b', '/lead', '$SYS/uptime', '$SYS/a/b']) ctx.store.retained.set(msg(t, { retain: true }));
        await ctx.verify(async (store) => {
          const r = store.retained;
          assert.deepEqual(topics(r.match('a/b')), ['a/b']);
          assert.deepEqual(topics(r.match('nothing/here')), []);
          assert.deepEqual(topics(r.match('+/b')), ['a/b', 'x/b']);
          assert.deepEqual(topics(r.match('a/#')), ['a', 'a/b', 'a/b/c', 'a/c']);
          assert.deepEqual(topics(r.match('+/+/c')), ['a/b/c']);
          assert.deepEqual(topics(r.match('+/lead')), ['/lead']);
          // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with $.
          assert.deepEqual(topics(r.match('#')), ['/lead', 'a', 'a/b', 'a/b/c', 'a/c', 'x/b']);
          assert.deepEqual(topics(r.match('+/uptime')), []);
          assert.deepEqual(topics(r.match('$SYS/#')), ['$SYS/a/b', '$SYS/uptime']);
          assert.deepEqual(topics(r.match('$SYS/+')), ['$SYS/uptime']);
          assert.deepEqual(r.match('a/+').sort(byTopic), [msg('a/b', { retain: true }), msg('a/c', { retain: true })]);
        });
      });

      contract('expired messages are never returned and leave size', async (ctx) => {
        const now = Date.now();
        ctx.store.retained.set(msg('exp/past', { retain: true, expiresAt: now - 1000 }));
        ctx.store.retained.set(msg('exp/future', { retain: true, expiresAt: now + 3_600_000 }));
        ctx.store.retained.set(msg('exp/never', { retain: true }));
        if (ctx.durable) {
          // Not looked up before the reopen: the purge at open removes it.
          await ctx.reopen();
          assert.equal(ctx.store.retained.size, 2);
        }
        const r = ctx.store.retained;
        assert.equal(r.get('exp/past'), undefined);
        assert.deepEqual(topics(r.match('exp/+')), ['exp/future', 'exp/never']);
        assert.equal(r.size, 2);
        // Lazily dropped from a live store, and not back after a reopen.
        r.set(msg('exp/soon', { retain: true, expiresAt: Date.now() - 1 }));
        assert.deepEqual(topics(r.match('#')), ['exp/future', 'exp/never']);
        assert.equal(r.size, 2);
        await ctx.verify(async (store) => assert.deepEqual(topics(store.retained.match('#')), ['exp/future', 'exp/never']));
      });
    });

    describe('sessions', () => {
      contract('put, update and load sessions with empty children', async (ctx) => {
        const s = ctx.store.sessions;
        assert.deepEqual(await s.loadSessions(), []);
        s.putSession('c1', 5, 60, null);
        s.putSession('c2', 4, 4294967295, 1_700_000_000_000);
        s.putSession('c1', 3, 120, Date.now());
        const c1At = Date.now();
        s.putSession('c1', 5, 7200, c1At);
        await ctx.verify(async (store) => {
          const all = await sessionsOf(store);
          assert.deepEqual([...all.keys()].sort(), ['c1', 'c2']);
          assert.deepEqual(all.get('c1'), {
            clientId: 'c1',
            protocolVersion: 5,
            expirySeconds: 7200,
            disconnectedAt: c1At,
            subscriptions: [],
            inflight: [],
            queue: [],
            inboundQos2: [],
          });
          assert.deepEqual(all.get('c2'), {
            clientId: 'c2',
            protocolVersion: 4,
            expirySeconds: 4294967295,
            disconnectedAt: 1_700_000_000_000,
            subscriptions: [],
            inflight: [],
            queue: [],
            inboundQos2: [],
          });
        });
      });

      contract('deleteSession removes the session and everything it owns', async (ctx) => {
        const s = ctx.store.sessions;
        for (const id of ['doomed', 'kept']) {
          s.putSession(id, 5, 600, null);
          s.putSubscription(id, sub('t/#'));
          s.enqueue(id, 1, delivery(msg('t/1')));
          s.putInflight(id, 5, 'publish', delivery(msg('t/2')));
          s.addInboundQos2(id, 9);
        }
        s.deleteSession('doomed');
        s.deleteSession('never-existed');
        await ctx.verify(async (store) => {
          assert.deepEqual([...(await sessionsOf(store)).keys()], ['kept']);
          assert.equal((await session(store, 'kept')).queue.length, 1);
        });
        // A new session under the same ID starts empty.
        ctx.store.sessions.putSession('doomed', 5, 600, null);
        await ctx.verify(async (store) => {
          const d = await session(store, 'doomed');
          assert.deepEqual([d.subscriptions, d.queue, d.inflight, d.inboundQos2], [[], [], [], []]);
        });
      });

      contract('subscriptions keep every option; put replaces, delete removes', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('c', 5, 600, null);
        const all = [
          sub('a/+', { qos: 0 }),
          sub('b/#', { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 268435455 }),
          sub('$share/group/c/d', { qos: 1, retainHandling: 1, subscriptionId: 1 }),
          sub('e', { qos: 1 }),
        ];
        for (const x of all) s.putSubscription('c', x);
        const replaced = sub('a/+', { qos: 2, noLocal: true, subscriptionId: 42 });
        s.putSubscription('c', replaced);
        s.deleteSubscription('c', 'e');
        s.deleteSubscription('c', 'not/there');
        await ctx.verify(async (store) => {
          assert.deepEqual((await session(store, 'c')).subscriptions, [all[2], replaced, all[1]]);
        });
      });

      contract('the queue loads in seq order after interleaved enqueue and dequeue', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('q', 5, 600, null);
        s.putSession('other', 5, 600, null);
        const d = new Map<number, StoredDelivery>();
        const add = (seq: number, x: StoredDelivery) => {
          d.set(seq, x);
          s.enqueue('q', seq, x);
        };
        add(1, delivery(msg('q/1')));
        add(2, delivery(msg('q/2', { qos: 2, payload: Buffer.alloc(0) }), { qos: 1, retain: true, subscriptionIds: [3, 1] }));
        s.enqueue('other', 1, delivery(msg('o/1')));
        add(3, delivery(msg('q/3', { properties: FULL_PROPERTIES, expiresAt: Date.now() + 3_600_000, publisherId: 'p' })));
        s.dequeue('q', 1);
        add(4, delivery(msg('q/4')));
        s.dequeue('q', 3);
        add(5, delivery(msg('q/5', { qos: 2 })));
        add(6, delivery(msg('q/6')));
        s.dequeue('q', 6);
        add(7, delivery(msg('q/7'), { qos: 2 }));
        s.dequeue('q', 99);
        s.dequeue('other', 1);
        await ctx.verify(async (store) => {
          const q = (await session(store, 'q')).queue;
          assert.deepEqual(
            q.map((x) => x.seq),
            [2, 4, 5, 7],
          );
          for (const x of q) assert.deepEqual(x.delivery, d.get(x.seq));
          assert.deepEqual((await session(store, 'other')).queue, []);
        });
      });

      contract('in-flight: send order (across packet id wrap), replace to pubrel in place, delete', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('f', 5, 600, null);
        const first = delivery(msg('f/1', { qos: 2 }), { qos: 2, subscriptionIds: [7] });
        s.putInflight('f', 65535, 'publish', first);
        s.putInflight('f', 1, 'publish', delivery(msg('f/2')));
        s.putInflight('f', 2, 'publish', delivery(msg('f/3', { properties: FULL_PROPERTIES })));
        s.putInflight('f', 3, 'publish', delivery(msg('f/4')));
        s.putInflight('f', 65535, 'pubrel', first);
        s.deleteInflight('f', 1);
        s.deleteInflight('f', 400);
        await ctx.verify(async (store) => {
          const inflight = (await session(store, 'f')).inflight;
          assert.deepEqual(
            inflight.map((e) => [e.packetId, e.state]),
            [
              [65535, 'pubrel'],
              [2, 'publish'],
              [3, 'publish'],
            ],
          );
          assert.deepEqual(inflight[0]!.delivery, first);
          assert.deepEqual(inflight[1]!.delivery, delivery(msg('f/3', { properties: FULL_PROPERTIES })));
        });
      });

      contract('in-flight entries do not follow later changes to the object passed in', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('f', 5, 600, null);
        // The broker passes its live entry (extra fields, a state it changes later).
        const live = { ...delivery(msg('f/1')), state: 'publish' as 'publish' | 'pubrel', seq: 3 };
        s.putInflight('f', 1, 'publish', live);
        s.enqueue('f', 3, live);
        live.state = 'pubrel';
        await ctx.verify(async (store) => {
          const f = await session(store, 'f');
          assert.deepEqual(f.inflight, [{ packetId: 1, state: 'publish', delivery: delivery(msg('f/1')) }]);
          assert.deepEqual(f.queue, [{ seq: 3, delivery: delivery(msg('f/1')) }]);
        });
      });

      contract('inbound QoS 2 packet ids: add (idempotent) and delete', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('i', 5, 600, null);
        s.putSession('j', 5, 600, null);
        for (const id of [7, 3, 65535, 3]) s.addInboundQos2('i', id);
        s.addInboundQos2('j', 7);
        s.deleteInboundQos2('i', 7);
        s.deleteInboundQos2('i', 8);
        await ctx.verify(async (store) => {
          assert.deepEqual((await session(store, 'i')).inboundQos2, [3, 65535]);
          assert.deepEqual((await session(store, 'j')).inboundQos2, [7]);
        });
      });

      contract('loadSession: one session with its queue in seq order and its in-flight entries in send order', async (ctx) => {
        const s = ctx.store.sessions;
        const at = Date.now();
        s.putSession('one', 5, 600, null);
        s.putSubscription('one', sub('a/#', { qos: 2, subscriptionId: 9 }));
        s.putSubscription('one', sub('$share/g/b', { noLocal: true }));
        const q3 = delivery(msg('one/3', { properties: FULL_PROPERTIES, payload: Buffer.from([0, 255, 0]) }), { subscriptionIds: [9] });
        const q9 = delivery(msg('one/9', { qos: 2 }), { qos: 2, retain: true });
        s.enqueue('one', 9, q9);
        s.enqueue('one', 5, delivery(msg('one/5')));
        s.enqueue('one', 3, q3);
        s.dequeue('one', 5);
        const f1 = delivery(msg('one/f1', { qos: 2 }), { qos: 2 });
        const f2 = delivery(msg('one/f2'));
        s.putInflight('one', 65535, 'publish', f1);
        s.putInflight('one', 1, 'publish', f2);
        s.putInflight('one', 65535, 'pubrel', f1);
        s.addInboundQos2('one', 4);
        s.putSession('two', 4, 3600, at);
        s.enqueue('two', 1, delivery(msg('two/1')));
        await ctx.verify(async (store) => {
          const one = await store.sessions.loadSession('one');
          assert.ok(one);
          assert.deepEqual(normalized(one), {
            clientId: 'one',
            protocolVersion: 5,
            expirySeconds: 600,
            disconnectedAt: null,
            subscriptions: [sub('$share/g/b', { noLocal: true }), sub('a/#', { qos: 2, subscriptionId: 9 })],
            queue: [
              { seq: 3, delivery: q3 },
              { seq: 9, delivery: q9 },
            ],
            inflight: [
              { packetId: 65535, state: 'pubrel', delivery: f1 },
              { packetId: 1, state: 'publish', delivery: f2 },
            ],
            inboundQos2: [4],
          });
          const two = await store.sessions.loadSession('two');
          assert.deepEqual(
            [two?.protocolVersion, two?.disconnectedAt, two?.queue.map((q) => q.seq)],
            [4, at, [1]],
          );
          assert.equal(await store.sessions.loadSession('absent'), undefined);
        });
      });

      contract('loadSession: undefined after deleteSession; a new session under the ID starts empty', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('gone', 5, 600, null);
        s.putSubscription('gone', sub('g/#'));
        s.enqueue('gone', 1, delivery(msg('g/1')));
        s.putInflight('gone', 2, 'publish', delivery(msg('g/2')));
        s.addInboundQos2('gone', 3);
        assert.ok(await s.loadSession('gone'));
        s.deleteSession('gone');
        await ctx.verify(async (store) => assert.equal(await store.sessions.loadSession('gone'), undefined));
        ctx.store.sessions.putSession('gone', 4, 60, null);
        await ctx.verify(async (store) => {
          assert.deepEqual(await store.sessions.loadSession('gone'), {
            clientId: 'gone',
            protocolVersion: 4,
            expirySeconds: 60,
            disconnectedAt: null,
            subscriptions: [],
            inflight: [],
            queue: [],
            inboundQos2: [],
          });
        });
      });

      contract('loadSession sees the changes made just before it', async (ctx) => {
        const s = ctx.store.sessions;
        s.putSession('now', 5, 60, null);
        s.enqueue('now', 1, delivery(msg('now/1')));
        assert.deepEqual(
          (await s.loadSession('now'))?.queue.map((q) => q.seq),
          [1],
        );
        s.dequeue('now', 1);
        s.putInflight('now', 7, 'publish', delivery(msg('now/7')));
        const at = Date.now();
        s.putSession('now', 5, 120, at);
        const again = await s.loadSession('now');
        assert.deepEqual(
          [again?.queue, again?.inflight.map((f) => f.packetId), again?.expirySeconds, again?.disconnectedAt],
          [[], [7], 120, at],
        );
      });

      contract(
        'at open: expired sessions and expired messages are purged, sessions connected at a crash kept',
        async (ctx) => {
          const now = Date.now();
          const s = ctx.store.sessions;
          const past = now - 1000;
          const future = now + 3_600_000;
          s.putSession('expired', 5, 10, now - 60_000);
          s.putSubscription('expired', sub('x/#'));
          s.enqueue('expired', 1, delivery(msg('x/1')));
          s.putInflight('expired', 1, 'publish', delivery(msg('x/2')));
          s.addInboundQos2('expired', 1);
          s.putSession('zero-expiry', 4, 0, now - 1000);
          s.putSession('crashed', 5, 10, null);
          s.putSubscription('crashed', sub('c/#'));
          s.putSession('alive', 5, 3600, now - 60_000);
          s.enqueue('alive', 1, delivery(msg('a/1', { expiresAt: past })));
          s.enqueue('alive', 2, delivery(msg('a/2', { expiresAt: future })));
          s.enqueue('alive', 3, delivery(msg('a/3')));
          s.putInflight('alive', 10, 'publish', delivery(msg('a/4', { expiresAt: past })));
          s.putInflight('alive', 11, 'pubrel', delivery(msg('a/5', { expiresAt: past })));
          s.putInflight('alive', 12, 'publish', delivery(msg('a/6', { expiresAt: future })));

          const store = await ctx.reopen();
          assert.equal(await store.sessions.loadSession('expired'), undefined);
          assert.equal(await store.sessions.loadSession('zero-expiry'), undefined);
          const all = await sessionsOf(store);
          assert.deepEqual([...all.keys()].sort(), ['alive', 'crashed']);
          assert.equal(all.get('crashed')!.disconnectedAt, null);
          assert.deepEqual(all.get('crashed')!.subscriptions, [sub('c/#')]);
          const alive = all.get('alive')!;
          assert.deepEqual(
            alive.queue.map((q) => q.seq),
            [2, 3],
          );
          // A released QoS 2 exchange must complete whatever its message's expiry.
          assert.deepEqual(
            alive.inflight.map((e) => e.packetId),
            [11, 12],
          );
          // What the expired session owned went with it.
          store.sessions.putSession('expired', 5, 10, null);
          const back = await session(store, 'expired');
          assert.deepEqual([back.subscriptions, back.queue, back.inflight, back.inboundQos2], [[], [], [], []]);
        },
        { durableOnly: true },
      );
    });

    describe('authorizers', () => {
      contract('put, get, list (by name), replace, delete', async (ctx) => {
        const a = ctx.store.authorizers;
        assert.deepEqual(a.list(), []);
        a.put(authorizer('zeta'));
        a.put(authorizer('alpha', { type: 'function', url: undefined, handler: 'auth/alpha.js' }));
        a.put(authorizer('mid', { signingDisabled: false, tokenKeyName: 'tok', tokenSigningPublicKeys: { k1: 'PEM-1', k2: 'PEM-2' } }));
        const replaced = authorizer('zeta', { status: 'INACTIVE', lastModifiedDate: '2024-02-02T00:00:00.000Z' });
        a.put(replaced);
        a.put(authorizer('removed'));
        assert.equal(a.delete('removed'), true);
        assert.equal(a.delete('removed'), false);
        const alpha = { ...authorizer('alpha', { type: 'function', handler: 'auth/alpha.js' }) };
        delete alpha.url;
        await ctx.verify(async (store) => {
          const list = store.authorizers.list();
          assert.deepEqual(
            list.map((r) => r.name),
            ['alpha', 'mid', 'zeta'],
          );
          assert.deepEqual(store.authorizers.get('zeta'), replaced);
          assert.deepEqual(JSON.parse(JSON.stringify(store.authorizers.get('alpha'))), alpha);
          assert.deepEqual(store.authorizers.get('mid')!.tokenSigningPublicKeys, { k1: 'PEM-1', k2: 'PEM-2' });
          assert.equal(store.authorizers.get('removed'), undefined);
        });
      });

      contract('default authorizer: set, change, clear, and cleared when deleted', async (ctx) => {
        const a = ctx.store.authorizers;
        assert.equal(a.getDefault(), undefined);
        a.put(authorizer('one'));
        a.put(authorizer('two'));
        a.setDefault('one');
        a.setDefault('two');
        await ctx.verify(async (store) => assert.equal(store.authorizers.getDefault(), 'two'));
        ctx.store.authorizers.setDefault(undefined);
        await ctx.verify(async (store) => assert.equal(store.authorizers.getDefault(), undefined));
        ctx.store.authorizers.setDefault('one');
        ctx.store.authorizers.delete('one');
        await ctx.verify(async (store) => {
          assert.equal(store.authorizers.getDefault(), undefined);
          assert.deepEqual(
            store.authorizers.list().map((r) => r.name),
            ['two'],
          );
        });
      });
    });

    describe('access keys', () => {
      contract('create, list, replace, delete; secrets stay sealed and unseal with the store\'s key', async (ctx) => {
        const keys = ctx.store.accessKeys;
        assert.deepEqual(keys.list(), []);
        const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] };
        const a = createAccessKey([doc], ctx.store.sealingKey, 'first');
        const b = createAccessKey([doc], ctx.store.sealingKey);
        keys.put(a.record);
        keys.put(b.record);
        keys.put({ ...b.record, status: 'Inactive' });
        const gone = createAccessKey([doc], ctx.store.sealingKey);
        keys.put(gone.record);
        assert.equal(keys.delete(gone.record.accessKeyId), true);
        assert.equal(keys.delete(gone.record.accessKeyId), false);
        await ctx.verify(async (store) => {
          assert.deepEqual(
            store.accessKeys.list().map((r) => r.accessKeyId),
            [a.record.accessKeyId, b.record.accessKeyId].sort(),
          );
          assert.equal(store.accessKeys.get(b.record.accessKeyId)!.status, 'Inactive');
          assert.equal(store.accessKeys.get(a.record.accessKeyId)!.description, 'first');
          assert.ok(!JSON.stringify(store.accessKeys.list()).includes(a.secretAccessKey), 'the plain secret is never stored');
          assert.equal(unsealSecret(store.accessKeys.get(a.record.accessKeyId)!, store.sealingKey), a.secretAccessKey);
        });
      });

      contract('a temporary key keeps its expiration and token hash; its token admits only until then', async (ctx) => {
        const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] };
        const now = Date.UTC(2026, 0, 1);
        const t = createTemporaryAccessKey([doc], ctx.store.sealingKey, { expiresInSeconds: 60, now });
        ctx.store.accessKeys.put(t.record);
        await ctx.verify(async (store) => {
          const record = store.accessKeys.get(t.record.accessKeyId)!;
          assert.equal(record.expiration, t.expiration);
          assert.equal(record.sessionTokenHash, t.record.sessionTokenHash);
          assert.ok(!JSON.stringify(record).includes(t.sessionToken), 'the plain session token is never stored');
          assert.equal(secretLookup(store.accessKeys, store.sealingKey, () => now)(t.record.accessKeyId, t.sessionToken), t.secretAccessKey);
          assert.equal((secretLookup(store.accessKeys, store.sealingKey, () => now + 60_000)(t.record.accessKeyId, t.sessionToken) as { refused: string }).refused, 'expired-token');
        });
      });
    });

    describe('afterCommit', () => {
      contract('calls back later, once, in the order given, across flushes', async (ctx) => {
        const s = ctx.store;
        const order: string[] = [];
        s.afterCommit(() => order.push('a')); // nothing pending
        s.retained.set(msg('t/1', { retain: true }));
        s.afterCommit(() => order.push('b'));
        s.sessions.putSession('c', 5, 60, null);
        s.afterCommit(() => order.push('c'));
        // (Copies: deepEqual would narrow `order`'s type.)
        assert.deepEqual([...order], [], 'never synchronously');
        await ctx.settle(() => order.length >= 3);
        assert.deepEqual([...order], ['a', 'b', 'c']);

        s.afterCommit(() => order.push('d')); // nothing pending
        s.sessions.enqueue('c', 1, delivery(msg('t/2')));
        s.afterCommit(() => order.push('e'));
        s.flush();
        s.afterCommit(() => order.push('f')); // nothing pending after the flush
        s.sessions.dequeue('c', 1);
        s.afterCommit(() => order.push('g'));
        await ctx.settle(() => order.length >= 7, 2);
        assert.deepEqual(order, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      });

      contract('with nothing pending, calls back by the next turn', async (ctx) => {
        let called = 0;
        ctx.store.afterCommit(() => called++);
        await nextTurn();
        assert.equal(called, 1);
      });
    });
  });
}
