// The throttles at the MQTT layer, on a ManualClock over an in-memory transport: what is allowed in
// one second, what the excess gets, and that time (not sleeping) refills them. The AWS IoT quotas
// they model: https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { IPubackPacket, ISubackPacket, IConnackPacket, Packet } from 'mqtt-packet';
import { Client } from '../../src/mqtt/client.js';
import { ClientRegistry } from '../../src/mqtt/client-registry.js';
import type { Limits } from '../../src/config/schema.js';
import { MemoryConnection } from '../helpers/memory-connection.js';
import { testBroker, type TestBroker } from '../helpers/core.js';

const logger = pino({ level: 'silent' });

function setup(limits: Partial<Limits>) {
  const tb = testBroker({ limits });
  const registry = new ClientRegistry(tb.broker.limits.connectTimeoutMs, tb.clock);
  return { tb, registry };
}

async function connect(tb: TestBroker, registry: ClientRegistry, clientId: string, protocolVersion: 4 | 5 = 5): Promise<{ client: Client; connection: MemoryConnection; connack: IConnackPacket }> {
  const connection = new MemoryConnection(protocolVersion);
  const client = new Client(connection, tb.broker, registry, logger);
  registry.add(client);
  connection.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId, keepalive: 60 } as Packet, protocolVersion);
  for (let i = 0; i < 100 && connection.sent('connack').length === 0; i++) await new Promise((r) => setImmediate(r));
  const connack = connection.sent('connack')[0] as IConnackPacket;
  assert.ok(connack, 'CONNACK');
  return { client, connection, connack };
}

const pub = (messageId: number): Packet => ({ cmd: 'publish', topic: 't', qos: 1, messageId, payload: Buffer.from('x'), retain: false, dup: false }) as Packet;
const codes = (c: MemoryConnection) => c.sent('puback').map((p) => (p as IPubackPacket).reasonCode ?? 0);

describe('throttles', () => {
  test('"Publish requests per second per connection": the excess is discarded (v5: PUBACK 0x97), the second after allows again', async (t) => {
    const { tb, registry } = setup({ maxPublishesPerSecond: 3 });
    t.after(() => registry.stop());
    const { connection } = await connect(tb, registry, 'p5');
    for (let i = 1; i <= 4; i++) connection.send(pub(i));
    assert.deepEqual(codes(connection), [0, 0, 0, 0x97]);
    assert.equal(tb.counters.throttledPublishes, 1);
    tb.clock.advance(334); // one publish's worth (1/3 s)
    connection.send(pub(5));
    connection.send(pub(6));
    assert.deepEqual(codes(connection).slice(4), [0, 0x97]);
    assert.equal(connection.closed, false);
  });

  test('v3.1.1: the excess QoS 1 PUBLISH gets no PUBACK; the connection stays', async (t) => {
    const { tb, registry } = setup({ maxPublishesPerSecond: 2 });
    t.after(() => registry.stop());
    const { connection } = await connect(tb, registry, 'p3', 4);
    for (let i = 1; i <= 3; i++) connection.send(pub(i), 4);
    assert.deepEqual(connection.sent('puback').map((p) => (p as IPubackPacket).messageId), [1, 2]);
    assert.equal(connection.closed, false);
  });

  test('"Connect requests per second per client ID: 1": a second CONNECT within the second is refused with 0x97, one a second later takes over', async (t) => {
    const { tb, registry } = setup({ maxConnectsPerClientIdPerSecond: 1 });
    t.after(() => registry.stop());
    const first = await connect(tb, registry, 'same');
    assert.equal(first.connack.reasonCode, 0);
    tb.clock.advance(999);
    const second = await connect(tb, registry, 'same');
    assert.equal(second.connack.reasonCode, 0x97);
    assert.equal(first.client.state, 'connected');
    assert.equal((await connect(tb, registry, 'other')).connack.reasonCode, 0, 'another client ID is not affected');
    tb.clock.advance(1);
    const third = await connect(tb, registry, 'same');
    assert.equal(third.connack.reasonCode, 0);
    assert.equal(first.client.state, 'closed', 'taken over');
    assert.equal(tb.counters.throttledConnects, 1);
  });

  test('"Subscriptions per second per account" (per node here): counted per filter across connections, SUBACK 0x97 past it', async (t) => {
    const { tb, registry } = setup({ maxSubscriptionsPerSecond: 3 });
    t.after(() => registry.stop());
    const a = await connect(tb, registry, 'sa');
    const b = await connect(tb, registry, 'sb');
    a.connection.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }, { topic: 'b', qos: 1 }] } as Packet);
    b.connection.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'c', qos: 1 }, { topic: 'd', qos: 1 }] } as Packet);
    assert.deepEqual((a.connection.sent('suback')[0] as ISubackPacket).granted, [1, 1]);
    assert.deepEqual((b.connection.sent('suback')[0] as ISubackPacket).granted, [1, 0x97]);
    tb.clock.advance(1000);
    b.connection.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'd', qos: 1 }] } as Packet);
    assert.deepEqual((b.connection.sent('suback')[1] as ISubackPacket).granted, [1]);
  });

  test('"Throughput per connection ... delayed": past the byte rate the client holds its input until the clock pays the debt', async (t) => {
    const { tb, registry } = setup({ maxInboundBytesPerSecond: 1000 });
    t.after(() => registry.stop());
    const { client, connection } = await connect(tb, registry, 'bytes');
    let holds = 0;
    connection.holdInput = () => {
      holds++;
    };
    const big = (id: number): Packet => ({ cmd: 'publish', topic: 't', qos: 1, messageId: id, payload: Buffer.alloc(500), retain: false, dup: false }) as Packet;
    connection.send(big(1)); // the CONNECT's bytes and this one: under 1000
    assert.equal(holds, 0);
    assert.equal(client.inputDelayMs(), 0);
    connection.send(big(2)); // over: handled, and reading waits
    assert.equal(codes(connection).length, 2, 'what was read is handled, nothing dropped');
    assert.equal(holds, 1);
    const wait = client.inputDelayMs();
    assert.ok(wait > 0 && wait <= 100, `wait ${wait} ms`);
    tb.clock.advance(wait);
    assert.equal(client.inputDelayMs(), 0);
    assert.equal(tb.counters.throttledReads, 1);
  });

  test('all off by default: nothing throttled', async (t) => {
    const { tb, registry } = setup({});
    t.after(() => registry.stop());
    const { connection } = await connect(tb, registry, 'free');
    for (let i = 1; i <= 500; i++) connection.send(pub(i));
    assert.equal(codes(connection).filter((c) => c === 0).length, 500);
    assert.equal((await connect(tb, registry, 'free')).connack.reasonCode, 0);
  });
});
