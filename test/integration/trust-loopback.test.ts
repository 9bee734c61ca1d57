// Issue 13 item 5: loopback is not trusted by address alone. Each reproduction from the issue is
// refused here, and what is still meant to work from this machine (the quick start, the CLI,
// the console) still works. Also: the console's MQTT test client gets its rights from a
// one-time credential, listeners.http.allowedOrigins, and listeners.http.trustedProxies (the
// forwarded client address reaches aws:SourceIp conditions and lifecycle events).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';

import { allow, attemptConnect, doc, fixture, refusalProblem, type Attempt } from '../helpers/auth.js';
import { closeAllClients, connectClient, uid, withTimeout } from '../helpers/clients.js';
import { startServer, stopAllServers, type TestServer } from '../helpers/server.js';

const ARN = 'arn:aws:iot:us-east-1:123456789012:';

interface Reply {
  status: number;
  body: string;
}

/** An HTTP request with exactly these headers (fetch will not send a Host of our choosing). */
function request(server: TestServer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return withTimeout(
    new Promise<Reply>((res, rej) => {
      const req = http.request({ host: '127.0.0.1', port: server.httpPort, method, path, headers, setHost: !('host' in headers) }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
      });
      req.on('error', rej);
      req.end(body);
    }),
    5_000,
    `${method} ${path}`,
  );
}

/** A WebSocket MQTT connect with these upgrade headers (and optional URL query). */
function wsAttempt(server: TestServer, headers: Record<string, string>, query = '', clientId = uid('t')): Promise<Attempt> {
  return attemptConnect(server, { transport: 'ws', url: `${server.wsUrl}${query}`, clientId, wsOptions: { headers } });
}

/** The HTTP status a WebSocket upgrade gets (101 when it opens). */
function upgradeStatus(server: TestServer, headers: Record<string, string>): Promise<number> {
  return withTimeout(
    new Promise<number>((res) => {
      const ws = new WebSocket(server.wsUrl, 'mqtt', { headers });
      ws.on('open', () => {
        ws.terminate();
        res(101);
      });
      ws.on('unexpected-response', (_req, r) => {
        res(r.statusCode ?? 0);
        r.resume();
        ws.terminate();
      });
      ws.on('error', () => undefined);
    }),
    5_000,
    'upgrade',
  );
}

const mustBeRefused = (a: Attempt) => assert.equal(refusalProblem(a, 5), null);

after(async () => {
  await closeAllClients();
  await stopAllServers();
});

describe('default config (anonymous from loopback): only a request from this machine is local', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });

  test('MQTT over TCP and a WebSocket without Origin from loopback are still admitted (the quick start)', async () => {
    assert.ok((await attemptConnect(server, { clientId: uid('tcp') })).accepted);
    assert.ok((await wsAttempt(server, {})).accepted);
    assert.ok((await wsAttempt(server, { Origin: `http://localhost:${server.httpPort}` })).accepted);
  });

  test('a WebSocket with another site\'s Origin is refused (cross-site WebSocket hijacking)', async () => {
    mustBeRefused(await wsAttempt(server, { Origin: 'http://evil.example' }));
    mustBeRefused(await wsAttempt(server, { Origin: 'null' }));
  });

  test('a WebSocket with a rebinding Host or a proxy header is refused', async () => {
    mustBeRefused(await wsAttempt(server, { Host: `rebind.evil.example:${server.httpPort}` }));
    mustBeRefused(await wsAttempt(server, { 'X-Forwarded-For': '203.0.113.5' }));
  });

  test('a cross-site text/plain POST /topics/... is refused and nothing is stored', async () => {
    const path = '/topics/victim%2Ftopic?retain=true';
    const evil = await request(server, 'POST', path, { host: `127.0.0.1:${server.httpPort}`, origin: 'http://evil.example', 'content-type': 'text/plain' }, 'pwned');
    assert.equal(evil.status, 401, evil.body);
    const rebound = await request(server, 'POST', path, { host: `rebind.evil.example:${server.httpPort}`, 'content-type': 'text/plain' }, 'pwned');
    assert.equal(rebound.status, 401, rebound.body);
    const stored = await request(server, 'GET', '/api/retained?filter=victim/%23', {});
    assert.equal(stored.status, 200, stored.body);
    assert.equal((JSON.parse(stored.body) as { total: number }).total, 0, stored.body);
    // The same publish from this machine's own tools works.
    const own = await request(server, 'POST', '/topics/own%2Ftopic?retain=true', { 'content-type': 'text/plain' }, 'ok');
    assert.equal(own.status, 200, own.body);
  });

  test('the admin API refuses a rebinding Host, another site\'s Origin and a proxied request', async () => {
    const body = JSON.stringify({ policyDocuments: [doc(allow('iot:*', '*'))] });
    const json = { 'content-type': 'application/json' };
    for (const headers of [
      { host: `rebind.evil.example:${server.httpPort}` },
      { host: `127.0.0.1:${server.httpPort}`, origin: 'http://evil.example' },
      { host: 'app.example.com', origin: 'https://app.example.com', 'x-forwarded-for': '203.0.113.5' },
    ] as Record<string, string>[]) {
      const keys = await request(server, 'POST', '/api/keys', { ...json, ...headers }, body);
      assert.equal(keys.status, 401, `${JSON.stringify(headers)}: ${keys.body}`);
      const list = await request(server, 'GET', '/api/connections', headers);
      assert.equal(list.status, 401, `${JSON.stringify(headers)}: ${list.body}`);
      const metrics = await request(server, 'GET', '/metrics', headers);
      assert.equal(metrics.status, 401, `${JSON.stringify(headers)}: ${metrics.body}`);
      const session = await request(server, 'GET', '/api/session', headers);
      assert.equal(session.status, 401, `${JSON.stringify(headers)}: ${session.body}`);
    }
    // From this machine, as the CLI calls it.
    const keys = await request(server, 'POST', '/api/keys', json, body);
    assert.ok(keys.status < 300, keys.body);
    assert.equal((await request(server, 'GET', '/api/connections', { host: `localhost:${server.httpPort}` })).status, 200);
  });

  test('the Host that counts: an absolute-form target names its own host (RFC 9112 §3.2.2); a repeated Host is ambiguous', async () => {
    // The router matches /api/keys in `GET http://rebind.evil.example/api/keys`; the Host header
    // must then be ignored, so a loopback Host beside it proves nothing.
    const absolute = await request(server, 'GET', `http://rebind.evil.example:${server.httpPort}/api/keys`, { host: `localhost:${server.httpPort}` });
    assert.equal(absolute.status, 401, absolute.body);
    // Node keeps the first of two Host headers; a proxy may have routed on the other one.
    const twice = await withTimeout(
      new Promise<string>((res, rej) => {
        const socket = net.connect(server.httpPort, '127.0.0.1');
        let text = '';
        socket.on('data', (c) => (text += c.toString()));
        socket.on('end', () => res(text));
        socket.on('error', rej);
        socket.write(`GET /api/keys HTTP/1.1\r\nHost: localhost:${server.httpPort}\r\nHost: rebind.evil.example\r\nConnection: close\r\n\r\n`);
      }),
      5_000,
      'GET with two Host headers',
    );
    assert.match(twice, /^HTTP\/1\.1 401 /, twice);
    assert.equal((await request(server, 'GET', '/api/keys', { host: `localhost:${server.httpPort}` })).status, 200);
  });
});

describe('authorizers configured, anonymous nobody: a reverse proxy on this machine gains nothing', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      auth: {
        authorizers: [{ name: 'Allow', type: 'function', handler: fixture('esm.mjs'), signingDisabled: true }],
        anonymous: 'nobody',
      },
    });
  });

  test('Host app.example.com + Origin https://app.example.com + X-Forwarded-For: not admitted as the console', async () => {
    const proxied = { Host: 'app.example.com', Origin: 'https://app.example.com', 'X-Forwarded-For': '203.0.113.5' };
    mustBeRefused(await wsAttempt(server, proxied));
    // The old same-origin shortcut from loopback, without a proxy header: refused too.
    mustBeRefused(await wsAttempt(server, { Origin: `http://127.0.0.1:${server.httpPort}` }));
    const list = await request(server, 'GET', '/api/connections', { host: 'app.example.com', origin: 'https://app.example.com', 'x-forwarded-for': '203.0.113.5' });
    assert.equal(list.status, 401, list.body);
  });

  test('the console test client connects with a one-time credential from the admin API', async () => {
    const issued = await request(server, 'POST', '/api/console/mqtt-credential', {});
    assert.equal(issued.status, 200, issued.body);
    const { credential, parameter } = JSON.parse(issued.body) as { credential: string; parameter: string };
    assert.equal(parameter, 'x-switchboard-console-credential');
    const query = `?${parameter}=${encodeURIComponent(credential)}`;
    const clientId = uid('console');
    const first = await wsAttempt(server, {}, query, clientId);
    assert.ok(first.accepted, 'the credential admits the console');
    const list = await request(server, 'GET', `/api/connections/${clientId}`, {});
    assert.equal(list.status, 200, list.body);
    assert.equal((JSON.parse(list.body) as { principal: string }).principal, 'console:loopback');
    // Used once: a replay (or MQTT.js reconnecting with the same URL) is refused.
    mustBeRefused(await wsAttempt(server, {}, query));
    // A made-up credential is refused, not passed on to the default authorizer.
    mustBeRefused(await wsAttempt(server, {}, '?x-switchboard-console-credential=made-up'));
  });

  test('the credential route is admin-only: refused through a proxy, a rebinding Host or another site\'s Origin', async () => {
    for (const headers of [{ host: 'app.example.com', 'x-forwarded-for': '203.0.113.5' }, { host: `rebind.evil.example:${server.httpPort}` }, { host: `localhost:${server.httpPort}`, origin: 'http://evil.example' }] as Record<string, string>[]) {
      const r = await request(server, 'POST', '/api/console/mqtt-credential', headers);
      assert.equal(r.status, 401, `${JSON.stringify(headers)}: ${r.body}`);
    }
  });
});

describe('console credential for a signed-in user (sign-in required on loopback too)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      args: ['--set', 'admin.username=admin', '--set', 'admin.password=correct-horse', '--set', 'admin.requireSignInOnLoopback=true', '--anonymous', 'nobody'],
    });
  });

  test('bound to the user; a cookie session needs the CSRF header; nobody without a session', async () => {
    assert.equal((await request(server, 'POST', '/api/console/mqtt-credential', {})).status, 401);
    const signIn = await withTimeout(
      fetch(`${server.httpUrl}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'correct-horse' }) }),
      5_000,
      'sign in',
    );
    assert.equal(signIn.status, 204);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await request(server, 'POST', '/api/console/mqtt-credential', { cookie })).status, 401, 'no CSRF header');
    const issued = await request(server, 'POST', '/api/console/mqtt-credential', { cookie, 'x-switchboard-csrf': '1' });
    assert.equal(issued.status, 200, issued.body);
    const { credential } = JSON.parse(issued.body) as { credential: string };
    const clientId = uid('console');
    assert.ok((await wsAttempt(server, {}, `?x-switchboard-console-credential=${encodeURIComponent(credential)}`, clientId)).accepted);
    const detail = await request(server, 'GET', `/api/connections/${clientId}`, { cookie });
    assert.equal((JSON.parse(detail.body) as { principal: string }).principal, 'console:admin');
    // The session cookie on the upgrade grants nothing by itself any more.
    mustBeRefused(await wsAttempt(server, { Cookie: cookie, Origin: `http://127.0.0.1:${server.httpPort}` }));
  });
});

describe('listeners.http.allowedOrigins', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ args: ['--set', 'listeners.http.allowedOrigins=["https://app.example.com"]'] });
  });

  test('an upgrade from another origin gets 403; a listed origin and non-browser clients are not affected', async () => {
    assert.equal(await upgradeStatus(server, { Origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(server, { Origin: 'https://APP.example.com' }), 101);
    assert.equal(await upgradeStatus(server, {}), 101);
  });
});

describe('listeners.http.trustedProxies: the forwarded client address is what policies and events see', () => {
  // Connect and publish only from 203.0.113.0/24; events readable by the same callers.
  const policy = doc({
    Effect: 'Allow',
    Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'],
    Resource: [`${ARN}*`],
    Condition: { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } },
  } as never);
  let trusting: TestServer;
  let untrusting: TestServer;
  before(async () => {
    [trusting, untrusting] = await Promise.all([
      startServer({ auth: { unauthenticatedPolicy: policy }, args: ['--set', 'listeners.http.trustedProxies=["127.0.0.1/32"]'] }),
      startServer({ auth: { unauthenticatedPolicy: policy } }),
    ]);
  });

  test('from a trusted proxy: aws:SourceIp and the connected event carry the forwarded address', async () => {
    const watcher = await connectClient(trusting, { transport: 'ws', clientId: uid('w'), wsOptions: { headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' } } });
    await watcher.client.subscribeAsync('$aws/events/presence/connected/#', { qos: 1 });
    const clientId = uid('fwd');
    const admitted = await wsAttempt(trusting, { 'X-Forwarded-For': '203.0.113.5' }, '', clientId);
    assert.ok(admitted.accepted);
    const [event] = await watcher.inbox.waitFor(1, 5_000, (m) => m.topic === `$aws/events/presence/connected/${clientId}`);
    assert.equal((JSON.parse(event!.text) as { ipAddress: string }).ipAddress, '203.0.113.5');
    // Outside the allowed block, and the client's own entries to the left are not believed.
    mustBeRefused(await wsAttempt(trusting, { 'X-Forwarded-For': '203.0.113.5, 198.51.100.1' }));
    // The HTTP data plane sees the same address.
    const ok = await request(trusting, 'POST', '/topics/a%2Fb', { 'x-forwarded-for': '203.0.113.5' }, 'x');
    assert.equal(ok.status, 200, ok.body);
    const denied = await request(trusting, 'POST', '/topics/a%2Fb', { 'x-forwarded-for': '198.51.100.1' }, 'x');
    assert.equal(denied.status, 403, denied.body);
  });

  test('a relayed request is never local, and the admin API refuses it', async () => {
    const r = await request(trusting, 'GET', '/api/connections', { 'x-forwarded-for': '127.0.0.1' });
    assert.equal(r.status, 401, r.body);
    // The peer is a trusted proxy: even without a header it speaks for someone else.
    const bare = await request(trusting, 'GET', '/api/connections', {});
    assert.equal(bare.status, 401, bare.body);
  });

  test('without trustedProxies the header is ignored: the peer address is the client', async () => {
    mustBeRefused(await wsAttempt(untrusting, { 'X-Forwarded-For': '203.0.113.5' }));
    const r = await request(untrusting, 'POST', '/topics/a%2Fb', { 'x-forwarded-for': '203.0.113.5' }, 'x');
    assert.equal(r.status, 403, r.body);
  });
});
