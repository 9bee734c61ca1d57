// An Amplify-style page in a real browser: Debian's Chromium, driven by playwright-core, opens
// examples/identity-pool/index.html, whose script (examples/identity-pool/app.js, bundled here with
// esbuild) gets credentials from the identity pool with @aws-sdk/credential-providers'
// fromCognitoIdentityPool (endpoint pointed at Switchboard, a cross-origin call: CORS), presigns the
// WebSocket URL with @smithy/signature-v4 and connects with MQTT.js. Switchboard runs with
// examples/identity-pool/switchboard.yaml (ports 0); the pool's unauthenticated policy decides.
//
// Needs /usr/bin/chromium and playwright-core; without them the suite is skipped with the reason.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFile, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withTimeout } from '../helpers/clients.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'identity-pool');
const POOL = 'us-east-1:7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a10';
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Serves the page and its bundle (and nothing else) from `dir`, on 127.0.0.1 port 0. */
async function staticServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    if (req.method !== 'GET' || (name !== 'index.html' && name !== 'app.bundle.js')) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, name), (err, data) => {
      if (err) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': TYPES[extname(name)]! }).end(data);
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

/** Bundles app.js for the browser as the example's comment says. */
async function bundle(outDir: string): Promise<void> {
  const esbuild = (await import('esbuild')) as unknown as { build(o: Record<string, unknown>): Promise<unknown> };
  await esbuild.build({
    entryPoints: [join(EXAMPLE, 'app.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(outDir, 'app.bundle.js'),
    logLevel: 'error',
    // esbuild does not apply this package's extension-less "browser" map to its entry point.
    alias: { '@aws-sdk/credential-providers': '@aws-sdk/credential-providers/dist-es/index.browser.js' },
  });
  copyFileSync(join(EXAMPLE, 'index.html'), join(outDir, 'index.html'));
}

interface Page {
  goto(url: string, opts?: { timeout?: number }): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  waitForFunction<A>(fn: (arg: A) => boolean, arg: A, opts?: { timeout?: number }): Promise<unknown>;
  on(event: 'pageerror', fn: (x: { message?: string }) => void): void;
  close(): Promise<void>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

// The page's window.demo, as seen from page.evaluate.
declare const demo: {
  connect(clientId: string): Promise<{ ok: boolean; code?: number | null; error?: string }>;
  subscribe(filter: string): Promise<number[]>;
  publish(topic: string, text: string): Promise<void>;
  end(): Promise<void>;
  lines: string[];
};

const bounded = <T,>(p: Promise<T>, what: string, ms = 10_000) => withTimeout(p, ms, `browser: ${what}`);

const missing = await browserMissing();

describe('browser: identity-pool credentials sign the MQTT WebSocket (examples/identity-pool)', { skip: missing ?? false, timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let files: Awaited<ReturnType<typeof staticServer>> | undefined;
  let server: TestServer | undefined;
  let dir: string | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-idpool-page-'));
    await bundle(dir);
    files = await staticServer(dir);
    server = await startServer({ configFile: join(EXAMPLE, 'switchboard.yaml') });
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await bounded(browser.close(), 'browser.close').catch(() => undefined);
    await files?.close();
    await stopAllServers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(pool = POOL): Promise<Page> {
    const page = await bounded(browser!.newPage(), 'newPage');
    page.on('pageerror', (e) => pageErrors.push(e.message ?? String(e)));
    const query = new URLSearchParams({ endpoint: `http://127.0.0.1:${server!.httpPort}`, pool });
    await page.goto(`${files!.url}/index.html?${query}`, { timeout: 10_000 });
    await page.waitForFunction(() => typeof demo === 'object', undefined, { timeout: 10_000 });
    return page;
  }

  test('web-1 connects with pool credentials; the unauthenticated policy decides subscribe and delivery', async () => {
    const page = await openPage();
    try {
      assert.deepEqual(await bounded(page.evaluate((id) => demo.connect(id), 'web-1'), 'connect'), { ok: true, code: 0 });
      // The principal is the Cognito identity id, as AWS names it.
      await server!.waitForLog((l) => l.msg === 'client connected' && l.clientId === 'web-1' && /^us-east-1:[0-9a-f-]{36}$/.test(String(l.principal)), 5_000);
      assert.deepEqual(await bounded(page.evaluate((f) => demo.subscribe(f), 'public/chat'), 'subscribe'), [1]);
      assert.deepEqual(await bounded(page.evaluate((f) => demo.subscribe(f), 'private/x'), 'subscribe'), [0x87]);
      await bounded(page.evaluate(([t, p]) => demo.publish(t, p), ['public/chat', 'hello from an identity pool'] as const), 'publish');
      await page.waitForFunction((line) => demo.lines.includes(line), 'message public/chat: hello from an identity pool', { timeout: 5_000 });
    } finally {
      await bounded(page.evaluate(() => demo.end(), undefined), 'end').catch(() => undefined);
      await bounded(page.close(), 'page.close');
    }
  });

  test('a client ID outside the policy is refused at CONNECT (0x87), the reason logged', async () => {
    const page = await openPage();
    try {
      assert.deepEqual(await bounded(page.evaluate((id) => demo.connect(id), 'device-1'), 'connect'), { ok: false, code: 0x87 });
      await server!.waitForLog((l) => l.msg === 'connection refused: not authorized' && l.clientId === 'device-1', 5_000);
    } finally {
      await bounded(page.close(), 'page.close');
    }
  });

  test('an unknown identity pool: the SDK raises ResourceNotFoundException and nothing connects', async () => {
    const page = await openPage('us-east-1:00000000-0000-4000-8000-000000000000');
    try {
      assert.deepEqual(await bounded(page.evaluate((id) => demo.connect(id), 'web-2'), 'connect'), { ok: false, error: 'ResourceNotFoundException' });
    } finally {
      await bounded(page.close(), 'page.close');
    }
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });
});
