// The Redis store against a real redis-server (test/helpers/redis-server.ts): the shared contract,
// then what only Redis has: several nodes on one Redis, outages and restarts, open failures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { pino } from 'pino';
import type { Message, MessageProperties } from '../../src/shared/message.js';
import type { Logger } from '../../src/logger.js';
import { createAccessKey, unsealSecret } from '../../src/store/access-key-store.js';
import { StoreCommitError, StoreOpenError, StoreUnavailableError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import { openRedisStore, RedisStore, type RedisStoreOptions } from '../../src/store/redis-store.js';
import type { StoredDelivery } from '../../src/store/session-store.js';
import { REDIS_SERVER_BIN, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { runStoreContract } from './store-contract.js';

/** The Redis tests need a redis-server binary (scripts/install-test-deps.sh installs one). */
const NO_REDIS = existsSync(REDIS_SERVER_BIN) ? false : `${REDIS_SERVER_BIN} is not installed (run scripts/install-test-deps.sh)`;

let redis: RedisServer;
before(async () => {
  if (NO_REDIS === false) redis = await startRedis();
});

let prefixes = 0;
runStoreContract('redis', () => {
  // A fresh prefix per test: the tests share one redis-server without meeting.
  const keyPrefix = `contract${++prefixes}:`;
  return {
    asyncCommit: true,
    open: () => openRedisStore({ url: redis.url, keyPrefix }),
    reopen: () => openRedisStore({ url: redis.url, keyPrefix }),
    cleanup() {},
  };
}, { skip: NO_REDIS });

// --- helpers -----------------------------------------------------------------------------------

function msg(topic: string, over: Partial<Message> = {}): Message {
  return { topic, payload: Buffer.from(topic), qos: 1, retain: true, properties: undefined, expiresAt: 0, publisherId: undefined, ...over };
}
const delivery = (m: Message): StoredDelivery => ({ message: m, qos: m.qos, retain: false, subscriptionIds: undefined });

/** Resolves once `cond()` holds; fails the test after `timeoutMs`. */
async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const handles: RedisStore[] = [];
let nodes = 0;
/** Another node (store handle) on `server`; closed after the test file. */
async function node(server: RedisServer, keyPrefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = await openRedisStore({ url: server.url, keyPrefix, nodeId: `node${++nodes}`, ...options });
  handles.push(store);
  return store;
}
after(async () => {
  await Promise.all(handles.map((h) => h.closeAsync()));
  await redis?.stop();
});

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const FULL_PROPERTIES: MessageProperties = {
  payloadFormatIndicator: false,
  contentType: 'application/octet-stream',
  responseTopic: 'reply/to',
  correlationData: Buffer.from([255, 0, 1]),
  userProperties: { z: 'last', 2: ['b', 'a'], a: '' },
};

// --- several nodes on one Redis ----------------------------------------------------------------

describe('redis: nodes sharing one Redis', { skip: NO_REDIS }, () => {
  test('a retained message set on A is in B\'s mirror after the notice, binary payload and v5 properties intact', async () => {
    const a = await node(redis, 'share1:');
    const b = await node(redis, 'share1:');
    const m = msg('bin/all', { payload: ALL_BYTES, properties: FULL_PROPERTIES, qos: 2, publisherId: 'pub', expiresAt: Date.now() + 60_000, receivedAt: 1_700_000_000_123 });
    a.retained.set(m);
    await eventually(() => b.retained.get('bin/all') !== undefined, 'B to see the retained message');
    const got = b.retained.get('bin/all')!;
    assert.deepEqual(got, m);
    assert.deepEqual(Object.keys(got.properties!.userProperties!), Object.keys(FULL_PROPERTIES.userProperties!));
    assert.deepEqual(b.retained.match('bin/+'), [m]);
    a.retained.delete('bin/all');
    await eventually(() => b.retained.size === 0, 'B to see the delete');
  });

  test('concurrent sets of one topic (and of many) converge to the same value everywhere: the one Redis ran last', async () => {
    const stores = [await node(redis, 'race:'), await node(redis, 'race:'), await node(redis, 'race:')];
    for (let round = 0; round < 20; round++) {
      for (const [i, s] of stores.entries()) {
        s.retained.set(msg('hot', { payload: Buffer.from(`${i}:${round}`) }));
        s.retained.set(msg(`t/${round % 5}`, { payload: Buffer.from(`${i}:${round}`) }));
      }
      if (round % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(stores.map((s) => new Promise<void>((r) => s.afterCommit(r))));
    const reader = await node(redis, 'race:');
    const truth = (topic: string) => reader.retained.get(topic)?.payload.toString();
    for (const topic of ['hot', 't/0', 't/1', 't/2', 't/3', 't/4']) {
      await eventually(() => stores.every((s) => s.retained.get(topic)?.payload.toString() === truth(topic)), `every node to agree on ${topic}`);
    }
  });

  test('rule, authorizer, default authorizer and access-key changes on A fire onChange on B (remote) and A (local)', async () => {
    const a = await node(redis, 'records:');
    const b = await node(redis, 'records:');
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onChange((kind, key, origin) => seenA.push(`${kind}:${key}:${origin}`));
    const stop = b.onChange((kind, key, origin) => seenB.push(`${kind}:${key}:${origin}`));
    a.rules.put({ name: 'r1', definition: { sql: "SELECT * FROM 'a'" }, createdAt: 'c', lastModifiedAt: 'm' });
    a.authorizers.put({ name: 'auth1', type: 'http', url: 'https://x', status: 'ACTIVE', signingDisabled: true, timeoutMs: 5000, creationDate: 'd', lastModifiedDate: 'd' });
    a.authorizers.setDefault('auth1');
    const key = createAccessKey([{ Version: '2012-10-17', Statement: [] }], a.sealingKey);
    a.accessKeys.put(key.record);
    const expected = ['rule:r1', 'authorizer:auth1', 'authorizer:', `accessKey:${key.record.accessKeyId}`];
    await eventually(() => seenB.length >= 4, 'B to hear four changes');
    assert.deepEqual(seenB, expected.map((e) => `${e}:remote`));
    await eventually(() => seenA.length >= 4, 'A to hear its own changes committed');
    assert.deepEqual(seenA, expected.map((e) => `${e}:local`));
    assert.deepEqual(b.rules.get('r1')?.definition, { sql: "SELECT * FROM 'a'" });
    assert.equal(b.authorizers.getDefault(), 'auth1');
    // Both nodes share the sealing key (kept in Redis), so B can open what A sealed.
    assert.ok(b.sealingKey.equals(a.sealingKey));
    assert.equal(unsealSecret(b.accessKeys.get(key.record.accessKeyId)!, b.sealingKey), key.secretAccessKey);

    a.authorizers.delete('auth1');
    a.rules.delete('r1');
    await eventually(() => seenB.length >= 7, 'B to hear the deletes');
    assert.deepEqual(seenB.slice(4), ['authorizer::remote', 'authorizer:auth1:remote', 'rule:r1:remote']);
    assert.equal(b.authorizers.getDefault(), undefined);
    assert.equal(b.rules.get('r1'), undefined);
    stop();
    a.rules.put({ name: 'r2', definition: {}, createdAt: 'c', lastModifiedAt: 'm' });
    await eventually(() => b.rules.get('r2') !== undefined, 'B to see r2');
    assert.equal(seenB.length, 7, 'a removed listener hears nothing');
  });

  test('loadSession on B returns what A committed, binary-safe, in order (a session moving between nodes)', async () => {
    const a = await node(redis, 'move:');
    const b = await node(redis, 'move:');
    a.sessions.putSession('mover', 5, 3600, null);
    a.sessions.putSubscription('mover', { key: 'm/#', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 2, subscriptionId: 77 });
    const big = Buffer.alloc(200_000, 7);
    for (let seq = 1; seq <= 50; seq++) a.sessions.enqueue('mover', seq, delivery(msg(`m/${seq}`, { payload: seq === 25 ? big : ALL_BYTES, properties: FULL_PROPERTIES })));
    a.sessions.putInflight('mover', 3, 'publish', delivery(msg('m/f3')));
    a.sessions.putInflight('mover', 1, 'pubrel', delivery(msg('m/f1', { qos: 2 })));
    a.sessions.addInboundQos2('mover', 12);
    await new Promise<void>((r) => a.afterCommit(r));
    const s = await b.sessions.loadSession('mover');
    assert.ok(s);
    assert.deepEqual(
      s.queue.map((q) => q.seq),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.ok(s.queue[24]!.delivery.message.payload.equals(big));
    assert.deepEqual(s.queue[0]!.delivery.message, msg('m/1', { payload: ALL_BYTES, properties: FULL_PROPERTIES }));
    assert.deepEqual(
      s.inflight.map((f) => [f.packetId, f.state]),
      [
        [3, 'publish'],
        [1, 'pubrel'],
      ],
    );
    assert.deepEqual(s.inboundQos2, [12]);
    assert.equal(s.subscriptions[0]!.subscriptionId, 77);
    // B now holds it: its own in-flight entries sort after A's, whatever B's clock says.
    b.sessions.putInflight('mover', 2, 'publish', delivery(msg('m/f2')));
    await new Promise<void>((r) => b.afterCommit(r));
    const again = await a.sessions.loadSession('mover');
    assert.deepEqual(
      again!.inflight.map((f) => f.packetId),
      [3, 1, 2],
    );
  });

  test('the sealing key: shared through Redis; a node configured with another one is refused', async () => {
    const a = await node(redis, 'seal:');
    const same = await node(redis, 'seal:', { sealingKey: a.sealingKey.toString('base64') });
    assert.ok(same.sealingKey.equals(a.sealingKey));
    await assert.rejects(
      openRedisStore({ url: redis.url, keyPrefix: 'seal:', sealingKey: randomBytes(32).toString('base64') }),
      (err: unknown) => err instanceof StoreOpenError && err.code === 'sealing-key' && /not the one already used/.test(err.message),
    );
    await assert.rejects(
      openRedisStore({ url: redis.url, keyPrefix: 'seal2:', sealingKey: 'too-short' }),
      (err: unknown) => err instanceof StoreOpenError && err.code === 'sealing-key',
    );
    // Configured from the start: Redis never holds the key itself.
    const configured = randomBytes(32).toString('base64');
    const c = await node(redis, 'seal3:', { sealingKey: configured });
    assert.equal(c.sealingKey.toString('base64'), configured);
    assert.match(await redis.command('EXISTS', 'seal3:sealing-key'), /^:0/);
  });
});

// --- outages -----------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis: outages', { skip: NO_REDIS }, () => {
  test('Redis killed mid-writes and restarted (appendonly): the node runs on, acknowledgements wait, then all come in order with every change stored', async () => {
    const server = await startRedis({ appendonly: true });
    const { logger, lines } = capturingLogger();
    const store = await openRedisStore({ url: server.url, keyPrefix: 'o:', logger });
    const observer = await node(server, 'o:');
    try {
      store.sessions.putSession('c', 5, 3600, null);
      const acked: number[] = [];
      let seq = 0;
      const writeSome = () => {
        for (let i = 0; i < 5; i++) {
          const s = ++seq;
          store.sessions.enqueue('c', s, delivery(msg(`q/${s}`, { payload: randomBytes(64) })));
          store.afterCommit(() => acked.push(s));
        }
      };
      const writer = setInterval(writeSome, 2);
      try {
        await eventually(() => acked.length >= 100, 'acknowledgements before the outage');
        await server.kill();
        await sleep(50); // replies already on the wire are read
        const beforeOutage = acked.length;
        store.retained.set(msg('during/outage', { payload: ALL_BYTES }));
        assert.equal(store.retained.get('during/outage')?.payload.length, 256, 'the mirror answers during the outage');
        await assert.rejects(store.sessions.loadSession('c'), StoreUnavailableError);
        await sleep(250);
        assert.equal(acked.length, beforeOutage, 'nothing is acknowledged while Redis is down');
        assert.ok(store.backlog > 0, 'changes wait');
        await server.restart();
        await sleep(50);
      } finally {
        clearInterval(writer);
      }
      await eventually(() => acked.length === seq, 'every acknowledgement after the restart', 10_000);
      assert.deepEqual(
        acked,
        Array.from({ length: seq }, (_, i) => i + 1),
        'in the order given',
      );
      assert.equal(store.backlog, 0);
      const s = await store.sessions.loadSession('c');
      assert.deepEqual(
        s?.queue.map((q) => q.seq),
        Array.from({ length: seq }, (_, i) => i + 1),
      );
      await eventually(() => observer.retained.get('during/outage') !== undefined, 'the other node to see the change made during the outage');
      const warnings = lines.filter((l) => l.level === 40 && /Redis is unavailable/.test(l.msg));
      const back = lines.filter((l) => l.level === 30 && /Redis is back/.test(l.msg));
      assert.equal(warnings.length, 1, 'one warning when writes start waiting');
      assert.equal(back.length, 1, 'one info line when they drain');
      assert.ok((back[0]!.changes as number) > 0, 'saying how many waited');
    } finally {
      await store.closeAsync();
      await server.stop();
    }
  });

  test('while Redis is down, waiting changes to one key coalesce: the backlog stays bounded and the last value wins', async () => {
    const server = await startRedis();
    const store = await openRedisStore({ url: server.url, keyPrefix: 'co:' });
    try {
      await server.stop();
      await eventually(() => !store.connected, 'the store to notice');
      let acks = 0;
      for (let i = 0; i < 1000; i++) {
        store.retained.set(msg('hot', { payload: Buffer.from(String(i)) }));
        store.sessions.putSession('c', 5, i, null);
        store.sessions.enqueue('c', i, delivery(msg('q')));
        store.sessions.dequeue('c', i);
        store.afterCommit(() => acks++);
      }
      // One retained HSET, one session row (SET + SADD), one HDEL per dequeued seq.
      assert.ok(store.backlog <= 3 + 1000, `backlog ${store.backlog}`);
      assert.ok(store.stats.coalesced >= 2 * 999 + 1000);
      await server.restart();
      await eventually(() => acks === 1000, 'the callbacks', 10_000);
      const s = await store.sessions.loadSession('c');
      assert.equal(s?.expirySeconds, 999);
      assert.deepEqual(s?.queue, []);
      const reader = await node(server, 'co:');
      assert.equal(reader.retained.get('hot')?.payload.toString(), '999');
    } finally {
      await store.closeAsync();
      await server.stop();
    }
  });

  test('after Redis lost its data or was flushed, the mirrors reload (notices out of sequence) and say what changed', async () => {
    const server = await startRedis();
    const { logger, lines } = capturingLogger();
    const a = await node(server, 'lost:', { logger });
    const b = await node(server, 'lost:');
    const seen: string[] = [];
    b.onChange((kind, key, origin) => seen.push(`${kind}:${key}:${origin}`));
    try {
      a.retained.set(msg('kept/not'));
      a.rules.put({ name: 'gone', definition: {}, createdAt: 'c', lastModifiedAt: 'm' });
      await eventually(() => b.rules.get('gone') !== undefined && b.retained.size === 1, 'B to see both');
      await server.restart(); // no AOF: Redis comes back empty
      await eventually(() => b.retained.size === 0 && b.rules.get('gone') === undefined, 'B to reload', 10_000);
      await eventually(() => a.retained.size === 0, 'A to reload too', 10_000);
      assert.ok(seen.includes('retained:kept/not:remote') && seen.includes('rule:gone:remote'), seen.join(', '));
      assert.ok(lines.some((l) => l.level === 40 && /Redis lost changes it had acknowledged/.test(l.msg)), 'the loss is logged');
      // The sealing key kept in Redis was written back: a node starting now uses the same one.
      const late = await node(server, 'lost:');
      assert.ok(late.sealingKey.equals(a.sealingKey));

      a.retained.set(msg('before/flush'));
      await eventually(() => b.retained.size === 1, 'B to see it');
      await server.flushall(); // the version counter starts again: the next notice is out of sequence
      a.retained.set(msg('after/flush'));
      await eventually(() => b.retained.get('after/flush') !== undefined && b.retained.get('before/flush') === undefined, 'B to reload after the flush');
    } finally {
      await server.stop();
    }
  });

  test('Redis out of memory (maxmemory, noeviction) is waited out like an outage, not a failure', async () => {
    const server = await startRedis({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });
    const store = await openRedisStore({ url: server.url, keyPrefix: 'oom:' });
    const errors: StoreCommitError[] = [];
    store.onError = (e) => errors.push(e);
    try {
      let acks = 0;
      for (let i = 0; i < 40; i++) {
        store.retained.set(msg(`big/${i}`, { payload: Buffer.alloc(128 * 1024, i) }));
        store.afterCommit(() => acks++);
        await new Promise((r) => setImmediate(r));
      }
      await eventually(() => store.backlog > 0 && acks < 40, 'writes to be refused for memory');
      await sleep(300);
      assert.ok(acks < 40, 'acknowledgements wait');
      assert.deepEqual(errors, [], 'not a failure');
      await server.command('CONFIG', 'SET', 'maxmemory', '0');
      await eventually(() => acks === 40, 'the waiting writes once memory is there', 10_000);
      assert.equal(store.backlog, 0);
      assert.deepEqual(errors, []);
    } finally {
      await store.closeAsync();
      await server.stop();
    }
  });

  test('close() while Redis is down gives up after closeTimeoutMs and says what is lost', async () => {
    const server = await startRedis();
    const { logger, lines } = capturingLogger();
    const store = await openRedisStore({ url: server.url, keyPrefix: 'close:', logger, closeTimeoutMs: 300 });
    await server.stop();
    await eventually(() => !store.connected, 'the store to notice');
    store.retained.set(msg('never/committed'));
    const started = Date.now();
    await store.closeAsync();
    assert.ok(Date.now() - started < 1500, 'bounded');
    assert.ok(lines.some((l) => l.level === 40 && /not committed; they are lost/.test(l.msg)));
    store.retained.set(msg('after/close')); // ignored, not thrown
  });
});

// --- failures ------------------------------------------------------------------------------------

describe('redis: failures', { skip: NO_REDIS }, () => {
  test('unreachable at open: StoreOpenError within the timeout, naming the URL without its password', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(openRedisStore({ url: `redis://user:s3cret@127.0.0.1:${port}/0`, openTimeoutMs: 800 }), (err: unknown) => {
      assert.ok(err instanceof StoreOpenError);
      assert.equal(err.code, 'unreachable');
      assert.ok(err.message.includes(`redis://user:***@127.0.0.1:${port}/0`), err.message);
      assert.ok(!err.message.includes('s3cret'), 'no password in the message');
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    // openStore: the same, through the configuration's shape.
    await assert.rejects(openStore({ type: 'redis', url: `redis://127.0.0.1:${port}` }, undefined, { openTimeoutMs: 300 }), StoreOpenError);
    await assert.rejects(openStore({ type: 'redis', url: 'http://nope' }), (err: unknown) => err instanceof StoreOpenError && /redis:\/\//.test(err.message));
  });

  test('a wrong or missing password: StoreOpenError saying so; the right one opens', async () => {
    const server = await startRedis({ args: ['--requirepass', 'right-password'] });
    try {
      const withPassword = (p: string) => server.url.replace('redis://', `redis://:${p}@`);
      await assert.rejects(openRedisStore({ url: server.url, openTimeoutMs: 500 }), (err: unknown) => err instanceof StoreOpenError && /NOAUTH/.test(err.message));
      await assert.rejects(
        openRedisStore({ url: withPassword('wrong-password'), openTimeoutMs: 500 }),
        (err: unknown) => err instanceof StoreOpenError && /WRONGPASS/.test(err.message) && !err.message.includes('wrong-password'),
      );
      const store = await openStore({ type: 'redis', url: withPassword('right-password'), keyPrefix: 'pw:' });
      assert.equal(store.kind, 'redis');
      assert.ok(store instanceof RedisStore);
      await store.closeAsync!();
    } finally {
      await server.stop();
    }
  });

  test('data from a newer layout is refused at open', async () => {
    await redis.command('SET', 'newer:format', '2');
    await assert.rejects(openRedisStore({ url: redis.url, keyPrefix: 'newer:' }), (err: unknown) => err instanceof StoreOpenError && err.code === 'newer-schema');
  });

  test('a command Redis refuses (someone else\'s data under the prefix) is reported once through onError and stops writing', async () => {
    const store = await node(redis, 'bad:');
    const errors: StoreCommitError[] = [];
    store.onError = (e) => errors.push(e);
    await redis.command('SET', 'bad:retained', 'not a hash');
    const calls: string[] = [];
    store.afterCommit(() => calls.push('before'));
    store.retained.set(msg('x'));
    store.afterCommit(() => calls.push('failed batch'));
    await eventually(() => errors.length === 1, 'onError');
    assert.match(errors[0]!.message, /WRONGTYPE/);
    assert.equal(store.failure, errors[0]);
    store.sessions.putSession('later', 5, 60, null);
    store.afterCommit(() => calls.push('later'));
    await sleep(50);
    assert.deepEqual(calls, ['before']);
    assert.equal(errors.length, 1);
    await assert.rejects(store.sessions.loadSession('later'), StoreUnavailableError);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
