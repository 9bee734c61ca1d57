import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { AuthorizerInvokeError, type AuthorizerEvent } from '../../src/auth/authorizer.js';
import { invokeHttpAuthorizer, MAX_HTTP_RESPONSE_BYTES } from '../../src/auth/http-authorizer.js';

const event: AuthorizerEvent = {
  token: 'tok',
  signatureVerified: false,
  protocols: ['mqtt'],
  protocolData: { mqtt: { username: 'alice', password: 'c2VjcmV0', clientId: 'dev1' } },
  connectionMetadata: { id: 'conn-1' },
};

const allow = {
  isAuthenticated: true,
  principalId: 'alice',
  disconnectAfterInSeconds: 3600,
  refreshAfterInSeconds: 300,
  policyDocuments: [],
};

interface Seen {
  method: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

async function rejection(promise: Promise<unknown>): Promise<AuthorizerInvokeError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AuthorizerInvokeError, `expected AuthorizerInvokeError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('invokeHttpAuthorizer', () => {
  let server: Server;
  let base: string;
  let seen: Seen | undefined;
  let seenAuthorization: string | undefined;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>> = {
    '/ok': async (req, res) => {
      seenAuthorization = req.headers.authorization;
      seen = { method: req.method, contentType: req.headers['content-type'], body: await readJson(req) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(allow));
    },
    '/created': (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' }).end(JSON.stringify(allow));
    },
    '/error': (_req, res) => {
      res.writeHead(500).end('database down');
    },
    '/forbidden': (_req, res) => {
      res.writeHead(403).end();
    },
    '/html': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    },
    '/slow': (_req, res) => {
      setTimeout(() => res.writeHead(200).end(JSON.stringify(allow)), 2000).unref();
    },
    '/slow-body': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"isAuthenticated":');
      setTimeout(() => res.end('true}'), 2000).unref();
    },
    '/big': (_req, res) => {
      res.writeHead(200).end(JSON.stringify({ pad: 'x'.repeat(MAX_HTTP_RESPONSE_BYTES) }));
    },
    '/redirect': (_req, res) => {
      res.writeHead(307, { location: '/ok' }).end();
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      const route = routes[(req.url ?? '').split('?')[0] ?? ''];
      if (route === undefined) res.writeHead(404).end();
      else void route(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('POSTs the event as JSON and returns the parsed answer', async () => {
    assert.deepEqual(await invokeHttpAuthorizer(`${base}/ok`, event, 2000), allow);
    assert.deepEqual(seen, { method: 'POST', contentType: 'application/json', body: event });
  });

  test('any 2xx with a JSON body is a result, whatever its content-type', async () => {
    assert.deepEqual(await invokeHttpAuthorizer(`${base}/created`, event, 2000), allow);
  });

  test('a 500 is an HTTP_STATUS error quoting the body', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/error`, event, 2000));
    assert.equal(e.code, 'HTTP_STATUS');
    assert.equal(e.message, `HTTP authorizer ${base}/error answered status 500: "database down"`);
  });

  test('a 403 without a body', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/forbidden`, event, 2000));
    assert.equal(e.message, `HTTP authorizer ${base}/forbidden answered status 403`);
  });

  test('a body that is not JSON', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/html`, event, 2000));
    assert.equal(e.code, 'INVALID_RESULT');
    assert.match(e.message, /answered with a body that is not JSON: "<html>login<\/html>"/);
  });

  test('a slow answer times out', async () => {
    const started = Date.now();
    const e = await rejection(invokeHttpAuthorizer(`${base}/slow`, event, 200));
    assert.equal(e.code, 'TIMEOUT');
    assert.equal(e.message, `HTTP authorizer ${base}/slow timed out after 200 ms`);
    assert.ok(Date.now() - started < 1500);
  });

  test('the timeout covers the body too', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/slow-body`, event, 200));
    assert.equal(e.code, 'TIMEOUT');
  });

  test('an oversized body is refused', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/big`, event, 2000));
    assert.equal(e.code, 'INVALID_RESULT');
    assert.match(e.message, /more than 262144 bytes/);
  });

  test('credentials in the URL are sent as Basic auth', async () => {
    seenAuthorization = undefined;
    const withUser = base.replace('http://', 'http://svc:p%40ss@');
    assert.deepEqual(await invokeHttpAuthorizer(`${withUser}/ok`, event, 2000), allow);
    assert.equal(seenAuthorization, `Basic ${Buffer.from('svc:p@ss').toString('base64')}`);
    const e = await rejection(invokeHttpAuthorizer(`${withUser}/error`, event, 2000));
    assert.doesNotMatch(e.message, /svc|p%40ss/);
  });

  test('redirects are not followed', async () => {
    const e = await rejection(invokeHttpAuthorizer(`${base}/redirect`, event, 2000));
    assert.equal(e.code, 'HTTP_ERROR');
  });

  test('an unreachable endpoint; the query string is kept out of messages', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const e = await rejection(invokeHttpAuthorizer(`http://127.0.0.1:${port}/auth?apiKey=secret`, event, 2000));
    assert.equal(e.code, 'HTTP_ERROR');
    assert.match(e.message, new RegExp(`^HTTP authorizer http://127\\.0\\.0\\.1:${port}/auth request failed: fetch failed`));
    assert.doesNotMatch(e.message, /secret/);
  });
});
