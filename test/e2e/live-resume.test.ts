// Resume without loss in a real browser with no library (issue 15, "How it is checked"): Debian's
// Chromium, driven by playwright-core, opens examples/browser/live.html, which uses only the native
// WebSocket and EventSource. Switchboard runs in this process with the SQLite store in a temporary
// directory and a `history` rule; MQTT.js publishes a numbered stream. Two ways to lose the
// connection mid-stream:
//   - the server is stopped and started again (same database, same port), and publishing goes on;
//   - the network drops: the page talks to Switchboard through a TCP proxy written here, which
//     resets every connection it carries once, while the stream flows, and then accepts again.
// The WebSocket page comes back with `since` (the last id it got), the EventSource page by itself
// with Last-Event-ID. Either way every message of the stream arrives exactly once, in order: the
// last one is published after the page is back, so a duplicate or a gap would show before it.
//
// Needs /usr/bin/chromium and playwright-core; without them the suite is skipped with the reason.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { serveExamples, type Browser, type Page } from '../helpers/examples-page.js';
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { uid, withTimeout } from '../helpers/clients.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';



/**
 * A TCP proxy on a loopback port to Switchboard's HTTP port. `cut()` resets every connection it
 * carries (an RST to the browser, as when a network path dies) and keeps accepting new ones.
 */
class CuttingProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  port = 0;

  constructor(private readonly target: number) {}

  async listen(): Promise<void> {
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Resets every carried connection; returns how many there were. */
  cut(): number {
    const n = this.pairs.size;
    for (const { client, upstream } of [...this.pairs]) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
    return n;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((res) => this.server.close(() => res()));
  }
}

type Frame = Record<string, unknown> & { type: string };
declare const live: {
  connect(query?: string): Promise<Frame>;
  request(frame: Record<string, unknown>): Promise<Frame>;
  subscribe(filters: string[]): Promise<Frame>;
  listen(filter: string, query?: string): Promise<Frame>;
  frames: Frame[];
  events: Frame[];
  closed?: { code: number; reason: string };
  subscribed?: number;
  resets?: number;
};

const bounded = <T>(p: Promise<T>, what: string, ms = 5_000) => withTimeout(p, ms, `browser: ${what}`);

const missing = await browserMissing();

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('browser: resume after a restart and after a dropped network (examples/browser/live.html)', { skip: missing ?? false }, () => {
  let browser: Browser | undefined;
  let files: Awaited<ReturnType<typeof serveExamples>> | undefined;
  let server: RunningServer | undefined;
  let proxy: CuttingProxy | undefined;
  let dir = '';
  let httpPort = 0;
  const pageErrors: string[] = [];
  const clients: mqtt.MqttClient[] = [];

  /** Starts Switchboard on the SQLite database in `dir`, on `httpPort` once it has one. */
  async function start(): Promise<void> {
    server = await startServer(
      validateConfig({
        listeners: { http: { host: '127.0.0.1', port: httpPort }, mqtt: { host: '127.0.0.1', port: 0 } },
        store: { type: 'sqlite', path: dir },
        log: { level: 'silent' },
        history: [{ filter: 'kept/#', maxMessages: 500, maxAgeSeconds: 0 }],
      }),
    );
    httpPort = server.httpPort!;
  }

  async function publisher(): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${server!.mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  /** QoS 1: acknowledged after the commit that holds the history append. */
  async function publish(c: mqtt.MqttClient, topic: string, payloads: string[]): Promise<void> {
    for (const p of payloads) await withTimeout(c.publishAsync(topic, p, { qos: 1 }), 5000, `publish ${p}`);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-live-resume-'));
    files = await serveExamples();
    await start();
    proxy = new CuttingProxy(httpPort);
    await proxy.listen();
    browser = await launchChromium();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    if (browser) await bounded(browser.close(), 'browser.close', 10_000).catch(() => undefined);
    await files?.close();
    await proxy?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(port: number): Promise<Page> {
    const page = await bounded(browser!.newPage(), 'newPage');
    page.on('pageerror', (e) => pageErrors.push(e.message ?? String(e)));
    await page.goto(`${files!.url}/examples/browser/live.html?port=${port}`, { timeout: 10_000 });
    return page;
  }

  /** The payloads of the messages the page's WebSocket received on `topic`, in order. */
  const wsPayloads = (page: Page, topic: string) =>
    page.evaluate((t) => live.frames.filter((f) => f.type === 'message' && f.topic === t).map((f) => String(f.payload)), topic);
  const ssePayloads = (page: Page, topic: string) => page.evaluate((t) => live.events.filter((e) => e.topic === t).map((e) => String(e.payload)), topic);
  const wsCount = (page: Page, topic: string, n: number, what: string, ms = 10_000) =>
    bounded(page.waitForFunction(([t, k]) => live.frames.filter((f) => f.type === 'message' && f.topic === t).length >= k, [topic, n] as [string, number], { timeout: ms }), what, ms + 2000);
  const sseCount = (page: Page, topic: string, n: number, what: string, ms = 10_000) =>
    bounded(page.waitForFunction(([t, k]) => live.events.filter((e) => e.topic === t).length >= k, [topic, n] as [string, number], { timeout: ms }), what, ms + 2000);

  /** In the page: a new WebSocket, subscribed again from the id of the last message received. */
  const wsResume = (page: Page, filter: string) =>
    bounded(
      page.evaluate(async (f) => {
        const last = live.frames.filter((x) => x.type === 'message').at(-1);
        delete live.closed;
        const hello = await live.connect();
        if (hello.type !== 'connected') return hello;
        return live.request({ type: 'subscribe', filters: [f], since: last?.id });
      }, filter),
      'reconnect and resume',
    );

  test('WebSocket page: the server restarts mid-stream; back with since, every message once, in order', async () => {
    const topic = `kept/${uid('wsrestart')}/n`;
    const page = await openPage(httpPort);
    try {
      assert.equal((await bounded(page.evaluate(() => live.connect()), 'connect')).type, 'connected');
      const sub = await bounded(page.evaluate((f) => live.subscribe([f]), topic), 'subscribe');
      assert.deepEqual(sub.results, [{ filter: topic, ok: true }]);
      let pub = await publisher();
      await publish(pub, topic, range(1, 10));
      await wsCount(page, topic, 1, 'the first message');
      await server!.stop();
      await bounded(page.waitForFunction(() => live.closed !== undefined, null, { timeout: 5000 }), 'the close');
      await start();
      pub = await publisher();
      await publish(pub, topic, range(11, 15)); // while the page is away
      const resumed = await wsResume(page, topic);
      assert.equal(resumed.type, 'subscribed', JSON.stringify(resumed));
      assert.deepEqual(resumed.results, [{ filter: topic, ok: true }]);
      await publish(pub, topic, range(16, 20)); // live again
      await wsCount(page, topic, 20, 'twenty messages');
      assert.deepEqual(await wsPayloads(page, topic), range(1, 20));
      assert.equal(await page.evaluate(() => live.frames.some((f) => f.type === 'reset'), null), false, 'history reaches back: no reset');
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  test('EventSource page: the server restarts mid-stream; back by itself with Last-Event-ID, every message once, in order', async () => {
    const topic = `kept/${uid('esrestart')}/n`;
    const page = await openPage(httpPort);
    try {
      const sub = await bounded(page.evaluate((f) => live.listen(f), topic), 'listen');
      assert.deepEqual(sub.results, [{ filter: topic, ok: true }]);
      let pub = await publisher();
      await publish(pub, topic, range(1, 10));
      await sseCount(page, topic, 1, 'the first event');
      await server!.stop();
      await start();
      pub = await publisher();
      await publish(pub, topic, range(11, 15));
      // EventSource comes back by itself (retry: 2000), sending the last id it was given.
      await bounded(page.waitForFunction(() => (live.subscribed ?? 0) >= 2, null, { timeout: 15_000 }), 'the reconnect', 17_000);
      await publish(pub, topic, range(16, 20));
      await sseCount(page, topic, 20, 'twenty events');
      assert.deepEqual(await ssePayloads(page, topic), range(1, 20));
      assert.equal(await page.evaluate(() => live.resets ?? 0, null), 0, 'history reaches back: no reset');
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  /**
   * Publishes 1..`total` while the page listens through the proxy, resetting the proxy's
   * connections right after message `cutAfter` is acknowledged (the stream flowing, some of it
   * in flight to the page), and keeps publishing while the page is away.
   */
  async function streamWithCut(page: Page, topic: string, count: typeof wsCount, total: number, cutAfter: number): Promise<mqtt.MqttClient> {
    const pub = await publisher();
    await publish(pub, topic, ['1']);
    await count(page, topic, 1, 'the first message through the proxy');
    await publish(pub, topic, range(2, cutAfter));
    assert.ok(proxy!.cut() >= 1, 'the page had a connection through the proxy');
    await publish(pub, topic, range(cutAfter + 1, total));
    return pub;
  }

  test('WebSocket page: the network drops mid-stream (a proxy resets it); back with since, every message once, in order', async () => {
    const topic = `kept/${uid('wsdrop')}/n`;
    const page = await openPage(proxy!.port);
    try {
      assert.equal((await bounded(page.evaluate(() => live.connect()), 'connect')).type, 'connected');
      assert.deepEqual((await bounded(page.evaluate((f) => live.subscribe([f]), topic), 'subscribe')).results, [{ filter: topic, ok: true }]);
      const pub = await streamWithCut(page, topic, wsCount, 40, 10);
      await bounded(page.waitForFunction(() => live.closed !== undefined, null, { timeout: 5000 }), 'the drop seen by the page');
      const resumed = await wsResume(page, topic);
      assert.equal(resumed.type, 'subscribed', JSON.stringify(resumed));
      await publish(pub, topic, range(41, 45));
      await wsCount(page, topic, 45, 'forty-five messages');
      assert.deepEqual(await wsPayloads(page, topic), range(1, 45));
      assert.equal(await page.evaluate(() => live.frames.some((f) => f.type === 'reset'), null), false, 'history reaches back: no reset');
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  test('EventSource page: the network drops mid-stream (a proxy resets it); back by itself, every message once, in order', async () => {
    const topic = `kept/${uid('esdrop')}/n`;
    const page = await openPage(proxy!.port);
    try {
      assert.deepEqual((await bounded(page.evaluate((f) => live.listen(f), topic), 'listen')).results, [{ filter: topic, ok: true }]);
      const pub = await streamWithCut(page, topic, sseCount, 40, 10);
      await bounded(page.waitForFunction(() => (live.subscribed ?? 0) >= 2, null, { timeout: 15_000 }), 'the reconnect', 17_000);
      await publish(pub, topic, range(41, 45));
      await sseCount(page, topic, 45, 'forty-five events');
      assert.deepEqual(await ssePayloads(page, topic), range(1, 45));
      assert.equal(await page.evaluate(() => live.resets ?? 0, null), 0, 'history reaches back: no reset');
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
