// What the router tells a cluster about shared groups: a group "live" on this node while at least
// one member's session has a connection, announced on the first connected member and withdrawn
// with the last (router.ts presenceChanged/refreshLive), whatever the order of subscribe,
// connect, disconnect, unsubscribe and session end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { allowAll } from '../../src/auth/authorization.js';
import { Broker } from '../../src/broker/broker.js';
import type { ClusterHooks } from '../../src/broker/cluster-hooks.js';
import { BrokerHooks } from '../../src/broker/hooks.js';
import { validateConfig } from '../../src/config/load.js';
import { MemoryRetainedStore } from '../../src/store/retained-memory.js';
import { Counters } from '../../src/metrics/counters.js';
import { ManualClock } from '../../src/shared/clock.js';
import { FakeConnection } from '../helpers/fake-connection.js';
import { subscribeOptions } from '../helpers/core.js';

function brokerWithCluster() {
  const calls: string[] = [];
  const cluster: ClusterHooks = {
    forward: () => new Set(),
    interestAdded: () => {},
    interestRemoved: () => {},
    park: () => false,
    whenForwarded: () => false,
    sharedGroupLive: (group, filter, live) => void calls.push(`${live ? '+' : '-'}${group}/${filter}`),
    passOn: () => false,
    interestSettled: () => null,
    claim: async () => {},
    sessionOpened: () => {},
    sessionEnded: () => {},
    divert: () => false,
  };
  const hooks = new BrokerHooks();
  const broker = new Broker({
    limits: validateConfig({}).limits,
    retained: new MemoryRetainedStore(),
    counters: new Counters(),
    logger: pino({ level: 'silent' }),
    authorization: allowAll,
    sessionStore: null,
    afterCommit: (callback) => callback(),
    hooks,
    clock: new ManualClock(),
  });
  hooks.joinCluster(cluster);
  return { broker, calls };
}

test('a shared group is live while one of its members is connected', () => {
  const { broker, calls } = brokerWithCluster();
  const { session: a } = broker.openSession('a', 5, false, 3600);
  const ca = new FakeConnection('a').attach(a);
  broker.subscribe(a, '$share/g/jobs/#', subscribeOptions);
  assert.deepEqual(calls, ['+g/jobs/#'], 'the first connected member makes it live');

  const { session: b } = broker.openSession('b', 5, false, 3600);
  new FakeConnection('b').attach(b);
  broker.subscribe(b, '$share/g/jobs/#', subscribeOptions);
  assert.deepEqual(calls, ['+g/jobs/#'], 'a second one changes nothing');

  broker.detachSession(a, null);
  assert.deepEqual(calls, ['+g/jobs/#'], 'b is still connected');
  b.client = null; // b's connection leaves too (as a front-end detaches)
  assert.deepEqual(calls, ['+g/jobs/#', '-g/jobs/#'], 'no connected member left: withdrawn');

  ca.attach(a);
  assert.deepEqual(calls.at(-1), '+g/jobs/#', 'a persistent member reconnecting makes it live again');
  broker.unsubscribe(a, '$share/g/jobs/#');
  assert.deepEqual(calls.at(-1), '-g/jobs/#', 'its only connected member unsubscribed');
  assert.equal(calls.length, 4);
});

test('a member subscribing while offline (a restored session) does not make the group live', () => {
  const { broker, calls } = brokerWithCluster();
  const { session } = broker.openSession('p', 5, false, 3600);
  broker.subscribe(session, '$share/g/x', subscribeOptions);
  assert.deepEqual(calls, []);
  new FakeConnection('p').attach(session);
  assert.deepEqual(calls, ['+g/x']);
});
