// The loopback rule (auth/local-request.ts) for the browser front-ends: an anonymous request to
// GET /events (SSE) or GET /ws (JSON over WebSocket) whose target is absolute-form or that repeats
// Host is not local, exactly as for the HTTP data plane (GET /history/... answers 401 there).
// Before: /events and /ws admitted both as anonymous loopback clients.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';

const WS_UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Sends `text` on a raw socket; resolves with what came back once `done(text)` holds or the socket closes (bounded). */
function exchange(port: number, text: string, done: (received: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 5 s; got ${JSON.stringify(received.slice(0, 300))}`));
    }, 5_000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (done(received)) finish();
    });
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.write(text);
  });
}

/** The SSE answer is decided once its head, and for a stream its first event, arrived. */
const sseDecided = (r: string) => /^HTTP\/1\.1 [^2]/.test(r) || r.includes('event: connected');
/** The JSON WebSocket answer: a refusal status, or the first frame after 101 (connected or error). */
const wsDecided = (r: string) => /^HTTP\/1\.1 [^1]/.test(r) || r.includes('"type":"connected"') || r.includes('not-authorized');

describe('loopback rule: absolute-form targets and repeated Host are not local on /events and /ws', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(stopAllServers);

  test('control: a plain loopback request is admitted anonymously', async () => {
    const p = server.httpPort;
    const sse = await exchange(p, `GET /events?topic=a HTTP/1.1\r\nHost: localhost:${p}\r\n\r\n`, sseDecided);
    assert.match(sse, /^HTTP\/1\.1 200/);
    assert.ok(sse.includes('event: connected'), sse);
    const ws = await exchange(p, `GET /ws HTTP/1.1\r\nHost: localhost:${p}\r\n${WS_UPGRADE}\r\n`, wsDecided);
    assert.ok(ws.includes('"type":"connected"'), ws);
  });

  test('GET /events with an absolute-form target is refused', async () => {
    const p = server.httpPort;
    const r = await exchange(p, `GET http://rebind.example/events?topic=a HTTP/1.1\r\nHost: localhost:${p}\r\n\r\n`, sseDecided);
    assert.match(r, /^HTTP\/1\.1 40[13]/, r);
    assert.ok(!r.includes('event: connected'), r);
  });

  test('GET /events with two Host headers is refused', async () => {
    const p = server.httpPort;
    const r = await exchange(p, `GET /events?topic=a HTTP/1.1\r\nHost: localhost:${p}\r\nHost: rebind.example\r\n\r\n`, sseDecided);
    assert.match(r, /^HTTP\/1\.1 40[13]/, r);
  });

  test('GET /ws with two Host headers is refused', async () => {
    const p = server.httpPort;
    const r = await exchange(p, `GET /ws HTTP/1.1\r\nHost: localhost:${p}\r\nHost: rebind.example\r\n${WS_UPGRADE}\r\n`, wsDecided);
    assert.ok(!r.includes('"type":"connected"'), r);
  });

  test('the HTTP data plane agrees: GET /history with two Host headers is 401', async () => {
    const p = server.httpPort;
    const r = await exchange(p, `GET /history/a HTTP/1.1\r\nHost: localhost:${p}\r\nHost: rebind.example\r\nConnection: close\r\n\r\n`, (x) => x.includes('\r\n\r\n'));
    assert.match(r, /^HTTP\/1\.1 401/, r);
  });
});
