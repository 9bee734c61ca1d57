// What an idle MQTT-over-WebSocket connection keeps (issue 18: at most 4 KB per connection): the
// connection object itself stays small (what its endpoint's connections share is one object they
// point to, the frame reader's flags one integer), and Node's cached copies of the socket's
// addresses are let go once read, while the connection still reports the right addresses.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { getHeapSnapshot } from 'node:v8';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { allow, arn, doc } from '../helpers/auth.js';
import { uid } from '../helpers/clients.js';

let server: RunningServer;

before(async () => {
  server = await startInProcessServer({
    auth: { unauthenticatedPolicy: doc(allow(['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], arn('*'))) },
  });
});
after(() => server.stop());

function serverSide(clientId: string) {
  const client = ([...server.clients.all()] as unknown as { clientId: string; connection: { transport: string; remoteAddress: string; localAddress: string; localPort: number; remotePort: number } }[]).find((c) => c.clientId === clientId);
  assert.ok(client, `${clientId} is registered`);
  return client.connection;
}

/** Self sizes of the heap objects named `name` (a heap snapshot of this process). */
async function selfSizes(name: string): Promise<number[]> {
  let text = '';
  for await (const chunk of getHeapSnapshot()) text += String(chunk);
  const snapshot = JSON.parse(text) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const objectType = snapshot.snapshot.meta.node_types[0].indexOf('object');
  const sizes: number[] = [];
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    if (snapshot.nodes[i + iType] === objectType && snapshot.strings[snapshot.nodes[i + iName]!] === name) sizes.push(snapshot.nodes[i + iSize]!);
  }
  return sizes;
}

test('an idle WebSocket connection keeps neither Node cached addresses nor a large connection object, and still knows its ends', async () => {
  const { wsUrl } = endpointsOf(server);
  // Ten: V8 sizes a class's objects by what its first few constructions used (slack tracking).
  const ids = Array.from({ length: 10 }, () => uid('ws-idle'));
  const clients = await Promise.all(ids.map((clientId) => mqtt.connectAsync(wsUrl, { clientId, protocolVersion: 5, reconnectPeriod: 0 })));
  try {
    for (const [i, clientId] of ids.entries()) {
      const connection = serverSide(clientId);
      const socket = (connection as unknown as { socket: Socket & { _peername?: unknown; _sockname?: unknown } }).socket;
      assert.equal(socket._peername, undefined, "Node's cached peer address was let go");
      assert.equal(socket._sockname, undefined, "Node's cached local address was let go");
      // The connection read both ends before letting Node's copies go.
      const own = (clients[i]!.stream as unknown as { _socket?: Socket; socket?: Socket });
      const clientSocket = own._socket ?? own.socket;
      assert.equal(connection.transport, 'ws');
      assert.equal(connection.remoteAddress, '127.0.0.1');
      assert.equal(connection.localAddress, '127.0.0.1');
      assert.equal(connection.localPort, server.httpPort);
      if (clientSocket !== undefined) assert.equal(connection.remotePort, clientSocket.localPort);
      assert.ok(connection.remotePort > 0);
      // Still a working connection after the addresses were dropped from the socket.
      assert.equal(socket.remoteAddress, '127.0.0.1', 'Node answers again from the kernel when asked');
    }
    // 344 bytes before (24 fields of its own); now what is shared or rare lives elsewhere.
    const sizes = await selfSizes('WsConnection');
    assert.ok(sizes.length >= ids.length, `found ${sizes.length} WsConnection objects`);
    assert.ok(Math.max(...sizes) <= 288, `WsConnection self sizes: ${sizes.join(', ')}`);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
});
