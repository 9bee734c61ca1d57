// JSON over WebSocket and Server-Sent Events in a real browser with no library: Debian's Chromium,
// driven by playwright-core, opens examples/browser/live.html, which uses only the native WebSocket
// and EventSource against a Switchboard started in this process (anonymous from loopback, history
// kept for kept/#). MQTT.js, mosquitto_pub and the HTTP API publish; MQTT.js observes what the page
// publishes; a dropped event stream reconnects by itself and resumes from Last-Event-ID.
//
// Needs /usr/bin/chromium and playwright-core; without them the suite is skipped with the reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { serveExamples, type Browser, type Page } from '../helpers/examples-page.js';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { uid, withTimeout } from '../helpers/clients.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';

const run = promisify(execFile);


type Frame = Record<string, unknown> & { type: string };
declare const live: {
  connect(query?: string): Promise<Frame>;
  subscribe(filters: string[]): Promise<Frame>;
  publish(topic: string, payload: unknown, extra?: Record<string, unknown>): Promise<Frame>;
  next(match: (f: Frame) => boolean): Promise<Frame>;
  listen(filter: string, query?: string): Promise<Frame>;
  events: Frame[];
};

const bounded = <T>(p: Promise<T>, what: string, ms = 5_000) => withTimeout(p, ms, `browser: ${what}`);

const missing = await browserMissing();

describe('browser: native WebSocket and EventSource (examples/browser/live.html)', { skip: missing ?? false }, () => {
  let browser: Browser | undefined;
  let files: Awaited<ReturnType<typeof serveExamples>> | undefined;
  let server: RunningServer | undefined;
  let mqttUrl = '';
  let httpUrl = '';
  const pageErrors: string[] = [];
  const clients: mqtt.MqttClient[] = [];

  before(async () => {
    files = await serveExamples();
    server = await startInProcessServer({ mqtt: true, history: [{ filter: 'kept/#', maxMessages: 100, maxAgeSeconds: 0 }] });
    ({ mqttUrl, httpUrl } = endpointsOf(server));
    browser = await launchChromium();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    if (browser) await bounded(browser.close(), 'browser.close', 10_000).catch(() => undefined);
    await files?.close();
    await server?.stop();
  });

  async function openPage(): Promise<Page> {
    const page = await bounded(browser!.newPage(), 'newPage');
    page.on('pageerror', (e) => pageErrors.push(e.message ?? String(e)));
    await page.goto(`${files!.url}/examples/browser/live.html?port=${server!.httpPort}`, { timeout: 10_000 });
    return page;
  }

  async function mqttClient(): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  test('WebSocket: subscribe, receive from MQTT.js, mosquitto_pub and the HTTP API, publish to MQTT, a refusal with its reason', async () => {
    const root = uid('live');
    const page = await openPage();
    try {
      const connected = await bounded(page.evaluate(() => live.connect()), 'connect');
      assert.equal(connected.type, 'connected');
      assert.match(String(connected.clientId), /^sb-/);
      const sub = await bounded(page.evaluate((f) => live.subscribe([f]), `${root}/#`), 'subscribe');
      assert.deepEqual(sub.results, [{ filter: `${root}/#`, ok: true }]);

      const pub = await mqttClient();
      await pub.publishAsync(`${root}/mqttjs`, '{"from":"mqtt.js"}');
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', new URL(mqttUrl).port, '-t', `${root}/mosquitto`, '-m', 'plain']);
      const api = await fetch(`${httpUrl}/topics/${encodeURIComponent(`${root}/api`)}?qos=1`, { method: 'POST', body: '[1,2]' });
      assert.equal(api.status, 200);
      const got = await bounded(
        page.evaluate(async (r) => Promise.all([`${r}/mqttjs`, `${r}/mosquitto`, `${r}/api`].map((t) => live.next((f) => f.type === 'message' && f.topic === t))), root),
        'three messages',
      );
      assert.deepEqual(got.map((m) => m.payload), [{ from: 'mqtt.js' }, 'plain', [1, 2]]);

      const watcher = await mqttClient();
      await watcher.subscribeAsync(`${root}/out`);
      const received = new Promise<string>((resolve) => watcher.once('message', (_t, p) => resolve(p.toString())));
      const ack = await bounded(page.evaluate((t) => live.publish(t, { n: 1 }), `${root}/out`), 'publish');
      assert.equal(ack.type, 'puback');
      assert.equal(await withTimeout(received, 5000, 'MQTT.js receives'), '{"n":1}');

      const refused = await bounded(page.evaluate(() => live.publish('$SYS/nope', 'x')), 'refused publish');
      assert.equal(refused.type, 'error');
      assert.equal(refused.code, 'not-authorized');
      assert.match(String(refused.message), /reserved topic/);
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  test('EventSource from another origin: subscribed, receives, sees presence events', async () => {
    const root = uid('es');
    const page = await openPage();
    try {
      const sub = await bounded(page.evaluate((f) => live.listen(f), `${root}/#`), 'listen');
      assert.deepEqual(sub.results, [{ filter: `${root}/#`, ok: true }]);
      const pub = await mqttClient();
      await pub.publishAsync(`${root}/a`, '{"v":42}');
      await bounded(page.waitForFunction((t) => live.events.some((e) => e.topic === t), `${root}/a`, { timeout: 5000 }), 'event');
      const [event] = await page.evaluate((t) => live.events.filter((e) => e.topic === t), `${root}/a`);
      assert.deepEqual(event, { type: 'message', topic: `${root}/a`, payload: { v: 42 }, encoding: 'json' });

      // Presence: a second stream on the presence topics sees an MQTT client connect.
      const presence = await bounded(page.evaluate(() => live.listen('$aws/events/presence/connected/+')), 'listen presence');
      assert.equal((presence.results as { ok: boolean }[])[0]!.ok, true);
      const id = uid('seen');
      const c = await mqtt.connectAsync(mqttUrl, { clientId: id, reconnectPeriod: 0 });
      clients.push(c);
      await bounded(page.waitForFunction((i) => live.events.some((e) => e.topic === `$aws/events/presence/connected/${i}`), id, { timeout: 5000 }), 'presence event');
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  test('EventSource resumes after the server drops the stream: every missed message once, in order', async () => {
    const root = `kept/${uid('resume')}`;
    const id = uid('page');
    const page = await openPage();
    try {
      await bounded(page.evaluate(([f, q]) => live.listen(f, q), [`${root}/#`, `clientId=${id}`] as [string, string]), 'listen');
      const pub = await mqttClient();
      for (const p of ['1', '2']) await pub.publishAsync(`${root}/t`, p, { qos: 1 });
      await bounded(page.waitForFunction(() => live.events.length >= 2, null, { timeout: 5000 }), 'two events');
      // The server ends the stream (as a proxy or a restart would); EventSource reconnects in 2 s.
      const dropped = await fetch(`${httpUrl}/api/connections/${id}`, { method: 'DELETE' });
      assert.equal(dropped.status, 204);
      for (const p of ['3', '4']) await pub.publishAsync(`${root}/t`, p, { qos: 1 });
      await bounded(page.waitForFunction(() => (live as unknown as { subscribed: number }).subscribed >= 2, null, { timeout: 10_000 }), 'the reconnect', 12_000);
      await pub.publishAsync(`${root}/t`, '5', { qos: 1 });
      await bounded(page.waitForFunction(() => live.events.length >= 5, null, { timeout: 5000 }), 'five events');
      const got = await page.evaluate(() => live.events.map((e) => e.payload), null);
      assert.deepEqual(got, ['1', '2', '3', '4', '5']);
    } finally {
      await page.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
