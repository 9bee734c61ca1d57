// The MQTT connection on a ManualClock over an in-memory transport: a client silent for 1.5x its
// keep-alive is disconnected [MQTT-3.1.2-24] and one that keeps talking is not; a connection that
// never sends CONNECT is closed after limits.connectTimeoutMs; a lost connection detaches its
// session and publishes its will.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Client } from '../../src/mqtt/client.js';
import { ClientRegistry } from '../../src/mqtt/client-registry.js';
import { RC } from '../../src/protocol/reason-codes.js';
import { FakeConnection } from '../helpers/fake-connection.js';
import { MemoryConnection } from '../helpers/memory-connection.js';
import { subscribeOptions, testBroker, type TestBroker } from '../helpers/core.js';

const logger = pino({ level: 'silent' });

function accept(t: TestBroker, registry: ClientRegistry, protocolVersion: 3 | 4 | 5 = 5): { client: Client; connection: MemoryConnection } {
  const connection = new MemoryConnection(protocolVersion);
  const client = new Client(connection, t.broker, registry, logger);
  registry.add(client);
  return { client, connection };
}

/** Sends CONNECT and waits (bounded) for the authorizer's answer and the CONNACK. */
async function connect(connection: MemoryConnection, fields: { clientId: string; keepalive: number; protocolVersion?: 4 | 5; will?: { topic: string; payload: Buffer; qos: 0; retain: false } }): Promise<void> {
  const protocolVersion = fields.protocolVersion ?? 5;
  connection.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId: fields.clientId, keepalive: fields.keepalive, ...(fields.will ? { will: fields.will } : {}) }, protocolVersion);
  for (let i = 0; i < 100 && connection.sent('connack').length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(connection.sent('connack').length, 1, 'CONNACK');
}

describe('MQTT connection', () => {
  test('a client silent for 1.5x its keep-alive is disconnected with 0x8D; not a millisecond sooner', async (t) => {
    const tb = testBroker();
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { client, connection } = accept(tb, registry);
    await connect(connection, { clientId: 'k', keepalive: 10 });
    assert.equal(client.state, 'connected');
    tb.clock.advance(15_000); // exactly 1.5 x 10 s: not yet past it
    assert.equal(connection.closed, false);
    tb.clock.advance(250); // the next sweep
    assert.equal(connection.closed, true);
    const disconnect = connection.sent('disconnect');
    assert.equal(disconnect.length, 1);
    assert.equal((disconnect[0] as { reasonCode?: number }).reasonCode, RC.keepAliveTimeout);
    assert.equal(client.state, 'closed');
    assert.equal(tb.broker.sessions.has('k'), false);
  });

  test('a client that sends something within each keep-alive period stays connected', async (t) => {
    const tb = testBroker();
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { connection } = accept(tb, registry);
    await connect(connection, { clientId: 'k', keepalive: 10 });
    for (let i = 0; i < 10; i++) {
      tb.clock.advance(10_000);
      connection.send({ cmd: 'pingreq' });
    }
    assert.equal(connection.closed, false);
    assert.equal(connection.sent('pingresp').length, 10);
  });

  test('keep-alive 0 on MQTT 3.1.1 means no keep-alive', async (t) => {
    const tb = testBroker();
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { connection } = accept(tb, registry, 4);
    await connect(connection, { clientId: 'k', keepalive: 0, protocolVersion: 4 });
    tb.clock.advance(3600_000); // well past 1.5x any keep-alive the server allows (maxKeepAliveSeconds 1200)
    assert.equal(connection.closed, false);
  });

  test('a connection that never sends CONNECT is closed after the CONNECT timeout', (t) => {
    const tb = testBroker({ limits: { connectTimeoutMs: 2_000 } });
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { client, connection } = accept(tb, registry);
    tb.clock.advance(2_000);
    assert.equal(connection.closed, false);
    tb.clock.advance(250);
    assert.equal(connection.closed, true);
    assert.equal(connection.closedBy, 'destroy');
    assert.equal(connection.received.length, 0, 'nothing is said to a client that never spoke MQTT');
    assert.equal(client.state, 'closed');
    assert.equal(registry.size, 0);
  });

  test('a lost connection publishes its will to subscribers', async (t) => {
    const tb = testBroker();
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { session } = tb.broker.openSession('listener', 5, true, 0);
    const listener = new FakeConnection('listener').attach(session);
    tb.broker.subscribe(session, 'will/#', subscribeOptions);
    const { connection } = accept(tb, registry);
    await connect(connection, { clientId: 'w', keepalive: 10, will: { topic: 'will/w', payload: Buffer.from('gone'), qos: 0, retain: false } });
    assert.deepEqual(listener.topics, []);
    tb.clock.advance(15_250);
    assert.deepEqual(listener.topics, ['will/w']);
    assert.equal(listener.delivered[0]!.message.payload.toString(), 'gone');
  });

  test('details() describes the connection for the APIs', async (t) => {
    const tb = testBroker();
    const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
    t.after(() => registry.stop());
    const { client, connection } = accept(tb, registry);
    await connect(connection, { clientId: 'd', keepalive: 30 });
    const details = client.details();
    assert.equal(details.clientId, 'd');
    assert.equal(details.protocol, 'mqtt');
    assert.equal(details.protocolVersion, '5.0');
    assert.equal(details.keepAliveSeconds, 30);
    assert.equal(details.connectedAt, tb.clock.now());
    assert.equal(tb.broker.sessions.get('d')?.client, client);
  });
});
