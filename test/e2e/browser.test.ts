// The scenario in a real browser: Debian's Chromium, driven by playwright-core, opens
// examples/browser/index.html, whose MQTT.js browser bundle connects to
// ws://localhost:PORT/mqtt?x-amz-customauthorizer-name=Unauthenticated as client-1. Switchboard
// runs with examples/switchboard.yaml (ports 0); a Node MQTT.js observer on the same server
// (anonymous from loopback) checks what was delivered.
//
// Needs /usr/bin/chromium (scripts/install-browser.sh) and the playwright-core package; without
// them the suite is skipped with the reason.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAllClients, connectClient, subscriber, uid, withTimeout } from '../helpers/clients.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';

const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'switchboard.yaml');

// Only what the page needs is served: the examples and MQTT.js's browser bundle.
const SERVED = ['/examples/', '/node_modules/mqtt/dist/'];
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };

/** A tiny static file server for the repository, on 127.0.0.1 port 0. */
async function staticServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (req.method !== 'GET' || !SERVED.some((p) => path.startsWith(p))) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(REPO_ROOT, path), (err, data) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(data);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((res) => server.close(() => res()));
    },
  };
}

// Types of the parts of playwright-core used here (it may be absent: imported at run time).
interface Page {
  goto(url: string, opts?: { timeout?: number }): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  click(selector: string, opts?: { timeout?: number }): Promise<void>;
  waitForFunction<A>(fn: (arg: A) => boolean, arg: A, opts?: { timeout?: number }): Promise<unknown>;
  on(event: 'console' | 'pageerror', fn: (x: { text?: () => string; message?: string }) => void): void;
  close(): Promise<void>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface PageResult {
  ok: boolean;
  code?: number | null;
  closed?: boolean;
  codes?: number[];
}

// The page's window.demo, as seen from page.evaluate.
declare const demo: {
  connect(o: { protocolVersion: number }): Promise<PageResult>;
  subscribe(filters: string | string[], qos?: number): Promise<{ codes: number[] }>;
  publish(topic: string, payload: string, qos?: number): Promise<PageResult>;
  end(): Promise<void>;
  closed: boolean;
  lines: string[];
};

/** Every browser round trip is bounded: playwright's evaluate has no timeout of its own. */
const bounded = <T>(p: Promise<T>, what: string, ms = 5_000) => withTimeout(p, ms, `browser: ${what}`);

const missing = await browserMissing();

describe('browser: examples/browser/index.html with the Unauthenticated authorizer', { skip: missing ?? false }, () => {
  let browser: Browser | undefined;
  let files: Awaited<ReturnType<typeof staticServer>> | undefined;
  let server: TestServer | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    files = await staticServer();
    // --anonymous loopback admits the Node observer; the page names the authorizer.
    server = await startServer({ configFile: EXAMPLE_CONFIG, args: ['--anonymous', 'loopback'] });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAllClients();
    if (browser) await bounded(browser.close(), 'browser.close', 10_000).catch(() => undefined);
    await files?.close();
    await stopAllServers();
  });

  async function openPage(): Promise<Page> {
    const page = await bounded(browser!.newPage(), 'newPage');
    page.on('pageerror', (e) => pageErrors.push(e.message ?? String(e)));
    await page.goto(`${files!.url}/examples/browser/index.html?port=${server!.httpPort}`, { timeout: 10_000 });
    return page;
  }

  for (const version of [5, 4] as const) {
    test(`MQTT ${version === 5 ? '5' : '3.1.1'}: client-1 may publish to client and subscribe to server, nothing else`, async () => {
      const s = server!;
      const observer = await subscriber(s, ['client', 'server'], 1, { clientId: uid('observer') });
      const page = await openPage();
      try {
        const connected = await bounded(page.evaluate((v) => demo.connect({ protocolVersion: v }), version), 'connect');
        assert.deepEqual(connected, { ok: true, code: 0 }, 'client-1 connects through the authorizer');
        await s.waitForLog((l) => l.msg === 'client connected' && l.clientId === 'client-1' && l.principal === 'Unauthenticated', 3_000);

        const refused = version === 5 ? 0x87 : 0x80;
        const sub = (f: string | string[]) => bounded(page.evaluate((filters) => demo.subscribe(filters, 1), f), `subscribe ${f}`);
        assert.deepEqual((await sub('server')).codes, [1], 'subscribe server: granted');
        assert.deepEqual((await sub('client')).codes, [refused], 'subscribe client: refused');
        assert.deepEqual((await sub('#')).codes, [refused], 'subscribe #: refused');

        const pub = (topic: string, payload: string) =>
          bounded(page.evaluate(([t, p]) => demo.publish(t, p, 1), [topic, payload] as const), `publish to ${topic}`);
        assert.deepEqual(await pub('client', 'hello from the browser'), { ok: true });
        const got = await observer.inbox.waitFor(1, 3_000, (m) => m.topic === 'client');
        assert.equal(got[0]!.text, 'hello from the browser');

        const denied = await pub('server', 'must not arrive');
        if (version === 5) {
          assert.deepEqual(denied, { ok: false, code: 0x87 }, 'v5: PUBACK 0x87');
          assert.equal(await bounded(page.evaluate(() => demo.closed, undefined), 'demo.closed'), false);
          assert.deepEqual(await pub('client', 'sentinel'), { ok: true });
        } else {
          assert.deepEqual(denied, { ok: false, closed: true }, 'v3.1.1: the connection is closed');
          const p = await connectClient(s, { clientId: uid('sentinel') });
          await p.client.publishAsync('client', 'sentinel', { qos: 1 });
        }
        await observer.inbox.waitFor(1, 3_000, (m) => m.text === 'sentinel');
        assert.deepEqual(observer.inbox.texts((m) => m.topic === 'server'), [], 'nothing reached server');
      } finally {
        await bounded(page.evaluate(() => demo.end(), undefined), 'end').catch(() => undefined);
        await bounded(page.close(), 'page.close');
      }
    });
  }

  test('the page works by hand: the Connect button connects, Publish publishes', async () => {
    const observer = await subscriber(server!, 'client', 1, { clientId: uid('observer') });
    const page = await openPage();
    try {
      await page.click('#connect', { timeout: 5_000 });
      await page.waitForFunction(() => demo.lines.includes('CONNACK 0x00'), undefined, { timeout: 5_000 });
      await page.click('#publish', { timeout: 5_000 });
      const got = await observer.inbox.waitFor(1, 3_000);
      assert.equal(got[0]!.text, 'hello from the browser');
    } finally {
      await bounded(page.evaluate(() => demo.end(), undefined), 'end').catch(() => undefined);
      await bounded(page.close(), 'page.close');
    }
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });
});
