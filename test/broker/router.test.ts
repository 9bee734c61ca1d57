// The router in the test process: publish reaches the matching subscriptions once each (highest
// QoS, every subscription id), shared groups take turns, retained messages are kept and cleared,
// No Local holds a message back from its publisher, iot:Receive refusals are counted, and an
// expired message goes nowhere.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientPermissions } from '../../src/auth/authorization.js';
import type { Broker } from '../../src/broker/broker.js';
import { allowEverything, FakeConnection } from '../helpers/fake-connection.js';
import { message, subscribeOptions, testBroker } from '../helpers/core.js';

function subscriber(broker: Broker, clientId: string, filters: string[], permissions: ClientPermissions = allowEverything, options = subscribeOptions): FakeConnection {
  const { session } = broker.openSession(clientId, 5, true, 0);
  const connection = new FakeConnection(clientId, permissions).attach(session);
  for (const filter of filters) broker.subscribe(session, filter, options);
  return connection;
}

describe('router', () => {
  test('a publish reaches every matching subscription and no other; one broadcast is shared', () => {
    const { broker, counters } = testBroker();
    const a = subscriber(broker, 'a', ['x/+']);
    const b = subscriber(broker, 'b', ['x/y']);
    const c = subscriber(broker, 'c', ['z/#']);
    broker.publish(message('x/y'), 'api');
    broker.publish(message('x/z'), 'api');
    assert.deepEqual(a.topics, ['x/y', 'x/z']);
    assert.deepEqual(b.topics, ['x/y']);
    assert.deepEqual(c.topics, []);
    assert.equal(counters.messagesPublished, 2);
    // Two subscribers of x/y shared one Broadcast; x/z had one subscriber and none.
    assert.ok(a.broadcasts[0] !== null && a.broadcasts[0] === b.broadcasts[0]);
    assert.equal(a.broadcasts[1], null);
  });

  test('overlapping subscriptions give one copy at the highest QoS with every subscription id', () => {
    const { broker } = testBroker();
    const { session } = broker.openSession('a', 5, true, 0);
    const a = new FakeConnection('a').attach(session);
    broker.subscribe(session, 'x/#', { ...subscribeOptions, qos: 0, subscriptionId: 1 });
    broker.subscribe(session, 'x/y', { ...subscribeOptions, qos: 2, subscriptionId: 2 });
    broker.publish(message('x/y', { qos: 1 }), 'api');
    assert.equal(a.delivered.length, 1);
    assert.equal(a.delivered[0]!.qos, 1, 'the lower of the message QoS and the best subscription QoS');
    assert.deepEqual(a.delivered[0]!.subscriptionIds, [1, 2]);
  });

  test('a shared group gives each message to one member, in turn', () => {
    const { broker } = testBroker();
    const a = subscriber(broker, 'a', ['$share/g/jobs/#']);
    const b = subscriber(broker, 'b', ['$share/g/jobs/#']);
    const plain = subscriber(broker, 'p', ['jobs/#']);
    for (let i = 0; i < 4; i++) broker.publish(message(`jobs/${i}`), 'api');
    assert.deepEqual(a.topics, ['jobs/0', 'jobs/2']);
    assert.deepEqual(b.topics, ['jobs/1', 'jobs/3']);
    assert.equal(plain.topics.length, 4);
  });

  test('retained messages are kept per topic and cleared by an empty payload', () => {
    const { broker } = testBroker();
    broker.publish(message('r/1', { retain: true, payload: Buffer.from('one') }), 'api');
    broker.publish(message('r/2', { retain: true, payload: Buffer.from('two') }), 'api');
    broker.publish(message('r/1', { retain: true, payload: Buffer.from('uno') }), 'api');
    assert.deepEqual(broker.retainedFor('r/#').map((m) => m.payload.toString()).sort(), ['two', 'uno']);
    broker.publish(message('r/2', { retain: true, payload: Buffer.alloc(0) }), 'api');
    assert.deepEqual(broker.retainedFor('r/#').map((m) => m.topic), ['r/1']);
  });

  test('No Local keeps a message from the connection that published it [MQTT-3.8.3-3]', () => {
    const { broker } = testBroker();
    const a = subscriber(broker, 'a', ['chat'], allowEverything, { ...subscribeOptions, noLocal: true });
    const b = subscriber(broker, 'b', ['chat'], allowEverything, { ...subscribeOptions, noLocal: true });
    broker.publish(message('chat', { publisherId: 'a' }), 'client');
    assert.deepEqual(a.topics, []);
    assert.deepEqual(b.topics, ['chat']);
  });

  test('a subscriber whose policy denies iot:Receive gets nothing, and the refusal is counted', () => {
    const { broker, counters } = testBroker();
    const deny: ClientPermissions = { ...allowEverything, canReceive: (topic) => !topic.startsWith('secret/') };
    const a = subscriber(broker, 'a', ['#'], deny);
    const b = subscriber(broker, 'b', ['#']);
    broker.publish(message('secret/x'), 'api');
    broker.publish(message('open/x'), 'api');
    assert.deepEqual(a.topics, ['open/x']);
    assert.deepEqual(b.topics, ['secret/x', 'open/x']);
    assert.equal(counters.deniedReceive, 1);
  });

  test('an expired message is dropped and counted; one that expires later is delivered', () => {
    const { broker, clock, counters } = testBroker();
    const a = subscriber(broker, 'a', ['t']);
    broker.publish(message('t', { expiresAt: clock.now() }), 'api');
    broker.publish(message('t', { expiresAt: clock.now() + 1 }), 'api');
    assert.equal(a.delivered.length, 1);
    assert.equal(counters.expiredDropped, 1);
  });

  test('an offline persistent session queues QoS 1 and drops QoS 0', () => {
    const { broker } = testBroker();
    const { session } = broker.openSession('a', 5, true, 60);
    new FakeConnection('a').attach(session);
    broker.subscribe(session, 't', subscribeOptions);
    broker.detachSession(session, null);
    broker.publish(message('t', { qos: 1 }), 'api');
    broker.publish(message('t', { qos: 0 }), 'api');
    assert.equal(session.queueLength, 1);
  });

  test('a message that cannot be encoded is never routed or retained', () => {
    const { broker, counters } = testBroker();
    const a = subscriber(broker, 'a', ['#']);
    broker.publish(message('t', { retain: true, properties: { contentType: 'a\u0000b' } }), 'api');
    assert.deepEqual(a.topics, []);
    assert.deepEqual(broker.retainedFor('#'), []);
    assert.equal(counters.unencodableDropped, 1);
  });

  test('one subscriber that throws does not stop the others', () => {
    const { broker, counters } = testBroker();
    const a = subscriber(broker, 'a', ['t']);
    a.deliver = () => {
      throw new Error('boom');
    };
    const b = subscriber(broker, 'b', ['t']);
    broker.publish(message('t'), 'api');
    assert.deepEqual(b.topics, ['t']);
    assert.equal(counters.deliveryFailures, 1);
  });
});
