// Where a Redis is (store/redis-target.ts) and how the config names it (config/schema.ts): a URL
// or Sentinels, exactly one; Sentinel addresses are host:port; shown without passwords.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { describeTarget, parseHostPort } from '../../src/store/redis-target.js';
import { redactTarget } from '../../src/store/redis-open.js';
import { StoreOpenError } from '../../src/store/errors.js';

const sentinel = { sentinels: ['10.0.0.1:26379', '[::1]:26380'], masterName: 'sb', password: 'hunter2', sentinelPassword: 's3cret' };

function issues(input: unknown): string[] {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('Redis target', () => {
  test('host:port parsing, IPv6 in brackets; anything else refused', () => {
    assert.deepEqual(parseHostPort('10.0.0.1:26379'), { host: '10.0.0.1', port: 26379 });
    assert.deepEqual(parseHostPort('[::1]:26380'), { host: '::1', port: 26380 });
    assert.deepEqual(parseHostPort('redis-a.internal:1'), { host: 'redis-a.internal', port: 1 });
    for (const bad of ['10.0.0.1', ':26379', '::1:26379', 'h:0', 'h:65536', 'h: 1', 'a b:1']) assert.equal(parseHostPort(bad), null, bad);
  });

  test('shown without passwords', () => {
    assert.equal(describeTarget({ sentinel }), 'sentinel://10.0.0.1:26379,[::1]:26380/sb');
    assert.equal(describeTarget({ url: 'redis://user:pw@h:6379/0' }), 'redis://user:***@h:6379/0');
    assert.doesNotMatch(redactTarget({ sentinel }), /hunter2|s3cret/);
  });

  test('the store refuses both, neither, and a bad Sentinel address, naming the field', () => {
    assert.throws(() => redactTarget({}), (e: unknown) => e instanceof StoreOpenError && /store\.url or store\.sentinel/.test(e.message));
    assert.throws(() => redactTarget({ url: 'redis://h', sentinel }), (e: unknown) => e instanceof StoreOpenError && /not both/.test(e.message));
    assert.throws(() => redactTarget({ sentinel: { ...sentinel, sentinels: ['nope'] } }), (e: unknown) => e instanceof StoreOpenError && /not host:port/.test(e.message));
  });

  test('config: cluster.redis takes exactly one of url and sentinel', () => {
    assert.deepEqual(issues({ cluster: { redis: { url: 'redis://h:6379' } } }), []);
    assert.deepEqual(issues({ cluster: { redis: { sentinel } } }), []);
    assert.match(issues({ cluster: { redis: {} } }).join(), /exactly one/);
    assert.match(issues({ cluster: { redis: { url: 'redis://h', sentinel } } }).join(), /exactly one/);
    assert.match(issues({ cluster: { redis: { sentinel: { ...sentinel, sentinels: ['h'] } } } }).join(), /sentinels\.0: must be host:port/);
    assert.match(issues({ cluster: { redis: { sentinel: { ...sentinel, extra: 1 } } } }).join(), /sentinel/);
    assert.match(issues({ cluster: { redis: { sentinel: { ...sentinel, sentinels: [] } } } }).join(), /sentinels/);
    const parsed = configSchema.parse({ cluster: { redis: { sentinel } } });
    assert.equal(parsed.cluster?.redis.waitForReplicas, undefined, 'unset: the store picks 1 behind Sentinels');
    assert.equal(parsed.cluster?.redis.waitTimeoutMs, 1000);
    assert.equal(parsed.cluster?.outboxBytes, 64 * 1024 * 1024);
  });

  test('config: store.sentinel only for a redis store, and not with store.url', () => {
    assert.deepEqual(issues({ store: { type: 'redis', sentinel } }), []);
    assert.match(issues({ store: { type: 'redis', url: 'redis://h', sentinel } }).join(), /not both/);
    assert.match(issues({ store: { type: 'sqlite', sentinel } }).join(), /store\.sentinel: only applies when store\.type is redis/);
    assert.match(issues({ store: { type: 'sqlite', waitForReplicas: 1 } }).join(), /only applies/);
    assert.match(issues({ store: { type: 'redis' } }).join(), /store\.url: is required/);
    assert.match(issues({ cluster: { redis: { url: 'redis://h' }, outboxBytes: 1000 } }).join(), /outboxBytes/);
  });
});
