// An idle event stream holds no more than its socket and its client (issue 15): once the stream
// begins, Node's HTTP server lets go of the request, the response and the parser, as it does for an
// upgraded socket, and the stream still works (and ends) without them.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { allow, arn, doc } from '../helpers/auth.js';
import { SseReader } from '../helpers/sse.js';
import { uid } from '../helpers/clients.js';

let server: RunningServer;

before(async () => {
  server = await startInProcessServer({
    mqtt: true,
    auth: { unauthenticatedPolicy: doc(allow(['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], arn('*'))) },
  });
});
after(() => server.stop());

/** The server side of a client's socket (SocketConnection keeps it protected). */
function serverSocket(clientId: string): Socket {
  const client = ([...server.clients.all()] as unknown as { clientId: string; connection: unknown }[]).find((c) => c.clientId === clientId);
  assert.ok(client, `${clientId} is registered`);
  return (client.connection as unknown as { socket: Socket }).socket;
}

test('a begun event stream keeps none of the HTTP request, response or parser', async () => {
  const { httpUrl, mqttUrl } = endpointsOf(server);
  const clientId = uid('sse-idle');
  const topic = `${clientId}/t`;
  const reader = await SseReader.open(`${httpUrl}/events?clientId=${clientId}&topic=${encodeURIComponent(topic)}`);
  try {
    await reader.named('subscribed');
    const socket = serverSocket(clientId) as Socket & { _httpMessage?: unknown; parser?: unknown };
    assert.equal(socket._httpMessage ?? null, null, 'the ServerResponse is detached from the socket');
    assert.equal(socket.parser ?? null, null, "the socket is off Node's HTTP parser");
    const names = (event: string) => socket.listeners(event).map((f) => f.name);
    assert.ok(!names('close').includes('bound socketOnClose') && !names('close').includes('onServerResponseClose'), `close: ${names('close').join(', ')}`);
    assert.ok(!names('drain').includes('bound socketOnDrain'), `drain: ${names('drain').join(', ')}`);
    assert.ok(!names('error').includes('socketOnError'), `error: ${names('error').join(', ')}`);

    // Still a working stream: a message arrives, and closing it ends the connection.
    const publisher = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await publisher.publishAsync(topic, JSON.stringify({ n: 1 }));
      const message = JSON.parse((await reader.named('message')).data);
      assert.deepEqual({ topic: message.topic, payload: message.payload }, { topic, payload: { n: 1 } });
    } finally {
      await publisher.endAsync(true);
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    reader.close();
    await closed;
  } finally {
    reader.close();
  }
});

test('stopping the server still closes a begun stream whose reader keeps its side open', async () => {
  const own = await startInProcessServer({ auth: { unauthenticatedPolicy: doc(allow(['iot:Connect', 'iot:Subscribe', 'iot:Receive'], arn('*'))) } });
  const clientId = uid('sse-stop');
  // A reader that does not close when the server ends its side (EventSource and fetch do).
  const raw = connect({ host: '127.0.0.1', port: own.httpPort!, allowHalfOpen: true });
  raw.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      raw.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('event: subscribed')) resolve();
      });
      raw.once('close', () => reject(new Error(`closed before subscribed: ${text}`)));
      raw.write(`GET /events?clientId=${clientId}&topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
    const client = ([...own.clients.all()] as unknown as { clientId: string; connection: unknown }[]).find((c) => c.clientId === clientId);
    assert.ok(client);
    const socket = (client.connection as unknown as { socket: Socket }).socket;
    await own.stop();
    // Node's closeAllConnections() destroyed it before; off the parser, the events route must.
    assert.equal(socket.destroyed, true);
  } finally {
    raw.destroy();
  }
});
