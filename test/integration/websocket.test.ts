// MQTT over WebSocket specifics (MQTT 3.1.1 §6 / MQTT 5 §6): subprotocol negotiation, binary
// frames only, packets not aligned on frame boundaries; and the same framing freedom on TCP.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { WebSocket } from 'ws';
import { connectClient, sleep, subscriber, uid } from '../helpers/clients.js';
import { RawClient, rawConnect } from '../helpers/raw-client.js';
import { useServer } from '../helpers/suite.js';

const server = useServer();

/** Resolves with the selected subprotocol, or rejects if the handshake fails. */
function handshake(url: string, protocols: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, protocols);
    const timer = setTimeout(() => {
      ws.terminate();
      rej(new Error('handshake timed out'));
    }, 3_000);
    ws.once('open', () => {
      clearTimeout(timer);
      const p = ws.protocol;
      ws.terminate();
      res(p);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
  });
}

const connectPacket = (clientId: string): IConnectPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clientId,
  clean: true,
  keepalive: 0,
});

describe('WebSocket handshake', () => {
  test('subprotocols "mqtt" and "mqttv3.1" are accepted and echoed [MQTT-6.0.0-4]', async () => {
    assert.equal(await handshake(server().wsUrl, ['mqtt']), 'mqtt');
    assert.equal(await handshake(server().wsUrl, ['mqttv3.1']), 'mqttv3.1');
    assert.equal(await handshake(server().wsUrl, ['foo', 'mqtt']), 'mqtt');
  });

  test('a handshake offering only foreign subprotocols is not accepted as MQTT', async () => {
    await assert.rejects(handshake(server().wsUrl, ['stomp']));
  });

  test('only /mqtt is an MQTT endpoint', async () => {
    await assert.rejects(handshake(`ws://127.0.0.1:${server().httpPort}/not-mqtt`, ['mqtt']));
  });

  test('the "mqttv3.1" subprotocol carries a working session', async () => {
    const raw = await RawClient.ws(server().wsUrl, { protocolVersion: 4, subprotocols: ['mqttv3.1'] });
    assert.equal(raw.subprotocol, 'mqttv3.1');
    const ack = await raw.connect();
    assert.equal(ack.returnCode, 0);
  });
});

describe('framing', () => {
  test('ws: MQTT packets split across frames and several packets in one frame [MQTT-6.0.0-2]', async () => {
    const topic = uid('frames');
    const raw = await rawConnect('ws', server(), { protocolVersion: 4 });
    const connect = raw.encode(connectPacket(uid('split')));
    raw.sendBytes(connect.subarray(0, 3));
    raw.sendBytes(connect.subarray(3, 9));
    raw.sendBytes(connect.subarray(9));
    const ack = (await raw.expect('connack')) as IConnackPacket;
    assert.equal(ack.returnCode, 0);
    // SUBSCRIBE + PUBLISH (to itself) + PINGREQ in a single frame.
    raw.sendBytes(
      Buffer.concat([
        raw.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }),
        raw.encode({ cmd: 'publish', topic, payload: Buffer.from('coalesced'), qos: 1, messageId: 2, dup: false, retain: false }),
        raw.encode({ cmd: 'pingreq' }),
      ]),
    );
    await raw.expect('suback');
    await raw.expect('puback');
    await raw.expect('pingresp');
    const p = (await raw.expect('publish')) as IPublishPacket;
    assert.equal(p.payload.toString(), 'coalesced');
  });

  test('ws: a text frame closes the connection [MQTT-6.0.0-1]', async () => {
    const raw = await rawConnect('ws', server(), { protocolVersion: 4 });
    await raw.connect();
    raw.sendText('hello');
    await raw.waitClosed(3_000);
  });

  test('tcp: a CONNECT written one byte at a time, then packets coalesced in one write', async () => {
    const topic = uid('bytewise');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const connect = raw.encode({ ...connectPacket(uid('bytes')), protocolVersion: 5 });
    for (const byte of connect) {
      raw.sendBytes([byte]);
      await sleep(2);
    }
    const ack = (await raw.expect('connack')) as IConnackPacket;
    assert.equal(ack.reasonCode, 0);
    raw.sendBytes(
      Buffer.concat([
        raw.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }),
        raw.encode({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false }),
      ]),
    );
    await raw.expect('suback');
    await raw.expect('publish');
  });

  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport}: a 120 KB message (under the 128 KB packet limit) goes through both ways`, async () => {
      const topic = uid('large');
      const sub = await subscriber(server(), topic, 1, { transport, protocolVersion: 4 });
      const pub = await connectClient(server(), { transport, protocolVersion: 5 });
      const payload = Buffer.alloc(120 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
      await pub.client.publishAsync(topic, payload, { qos: 1 });
      const [m] = await sub.inbox.waitFor(1);
      assert.ok(m!.payload.equals(payload));
    });
  }
});
