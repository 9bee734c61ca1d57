// The session manager on a ManualClock: sessions opened, kept and resumed; expiry at the exact
// millisecond; wills published at once, after their delay, early at the session's end, or never
// when the client returns in time [MQTT-3.1.2-4, 3.1.2-5, 3.1.3-9].
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import type { Session } from '../../src/broker/session.js';
import { FakeConnection } from '../helpers/fake-connection.js';
import { subscribeOptions, testBroker, will } from '../helpers/core.js';

/** A connected listener on `filter`, to see wills arrive. */
function listener(broker: Broker, filter = 'will/#'): FakeConnection {
  const { session } = broker.openSession('listener', 5, true, 0);
  const connection = new FakeConnection('listener').attach(session);
  broker.subscribe(session, filter, subscribeOptions);
  return connection;
}

/** Opens `clientId` with a connection attached, as a front-end does after CONNECT. */
function connect(broker: Broker, clientId: string, expirySeconds: number, cleanStart = false): { session: Session; present: boolean } {
  const opened = broker.openSession(clientId, 5, cleanStart, expirySeconds);
  new FakeConnection(clientId).attach(opened.session);
  return opened;
}

describe('session manager', () => {
  test('a persistent session outlives its connection and is resumed; clean start ends it', () => {
    const { broker } = testBroker();
    const first = connect(broker, 'a', 60);
    assert.equal(first.present, false);
    broker.subscribe(first.session, 't/#', subscribeOptions);
    broker.detachSession(first.session, null);
    assert.equal(broker.sessions.get('a'), first.session);
    assert.equal(first.session.client, null);

    const again = connect(broker, 'a', 60);
    assert.equal(again.present, true);
    assert.equal(again.session, first.session);
    assert.ok(again.session.subscriptions.has('t/#'));

    broker.detachSession(again.session, null);
    const clean = connect(broker, 'a', 60, true);
    assert.equal(clean.present, false);
    assert.notEqual(clean.session, first.session);
    assert.equal(broker.subscriptionCount, 0);
  });

  test('a session with expiry 0 ends with its connection', () => {
    const { broker } = testBroker();
    const { session } = connect(broker, 'a', 0);
    broker.subscribe(session, 't', subscribeOptions);
    broker.detachSession(session, null);
    assert.equal(broker.sessions.has('a'), false);
    assert.equal(broker.subscriptionCount, 0);
  });

  test('an offline session expires at exactly its Session Expiry Interval', () => {
    const { broker, clock } = testBroker();
    const { session } = connect(broker, 'a', 60);
    broker.subscribe(session, 't', subscribeOptions);
    broker.detachSession(session, null);
    clock.advance(59_999);
    assert.equal(broker.sessions.get('a'), session);
    clock.advance(1);
    assert.equal(broker.sessions.has('a'), false);
    assert.equal(broker.subscriptionCount, 0);
  });

  test('a client that returns before expiry keeps its session past the old deadline', () => {
    const { broker, clock } = testBroker();
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, null);
    clock.advance(30_000);
    connect(broker, 'a', 60);
    clock.advance(60_000);
    assert.equal(broker.sessions.get('a'), session);
    assert.equal(clock.pending, 0, 'the expiry timer was cancelled, not left to fire');
  });

  test('a will without delay is published when the connection is lost', () => {
    const { broker } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, will('will/a'));
    assert.deepEqual(seen.topics, ['will/a']);
  });

  test('a delayed will is published when its delay passes', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, will('will/a', 10));
    clock.advance(9_999);
    assert.deepEqual(seen.topics, []);
    clock.advance(1);
    assert.deepEqual(seen.topics, ['will/a']);
    assert.equal(session.pendingWill, null);
  });

  test('a client that reconnects within the will delay cancels its will [MQTT-3.1.3-9]', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, will('will/a', 10));
    clock.advance(5_000);
    connect(broker, 'a', 60);
    clock.advance(3_600_000);
    assert.deepEqual(seen.topics, []);
  });

  test('a will whose delay is longer than the session goes when the session ends', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 30);
    broker.detachSession(session, will('will/a', 100));
    clock.advance(29_999);
    assert.deepEqual(seen.topics, []);
    clock.advance(1);
    assert.deepEqual(seen.topics, ['will/a']);
    assert.equal(broker.sessions.has('a'), false);
  });

  test('ending a session sends a will still waiting for its delay at once', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, will('will/a', 10));
    broker.endSession(session);
    assert.deepEqual(seen.topics, ['will/a']);
    clock.advance(60_000);
    assert.deepEqual(seen.topics, ['will/a'], 'published once, not again when the delay would have passed');
  });

  test('a session released to another node keeps quiet: no will, no expiry', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.subscribe(session, 't', subscribeOptions);
    broker.detachSession(session, will('will/a', 10));
    broker.releaseSession(session);
    assert.equal(broker.sessions.has('a'), false);
    assert.equal(broker.subscriptionCount, 1, "only the listener's subscription is left");
    clock.advance(120_000);
    assert.deepEqual(seen.topics, []);
  });

  test('restored sessions expire for what is left of their interval; an expired one ends at once', () => {
    const { broker, clock } = testBroker();
    const now = clock.now();
    const stored = (clientId: string, disconnectedAt: number) => ({
      clientId,
      protocolVersion: 5 as const,
      expirySeconds: 60,
      disconnectedAt,
      subscriptions: [{ key: 't', ...subscribeOptions }],
      queue: [],
      inflight: [],
      inboundQos2: [],
    });
    assert.equal(broker.restoreSessions([stored('fresh', now - 20_000), stored('stale', now - 61_000)], now), 2);
    assert.equal(broker.sessions.has('stale'), false);
    assert.ok(broker.sessions.has('fresh'));
    clock.advance(39_999);
    assert.ok(broker.sessions.has('fresh'));
    clock.advance(1);
    assert.equal(broker.sessions.has('fresh'), false);
  });

  test('scheduleWill (the cluster reaper): delayed for an offline session, at once without one', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, null);
    broker.scheduleWill(will('will/a', 5), session);
    broker.scheduleWill(will('will/b', 5), undefined);
    assert.deepEqual(seen.topics, ['will/b']);
    clock.advance(5_000);
    assert.deepEqual(seen.topics, ['will/b', 'will/a']);
  });

  test('a will message expiry counts from when the will is published', () => {
    const { broker, clock } = testBroker();
    const seen = listener(broker);
    const { session } = connect(broker, 'a', 60);
    broker.detachSession(session, { ...will('will/a', 10), expirySeconds: 30 });
    clock.advance(10_000);
    assert.equal(seen.delivered[0]?.message.expiresAt, clock.now() + 30_000);
  });
});
