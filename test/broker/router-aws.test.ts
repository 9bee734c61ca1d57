// The router under AWS IoT's topic semantics (topics.* false, the aws profile): which retained
// messages a new subscription gets, and which subscriptions a publish reaches.
// AWS: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html ("MQTT retained messages")
// and https://docs.aws.amazon.com/iot/latest/developerguide/topics.html ("sensor/# ... not sensor").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Router } from '../../src/broker/router.js';
import { BrokerHooks } from '../../src/broker/hooks.js';
import { validateConfig } from '../../src/config/load.js';
import { Counters } from '../../src/metrics/counters.js';
import { ManualClock } from '../../src/shared/clock.js';
import { MemoryRetainedStore } from '../../src/store/retained-memory.js';
import { message } from '../helpers/core.js';

function router(topics: { multiLevelWildcardMatchesParent: boolean; retainedForWildcardFilters: boolean } | undefined): Router {
  const retained = new MemoryRetainedStore();
  const r = new Router({ limits: validateConfig({}).limits, retained, counters: new Counters(), logger: pino({ level: 'silent' }), hooks: new BrokerHooks(), clock: new ManualClock(), ...(topics ? { topics } : {}) });
  for (const t of ['a', 'a/b', 'a/b/c', 'x/y']) r.publish(message(t, { retain: true, payload: Buffer.from(t) }), 'client');
  return r;
}

const topicsOf = (r: Router, filter: string) => r.retainedFor(filter).map((m) => m.topic).sort();

describe('router retained delivery', () => {
  test('default (the spec): wildcard filters get every matching retained message, a/# includes a', () => {
    const r = router(undefined);
    assert.deepEqual(topicsOf(r, 'a/#'), ['a', 'a/b', 'a/b/c']);
    assert.deepEqual(topicsOf(r, 'a/+'), ['a/b']);
    assert.deepEqual(topicsOf(r, 'a/b'), ['a/b']);
  });

  test('aws: only a filter equal to the topic gets its retained message', () => {
    const r = router({ multiLevelWildcardMatchesParent: false, retainedForWildcardFilters: false });
    assert.deepEqual(topicsOf(r, 'a/#'), []);
    assert.deepEqual(topicsOf(r, '#'), []);
    assert.deepEqual(topicsOf(r, 'a/+'), []);
    assert.deepEqual(topicsOf(r, 'a/b'), ['a/b']);
    assert.deepEqual(topicsOf(r, 'a'), ['a']);
  });

  test('retained for wildcard filters with AWS matching: the level above the # is left out', () => {
    const r = router({ multiLevelWildcardMatchesParent: false, retainedForWildcardFilters: true });
    assert.deepEqual(topicsOf(r, 'a/#'), ['a/b', 'a/b/c']);
    assert.deepEqual(topicsOf(r, 'a/+/#'), ['a/b/c']);
    assert.deepEqual(topicsOf(r, '#'), ['a', 'a/b', 'a/b/c', 'x/y']);
  });
});
