// AWS IoT lifecycle events on $aws/events/..., checked field by field on a real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { rawConnect } from '../helpers/raw-client.js';

after(stopAllServers);

type Event = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('lifecycle events', () => {
  let server: TestServer;
  let watcher: MqttClient;
  const events: { topic: string; event: Event }[] = [];

  before(async () => {
    server = await startServer({});
    watcher = await mqtt.connectAsync(server.mqttUrl, { clientId: 'event-watcher', reconnectPeriod: 0 });
    watcher.on('message', (topic, payload) => events.push({ topic, event: JSON.parse(payload.toString()) as Event }));
    await watcher.subscribeAsync(['$aws/events/presence/+/+', '$aws/events/subscriptions/+/+'], { qos: 1 });
  });
  after(async () => {
    await watcher.endAsync();
  });

  async function waitFor(pred: (e: { topic: string; event: Event }) => boolean, what: string, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit.event;
      if (Date.now() > deadline) throw new Error(`no ${what} event; saw ${JSON.stringify(events.map((e) => e.topic))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const connectedOf = (id: string) => waitFor((e) => e.topic === `$aws/events/presence/connected/${id}`, `connected/${id}`);
  const disconnectedOf = (id: string) => waitFor((e) => e.topic === `$aws/events/presence/disconnected/${id}`, `disconnected/${id}`);

  test('a normal session: connected, subscribed, unsubscribed, disconnected, every field', async () => {
    const c = await mqtt.connectAsync(server.mqttUrl, { clientId: 'normal-1', reconnectPeriod: 0 });
    const connected = await connectedOf('normal-1');
    assert.deepEqual(Object.keys(connected).sort(), ['clientId', 'eventType', 'ipAddress', 'principalIdentifier', 'sessionIdentifier', 'timestamp', 'versionNumber']);
    assert.equal(connected.clientId, 'normal-1');
    assert.equal(connected.eventType, 'connected');
    assert.equal(connected.ipAddress, '127.0.0.1');
    assert.equal(connected.principalIdentifier, 'anonymous');
    assert.match(String(connected.sessionIdentifier), UUID);
    assert.ok(Math.abs(Number(connected.timestamp) - Date.now()) < 10_000);
    assert.equal(typeof connected.versionNumber, 'number');

    await c.subscribeAsync(['n/a', 'n/b'], { qos: 1 });
    const subscribed = await waitFor((e) => e.topic === '$aws/events/subscriptions/subscribed/normal-1', 'subscribed');
    assert.deepEqual(subscribed.topics, ['n/a', 'n/b']);
    assert.equal(subscribed.eventType, 'subscribed');
    assert.equal(subscribed.sessionIdentifier, connected.sessionIdentifier);
    await c.unsubscribeAsync('n/a');
    const unsubscribed = await waitFor((e) => e.topic === '$aws/events/subscriptions/unsubscribed/normal-1', 'unsubscribed');
    assert.deepEqual(unsubscribed.topics, ['n/a']);

    await c.endAsync();
    const disconnected = await disconnectedOf('normal-1');
    assert.deepEqual(Object.keys(disconnected).sort(), [
      'clientId', 'clientInitiatedDisconnect', 'disconnectReason', 'eventType', 'principalIdentifier', 'sessionIdentifier', 'timestamp', 'versionNumber',
    ]);
    assert.equal(disconnected.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
    assert.equal(disconnected.clientInitiatedDisconnect, true);
    assert.equal(disconnected.versionNumber, connected.versionNumber, 'a connect and its disconnect share versionNumber');
    assert.equal(disconnected.sessionIdentifier, connected.sessionIdentifier);
  });

  test('takeover: DUPLICATE_CLIENTID for the first connection, a higher versionNumber for the second', async () => {
    const first = await mqtt.connectAsync(server.mqttUrl, { clientId: 'dup-1', reconnectPeriod: 0, protocolVersion: 5 });
    first.on('error', () => {});
    const c1 = await connectedOf('dup-1');
    const second = await mqtt.connectAsync(server.mqttUrl, { clientId: 'dup-1', reconnectPeriod: 0, protocolVersion: 5 });
    const d = await disconnectedOf('dup-1');
    assert.equal(d.disconnectReason, 'DUPLICATE_CLIENTID');
    assert.equal(d.clientInitiatedDisconnect, false);
    assert.equal(d.versionNumber, c1.versionNumber);
    await waitFor(() => events.filter((e) => e.topic === '$aws/events/presence/connected/dup-1').length === 2, 'second connected');
    assert.ok(Number(events.filter((e) => e.topic === '$aws/events/presence/connected/dup-1')[1]!.event.versionNumber) > Number(c1.versionNumber));
    first.end(true);
    await second.endAsync();
  });

  test('keep-alive expiry: MQTT_KEEP_ALIVE_TIMEOUT', async () => {
    const raw = await rawConnect('tcp', server, { protocolVersion: 4 });
    await raw.connect({ clientId: 'sleepy-1', keepalive: 1 });
    await connectedOf('sleepy-1');
    const d = await disconnectedOf('sleepy-1');
    assert.equal(d.disconnectReason, 'MQTT_KEEP_ALIVE_TIMEOUT');
    assert.equal(d.clientInitiatedDisconnect, false);
  });

  test('a killed client: CONNECTION_LOST', async () => {
    const raw = await rawConnect('tcp', server, { protocolVersion: 4 });
    await raw.connect({ clientId: 'killed-1', keepalive: 60 });
    await connectedOf('killed-1');
    raw.destroy();
    const d = await disconnectedOf('killed-1');
    assert.equal(d.disconnectReason, 'CONNECTION_LOST');
  });

  test('a protocol violation: CLIENT_ERROR', async () => {
    const raw = await rawConnect('tcp', server, { protocolVersion: 4 });
    await raw.connect({ clientId: 'rude-1', keepalive: 60 });
    await connectedOf('rude-1');
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rude-1', clean: true, keepalive: 0 });
    const d = await disconnectedOf('rude-1');
    assert.equal(d.disconnectReason, 'CLIENT_ERROR');
  });

  test('DeleteConnection: API_INITIATED_DISCONNECT', async () => {
    const c = await mqtt.connectAsync(server.mqttUrl, { clientId: 'api-1', reconnectPeriod: 0 });
    c.on('error', () => {});
    await connectedOf('api-1');
    const r = await fetch(`${server.httpUrl}/connections/api-1`, { method: 'DELETE' });
    assert.equal(r.status, 200);
    const d = await disconnectedOf('api-1');
    assert.equal(d.disconnectReason, 'API_INITIATED_DISCONNECT');
    c.end(true);
  });

  test('clients cannot publish to $aws/events topics', async () => {
    const c = await mqtt.connectAsync(server.mqttUrl, { clientId: 'forger', reconnectPeriod: 0, protocolVersion: 5 });
    await assert.rejects(c.publishAsync('$aws/events/presence/connected/someone', '{}', { qos: 1 }));
    await c.endAsync();
    assert.equal(events.some((e) => e.topic === '$aws/events/presence/connected/someone'), false);
  });
});

describe('lifecycle events can be switched off', () => {
  test('events.connected: false', async () => {
    const server = await startServer({ args: ['--set', 'events.connected=false'] });
    const watcher = await mqtt.connectAsync(server.mqttUrl, { clientId: 'w2', reconnectPeriod: 0 });
    const seen: string[] = [];
    watcher.on('message', (t) => seen.push(t));
    await watcher.subscribeAsync('$aws/events/presence/+/+', { qos: 1 });
    const c = await mqtt.connectAsync(server.mqttUrl, { clientId: 'quiet-1', reconnectPeriod: 0 });
    await c.endAsync();
    const deadline = Date.now() + 3000;
    while (!seen.includes('$aws/events/presence/disconnected/quiet-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(seen.includes('$aws/events/presence/disconnected/quiet-1'));
    assert.ok(!seen.includes('$aws/events/presence/connected/quiet-1'));
    await watcher.endAsync();
  });
});
