// The web console in a real browser (Debian's Chromium driven by playwright-core), served by a
// real Switchboard from dist/console (built by `npm run build:console`). The first
// experience: open the MQTT test client, subscribe to demo/# and to
// $aws/events/presence/connected/+, connect a Node client page-1 and publish from it, and see
// the connection event and the pretty-printed message; publish back; watch the Monitor, the
// Connections list (and disconnect page-1), test an authorizer and check a policy; create, test,
// edit, disable and delete a rule on the Rules page (the rule republishes for Node). The
// blog-post scenario: sign in, a second page runs MQTT.js's browser bundle as client-1 through
// the Unauthenticated authorizer, a screenshot of every page. Then the sign-in page, on a server
// that demands sign-in from loopback too.
//
// Screenshots at 1280x800 and 390x844 go to a temporary directory named in the test output.
//
// Needs /usr/bin/chromium (scripts/install-browser.sh) and playwright-core; without them the suite
// is skipped with the reason. Without a built console it fails, naming the build command.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeAllClients, connectClient, sleep, subscriber, uid, withTimeout, type Connected } from '../helpers/clients.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';

const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'switchboard.yaml');
const CONSOLE_INDEX = join(REPO_ROOT, 'dist', 'console', 'index.html');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WAIT = { timeout: 10_000 };
const SHOTS = mkdtempSync(join(tmpdir(), 'switchboard-console-shots-'));

const missing = await browserMissing();

function requireBuiltConsole(): void {
  if (!existsSync(CONSOLE_INDEX)) {
    throw new Error(`${CONSOLE_INDEX} is missing: build the console first (npm run build:console, part of npm run build)`);
  }
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText({ timeout: WAIT.timeout });

/** Subscribes from the test client's form and waits for the SUBACK to be shown. */
async function subscribe(page: Page, filter: string): Promise<void> {
  await page.getByTestId('subscribe-topic').fill(filter);
  await page.getByTestId('subscribe').click();
  await page.locator(`.sub[data-filter="${filter}"]:is(.sub-active, .sub-refused)`).waitFor(WAIT);
}

/** Signs in through the sign-in page and waits for the signed-in shell. */
async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByTestId('sign-in').waitFor(WAIT);
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user').waitFor(WAIT);
}

/** A tiny static server for a second page: an empty HTML page and MQTT.js's browser bundle. */
async function mqttJsPageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const bundle = readFileSync(join(REPO_ROOT, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js'));
  const server = http.createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>client-1</title><script src="/mqtt.min.js"></script>');
    else if (req.url === '/mqtt.min.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    else res.writeHead(404).end();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise((res) => server.close(() => res()));
    },
  };
}

/** The Monitor's "Billed messages" total, as a number (small counts are printed in full). */
async function billedMessages(page: Page): Promise<number> {
  const totals = await text(page, '[data-testid=totals]');
  const m = /Billed messages\s*([\d,]+)/.exec(totals);
  assert.ok(m, `a Billed messages total in: ${totals}`);
  return Number(m[1]!.replace(/,/g, ''));
}

describe('console: served by the server, driven in Chromium', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;
  const shots = SHOTS;
  const pageErrors: string[] = [];

  before(async () => {
    requireBuiltConsole();
    // --anonymous loopback: the console (from loopback, no sign-in) and the Node clients connect
    // without an authorizer; the example's Unauthenticated authorizer is there to be tested.
    server = await startServer({ configFile: EXAMPLE_CONFIG, args: ['--anonymous', 'loopback'] });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAllClients();
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    await stopAllServers();
  });

  async function open(route: string, viewport = DESKTOP): Promise<Page> {
    const page = await browser.newPage({ viewport, acceptDownloads: true });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.httpUrl}/#/${route}`, WAIT);
    return page;
  }

  test('the server serves the console at / with its assets, no external resources', async () => {
    const res = await fetch(`${server.httpUrl}/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<div id="app"/);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length >= 2, `script and stylesheet under /assets/: ${assets.join(', ')}`);
    for (const a of assets) assert.equal((await fetch(`${server.httpUrl}${a}`)).status, 200, a);
    assert.doesNotMatch(html, /(?:src|href)=["']?(?:https?:)?\/\//, 'no CDN or external font in index.html');
  });

  let page1: Connected;

  test('MQTT test client: the presence event and the pretty-printed message arrive; publishing reaches Node', async () => {
    const page = await open('client');
    try {
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
      await subscribe(page, 'demo/#');
      await subscribe(page, '$aws/events/presence/connected/+');
      assert.equal(await page.locator('.sub-refused').count(), 0, 'both subscriptions granted');

      page1 = await connectClient(server, { clientId: 'page-1' });
      await page1.client.subscribeAsync('console/out', { qos: 1 });
      await page1.client.publishAsync('demo/x', '{"hello":"world"}', { qos: 1 });

      const presence = page.locator('.msg[data-topic="$aws/events/presence/connected/page-1"]');
      await presence.waitFor(WAIT);
      // Rows are one line; a click opens one to the full, pretty-printed message.
      await presence.locator('.msg-row').click();
      const event = JSON.parse(await presence.locator('pre.json').innerText()) as Record<string, unknown>;
      assert.equal(event.clientId, 'page-1');
      assert.equal(event.eventType, 'connected');

      const message = page.locator('.msg[data-topic="demo/x"]');
      await message.waitFor(WAIT);
      await message.locator('.msg-row').click();
      assert.equal(await message.locator('pre.json').innerText(), '{\n  "hello": "world"\n}', 'pretty-printed JSON');
      assert.match(await message.locator('.msg-meta').innerText(), /QoS 0/);
      await page.locator('.messages-card').scrollIntoViewIfNeeded();
      await page.evaluate(() => window.scrollTo(0, 180), undefined);
      await page.screenshot({ path: join(shots, 'client-1280x800.png') });

      // Publish from the console, with a content type and a user property (MQTT 5).
      await page.locator('.seg-btn[data-value=publish]').click();
      await page.getByTestId('publish-topic').fill('console/out');
      await page.getByTestId('publish-payload').fill('{"from":"console"}');
      await page.locator('[data-testid=publish-form] details.more > summary').click();
      await page.getByTestId('publish-content-type').fill('application/json');
      await page.getByRole('button', { name: 'Add user property' }).click();
      await page.getByLabel('user property key').fill('source');
      await page.getByLabel('user property value').fill('console');
      await page.getByTestId('publish').click();
      await page.locator('[data-testid=publish-result].ok').waitFor(WAIT);
      assert.match(await text(page, '[data-testid=publish-result]'), /PUBACK 0x00/);
      const got = await page1.inbox.waitFor(1, 5_000, (m) => m.topic === 'console/out');
      assert.equal(got[0]!.text, '{"from":"console"}');
      assert.equal(got[0]!.packet.properties?.contentType, 'application/json');
      assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { source: 'console' });

      // Export: a JSON download of the messages shown.
      const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.getByTestId('export').click()]);
      const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { messages: { topic: string; payload?: string }[] };
      assert.ok(exported.messages.some((m) => m.topic === 'demo/x' && m.payload === '{"hello":"world"}'), 'export has demo/x');

      // Pause holds new messages back; resume shows them; clear empties the list. (An open row
      // holds the list still, so close it first.)
      await page.locator('.msg[data-topic="demo/x"] .msg-row').click();
      await page.getByTestId('pause').click();
      await page1.client.publishAsync('demo/held', 'later', { qos: 1 });
      await page.getByText('Resume (1 held)').waitFor(WAIT);
      assert.equal(await page.locator('.msg[data-topic="demo/held"]').count(), 0);
      await page.getByTestId('pause').click();
      await page.locator('.msg[data-topic="demo/held"]').waitFor(WAIT);
      await page.getByTestId('clear').click();
      assert.equal(await page.locator('.msg').count(), 0);
    } finally {
      await page.close();
    }
  });

  test('MQTT test client through the Unauthenticated authorizer: SUBACK and PUBACK refusals with reason codes', async () => {
    const page = await open('client');
    try {
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
      await page.getByTestId('connect').click(); // disconnect the console user
      await page.locator('[data-testid=mqtt-status].status-disconnected').waitFor(WAIT);
      await page.getByRole('button', { name: 'Settings' }).click();
      await page.locator('.seg-btn[data-value=authorizer]').click();
      await page.locator('[data-testid=authorizer] option[value=Unauthenticated]').waitFor({ state: 'attached', ...WAIT });
      await page.getByTestId('authorizer').selectOption('Unauthenticated');
      await page.getByTestId('client-id').fill(uid('console-auth'));
      await page.getByTestId('connect').click();
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);

      await subscribe(page, 'server');
      await subscribe(page, '#');
      assert.equal(await page.locator('.sub[data-filter="server"]').getAttribute('class').then((c) => c?.includes('sub-active')), true);
      assert.match(await text(page, '.sub[data-filter="#"] [data-testid=suback-refusal]'), /SUBACK 0x87 Not authorized/);

      await page.locator('.seg-btn[data-value=publish]').click();
      await page.getByTestId('publish-topic').fill('server');
      await page.getByTestId('publish').click();
      await page.locator('[data-testid=publish-result].error').waitFor(WAIT);
      assert.match(await text(page, '[data-testid=publish-result]'), /PUBACK 0x87 Not authorized/);
      assert.match(await text(page, '[data-testid=activity]'), /SUBSCRIBE # refused: SUBACK 0x87/);
    } finally {
      await page.close();
    }
  });

  test('Monitor: the messages chart is non-zero after traffic, totals in billing units', async () => {
    const sender = await connectClient(server, { clientId: uid('traffic') });
    const watcher = await connectClient(server, { clientId: uid('watcher') });
    await watcher.client.subscribeAsync('demo/traffic', { qos: 0 });
    const page = await open('monitor');
    try {
      // A few seconds of uneven traffic, so the charts have a shape to draw.
      for (let s = 0; s < 4; s++) {
        const burst = [6, 14, 9, 20][s]!;
        await Promise.all(Array.from({ length: burst }, (_, i) => sender.client.publishAsync('demo/traffic', `{"n":${i}}`, { qos: 1 })));
        await new Promise((res) => setTimeout(res, 1000));
      }
      await page.waitForFunction(() => Number((document.querySelector('[data-chart=messages] .chart') as HTMLElement | null)?.dataset.max) > 0, undefined, WAIT);
      await page.locator('[data-chart=connected] path.series-line').waitFor(WAIT);
      const totals = await text(page, '[data-testid=totals]');
      assert.match(totals, /Connection-minutes/);
      assert.match(totals, /Billed messages/);
      // The hover readout names the time and each series.
      const plot = page.locator('[data-chart=messages] .chart-plot');
      const box = (await plot.boundingBox())!;
      await plot.hover({ position: { x: box.width - 16, y: box.height / 2 } });
      await page.locator('[data-chart=messages] .chart-tip:not([hidden])').waitFor(WAIT);
      assert.match(await text(page, '[data-chart=messages] .chart-tip'), /in[\s\S]*out/);
      // Other ranges load too.
      await page.locator('.seg-btn[data-value="1h"]').click();
      await page.locator('[data-chart=messages] .card-sub').filter({ hasText: 'per second' }).waitFor(WAIT);
      await page.locator('.seg-btn[data-value="15m"]').click();
      await page.waitForFunction(() => Number((document.querySelector('[data-chart=messages] .chart') as HTMLElement | null)?.dataset.max) > 0, undefined, WAIT);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(shots, 'monitor-1280x800.png') });
      await page.evaluate(() => window.scrollTo(0, 0), undefined);
      await page.screenshot({ path: join(shots, 'monitor-1280-full.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  test('Connections: page-1 is listed, searchable, has a detail view, and can be disconnected', async () => {
    const page = await open('connections');
    try {
      const row = page.locator('tr[data-client-id="page-1"]');
      await row.waitFor(WAIT);
      await page.getByTestId('connections-search').fill('page-');
      await page.waitForFunction(() => document.querySelectorAll('tr[data-client-id]').length === 1, undefined, WAIT);
      await page.screenshot({ path: join(shots, 'connections-1280x800.png') });

      await row.locator('a').click();
      await page.getByRole('heading', { name: 'page-1' }).waitFor(WAIT);
      assert.match(await text(page, '.facts'), /anonymous/);
      assert.match(await text(page, 'main'), /console\/out/, 'its subscription is shown');

      await page.getByTestId('disconnect').click();
      await page.getByTestId('confirm-ok').click();
      await page1.inbox.waitForClose(5_000);
      assert.equal(page1.inbox.disconnects[0]?.reasonCode, 0x98, 'DISCONNECT 0x98 Administrative action');
      await page.waitForURL(/#\/connections$/, WAIT);
      await page.waitForFunction(() => !document.querySelector('tr[data-client-id="page-1"]'), undefined, WAIT);
    } finally {
      await page.close();
    }
  });

  test('Authorizers: test-invoke shows the returned policy documents; the policy check decides', async () => {
    const page = await open('authorizers');
    try {
      await page.locator('tr[data-authorizer=Unauthenticated]').waitFor(WAIT);
      assert.match(await text(page, 'tr[data-authorizer=Unauthenticated]'), /ACTIVE/);
      await page.locator('[data-testid=test-authorizer] option[value=Unauthenticated]').waitFor({ state: 'attached', ...WAIT });
      await page.getByTestId('test-authorizer').selectOption('Unauthenticated');
      await page.getByTestId('test-invoke').click();
      await page.locator('.policy-doc').first().waitFor(WAIT);
      assert.match(await text(page, '[data-testid=test-result] .verdict'), /Authenticated[\s\S]*Unauthenticated/);
      // Each returned document is shown statement by statement, numbered from 1.
      assert.match(await text(page, '[data-testid=test-result] .statement-head'), /Statement 1/);
      const statement = JSON.parse(await text(page, '.policy-doc')) as { Effect?: string };
      assert.ok(statement.Effect === 'Allow' || statement.Effect === 'Deny', 'a parsed, pretty-printed statement');

      await page.getByTestId('use-policies').click();
      await page.getByTestId('policy-action').selectOption('iot:Publish');
      await page.getByTestId('policy-resource').fill('topic/client');
      await page.getByTestId('policy-check').click();
      await page.locator('[data-testid=policy-effect]').filter({ hasText: 'Allow' }).waitFor(WAIT);
      assert.match(await text(page, '[data-testid=policy-result]'), /arn:aws:iot:us-east-1:123456789012:topic\/client/);

      await page.getByTestId('policy-resource').fill('topic/server');
      await page.getByTestId('policy-check').click();
      await page.locator('[data-testid=policy-effect]').filter({ hasText: 'Deny' }).waitFor(WAIT);
      assert.match(await text(page, '[data-testid=policy-result]'), /Implicit deny/);
      await page.evaluate(() => window.scrollTo(0, 0), undefined);
      await page.screenshot({ path: join(shots, 'authorizers-1280-full.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  test('Retained messages: listed, viewed, deleted', async () => {
    const c = await connectClient(server, { clientId: uid('retainer') });
    await c.client.publishAsync('demo/retained/state', '{"on":true}', { qos: 1, retain: true });
    const page = await open('retained');
    try {
      const row = page.locator('tr[data-topic="demo/retained/state"]');
      await row.waitFor(WAIT);
      await row.click();
      await page.locator('.retained-detail pre.json').waitFor(WAIT);
      assert.equal(await text(page, '.retained-detail pre.json'), '{\n  "on": true\n}');
      await row.getByTestId('delete-retained').click();
      await page.getByTestId('confirm-ok').click();
      await page.waitForFunction(() => !document.querySelector('tr[data-topic="demo/retained/state"]'), undefined, WAIT);
      const left = (await (await fetch(`${server.httpUrl}/api/retained?filter=demo/retained/state`)).json()) as { total: number };
      assert.equal(left.total, 0);
    } finally {
      await page.close();
    }
  });

  test('Rules page answers (list or empty state)', async () => {
    const page = await open('rules');
    try {
      await page.locator('.rules .card').first().waitFor(WAIT);
    } finally {
      await page.close();
    }
  });

  test('Rules: create through the form, see a SQL error with its position, test the SQL, the rule republishes; edit, disable, delete', async () => {
    const name = 'high_temperature';
    const alerts = await subscriber(server, 'alerts/#', 1, { clientId: uid('alerts') });
    const sensor = await connectClient(server, { clientId: uid('sensor') });
    const page = await open('rules');
    try {
      await page.getByTestId('new-rule').waitFor(WAIT);
      await page.getByTestId('new-rule').click();
      await page.getByTestId('rule-form').waitFor(WAIT);
      assert.match(await page.getByTestId('rule-actions').inputValue(), /"republish"/, 'an example republish action is pre-filled');
      await page.getByTestId('rule-name').fill(name);

      // A broken SQL: the error names line 3 and marks the column, next to the SQL box.
      await page.getByTestId('rule-sql').fill("SELECT temperature\nFROM 'sensors/+/data'\nWHERE temperature > > 50");
      await page.getByTestId('rule-save').click();
      const sqlError = page.getByTestId('sql-error');
      await sqlError.waitFor(WAIT);
      assert.match(await sqlError.innerText(), /line 3, column \d+/);
      assert.equal(await sqlError.getAttribute('data-line'), '3');
      await sqlError.locator('mark').waitFor(WAIT);
      await page.screenshot({ path: join(shots, 'rules-sql-error-1280x800.png') });
      const listed = (await (await fetch(`${server.httpUrl}/api/rules`)).json()) as { rules: unknown[] };
      assert.equal(listed.rules.length, 0, 'nothing was saved');

      // The test box runs the SQL in the box against a sample message.
      await page.getByTestId('rule-sql').fill("SELECT temperature, topic(2) AS id FROM 'sensors/+/data' WHERE temperature > 50");
      assert.equal(await sqlError.count(), 0, 'editing the SQL clears the error');
      await page.getByTestId('rule-actions').fill('[{ "republish": { "topic": "alerts/${topic(2)}", "qos": 1 } }]');
      await page.getByTestId('rule-test-topic').fill('sensors/7/data');
      await page.getByTestId('rule-test-payload').fill('{"temperature": 60}');
      await page.getByTestId('rule-test').click();
      await page.locator('[data-testid=rule-test-result] .rule-test-output').waitFor(WAIT);
      assert.match(await text(page, '[data-testid=rule-test-verdict]'), /Matched/);
      assert.deepEqual(JSON.parse(await text(page, '[data-testid=rule-test-result] .rule-test-output')), { temperature: 60, id: '7' });
      await page.getByTestId('rule-test-payload').fill('{"temperature": 20}');
      await page.getByTestId('rule-test').click();
      await page.locator('[data-testid=rule-test-verdict]').filter({ hasText: 'Not matched' }).waitFor(WAIT);

      await page.getByTestId('rule-save').click();
      const ruleCard = page.locator(`.rule-card[data-rule=${name}]`);
      await ruleCard.waitFor(WAIT);
      assert.equal(await ruleCard.getAttribute('data-enabled'), 'true');
      await page.screenshot({ path: join(shots, 'rules-1280x800.png') });

      // The rule runs: a Node publish to sensors/7/data is republished to alerts/7.
      await sensor.client.publishAsync('sensors/7/data', '{"temperature": 60}', { qos: 1 });
      const got = await alerts.inbox.waitFor(1, 5_000);
      assert.equal(got[0]!.topic, 'alerts/7');
      assert.deepEqual(JSON.parse(got[0]!.text), { temperature: 60, id: '7' });
      assert.equal(got[0]!.text, '{"temperature":60,"id":"7"}');

      // Edit: the form opens with the rule; the name is fixed; a description is saved (PUT).
      await ruleCard.getByTestId('edit-rule').click();
      assert.equal(await page.getByTestId('rule-name').isDisabled(), true);
      assert.match(await page.getByTestId('rule-sql').inputValue(), /topic\(2\) AS id/);
      await page.getByTestId('rule-description').fill('Alerts above 50 degrees');
      await page.getByTestId('rule-save').click();
      await ruleCard.filter({ hasText: 'Alerts above 50 degrees' }).waitFor(WAIT);

      // Disable: no more republishing.
      await ruleCard.getByTestId('toggle-rule').click();
      await page.locator(`.rule-card[data-rule=${name}][data-enabled=false]`).waitFor(WAIT);
      await sensor.client.publishAsync('sensors/7/data', '{"temperature": 61}', { qos: 1 });
      await sleep(500);
      assert.equal(alerts.inbox.messages.length, 1, 'a disabled rule does not republish');

      // Delete, after the confirmation.
      await ruleCard.getByTestId('delete-rule').click();
      await page.getByTestId('confirm-ok').click();
      await page.waitForFunction((n) => !document.querySelector(`.rule-card[data-rule="${n}"]`), name, WAIT);
      assert.equal((await fetch(`${server.httpUrl}/api/rules/${name}`)).status, 404);
    } finally {
      await page.close();
    }
  });

  test('phone-sized screen: the navigation is a drawer; pages fit the width', async () => {
    const page = await open('client', PHONE);
    try {
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
      await subscribe(page, 'demo/#');
      const c = await connectClient(server, { clientId: uid('phone') });
      await c.client.publishAsync('demo/phone', '{"temperature":21.5,"unit":"C"}', { qos: 1 });
      await page.locator('.msg[data-topic="demo/phone"]').waitFor(WAIT);
      const side = (await page.locator('.sidebar').boundingBox())!;
      assert.ok(side.x + side.width <= 0, 'the sidebar is off screen until the menu opens it');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no horizontal scroll (overflow ${overflow}px)`);
      await page.screenshot({ path: join(shots, 'client-390x844.png') });
      await page.screenshot({ path: join(shots, 'client-390-full.png'), fullPage: true });
      await page.evaluate(() => window.scrollTo(0, 0), undefined);

      await page.getByRole('button', { name: 'Menu' }).click();
      await page.locator('.app.nav-open').waitFor(WAIT);
      await page.screenshot({ path: join(shots, 'nav-390x844.png') });
      await page.locator('.nav-link[data-page=monitor]').click();
      await page.locator('[data-chart=messages]').waitFor(WAIT);
      assert.equal(await page.locator('.app.nav-open').count(), 0, 'the drawer closes after navigating');
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(shots, 'monitor-390x844.png') });
      for (const route of ['connections', 'authorizers']) {
        await page.goto(`${server.httpUrl}/#/${route}`);
        await page.locator('.card').first().waitFor(WAIT);
        await page.waitForTimeout(500);
        const o = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(o <= 0, `${route}: no horizontal scroll (overflow ${o}px)`);
        await page.screenshot({ path: join(shots, `${route}-390x844.png`) });
      }
    } finally {
      await page.close();
    }
  });

  test('no errors in the pages', (t) => {
    t.diagnostic(`screenshots: ${shots}`);
    assert.deepEqual(pageErrors, []);
  });
});

describe('console: the blog-post scenario (example config, sign-in, a browser MQTT.js client)', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;
  let files: Awaited<ReturnType<typeof mqttJsPageServer>>;
  const password = 'blog-post-secret';

  before(async () => {
    requireBuiltConsole();
    files = await mqttJsPageServer();
    // --anonymous loopback admits the Node clients; the console itself must sign in.
    server = await startServer({
      configFile: EXAMPLE_CONFIG,
      args: ['--anonymous', 'loopback', '--set', 'admin.requireSignInOnLoopback=true', '--set', 'admin.username=admin', '--set', `admin.password=${password}`],
    });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAllClients();
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    if (files) await files.close();
    await stopAllServers();
  });

  test('sign in, watch client-1 connect and publish from a browser, publish back, the Monitor counts, a screenshot of every page', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-blog-post-'));
    const errors: string[] = [];
    const page = await browser.newPage({ viewport: DESKTOP });
    page.on('pageerror', (e) => errors.push(e.message));
    const other = await browser.newPage({ viewport: DESKTOP });
    other.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${server.httpUrl}/#/client`, WAIT);
      await signIn(page, 'admin', password);
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
      await subscribe(page, '$aws/events/presence/connected/+');
      await subscribe(page, 'client');
      assert.equal(await page.locator('.sub-refused').count(), 0, 'both subscriptions granted');

      // The second page: MQTT.js's browser bundle, through the Unauthenticated authorizer.
      await other.goto(files.url, WAIT);
      const wsUrl = `${server.wsUrl}?x-amz-customauthorizer-name=Unauthenticated`;
      const published = await withTimeout(
        other.evaluate(
          (url) =>
            new Promise<string>((resolve, reject) => {
              const w = window as unknown as { mqtt: { connect(u: string, o: object): { on(e: string, f: (x?: unknown) => void): void; publish(t: string, p: string, o: object, cb: (e?: Error) => void): void } } };
              const c = w.mqtt.connect(url, { clientId: 'client-1', protocolVersion: 5, reconnectPeriod: 0 });
              c.on('error', (e) => reject(new Error(String(e))));
              c.on('connect', () => c.publish('client', '{"message":"Hello world!"}', { qos: 1 }, (e) => (e ? reject(e) : resolve('ok'))));
            }),
          wsUrl,
        ),
        10_000,
        'browser client-1 connect and publish',
      );
      assert.equal(published, 'ok');

      const presence = page.locator('.msg[data-topic="$aws/events/presence/connected/client-1"]');
      await presence.waitFor(WAIT);
      await presence.locator('.msg-row').click();
      const event = JSON.parse(await presence.locator('pre.json').innerText()) as Record<string, unknown>;
      assert.equal(event.clientId, 'client-1');
      assert.equal(event.eventType, 'connected');
      const message = page.locator('.msg[data-topic="client"]');
      await message.waitFor(WAIT);
      await message.locator('.msg-row').click();
      assert.deepEqual(JSON.parse(await message.locator('pre.json').innerText()), { message: 'Hello world!' });

      // Publish from the console; a Node MQTT.js subscriber gets it.
      const node = await subscriber(server, 'server', 1, { clientId: uid('node') });
      await page.locator('.seg-btn[data-value=publish]').click();
      await page.getByTestId('publish-topic').fill('server');
      await page.getByTestId('publish-payload').fill('{"message":"Hello from the console"}');
      await page.getByTestId('publish').click();
      await page.locator('[data-testid=publish-result].ok').waitFor(WAIT);
      const got = await node.inbox.waitFor(1, 5_000);
      assert.equal(got[0]!.text, '{"message":"Hello from the console"}');
      await page.screenshot({ path: join(dir, 'client.png') });

      // The Monitor: messages were counted, and the count moves with more traffic.
      await page.locator('.nav-link[data-page=monitor]').click();
      await page.waitForFunction(() => Number((document.querySelector('[data-chart=messages] .chart') as HTMLElement | null)?.dataset.max) > 0, undefined, WAIT);
      await page.locator('[data-testid=totals]').waitFor(WAIT);
      const before = await billedMessages(page);
      assert.ok(before > 0, `billed messages ${before}`);
      const sender = await connectClient(server, { clientId: uid('sender') });
      for (let i = 0; i < 5; i++) await sender.client.publishAsync('server', `{"n":${i}}`, { qos: 1 });
      await node.inbox.waitFor(6, 5_000);
      await page.waitForFunction(
        (b) => {
          const m = /Billed messages\s*([\d,]+)/.exec((document.querySelector('[data-testid=totals]') as HTMLElement | null)?.innerText ?? '');
          return m !== null && Number(m[1]!.replace(/,/g, '')) > b;
        },
        before,
        WAIT,
      );
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(dir, 'monitor.png') });

      // Every other page, with what it shows.
      await page.locator('.nav-link[data-page=connections]').click();
      await page.locator('tr[data-client-id="client-1"]').waitFor(WAIT);
      await page.screenshot({ path: join(dir, 'connections.png') });
      await page.locator('.nav-link[data-page=authorizers]').click();
      await page.locator('tr[data-authorizer=Unauthenticated]').waitFor(WAIT);
      await page.screenshot({ path: join(dir, 'authorizers.png') });
      await page.locator('.nav-link[data-page=retained]').click();
      await page.locator('main .card').first().waitFor(WAIT);
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(dir, 'retained.png') });
      await page.locator('.nav-link[data-page=rules]').click();
      await page.locator('.rules .card').first().waitFor(WAIT);
      await page.screenshot({ path: join(dir, 'rules.png') });

      for (const f of ['client', 'monitor', 'connections', 'authorizers', 'retained', 'rules']) assert.ok(existsSync(join(dir, `${f}.png`)), f);
      t.diagnostic(`blog-post screenshots: ${dir}`);
      console.log(`blog-post screenshots: ${dir}`);
      assert.deepEqual(errors, []);
    } finally {
      await other.close();
      await page.close();
    }
  });
});

describe('console: sign-in when loopback must sign in too', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;

  before(async () => {
    requireBuiltConsole();
    server = await startServer({
      args: ['--set', 'admin.username=admin', '--set', 'admin.password=correct-horse', '--set', 'admin.requireSignInOnLoopback=true'],
    });
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    await stopAllServers();
  });

  test('sign-in page, a wrong password, signing in, the MQTT test client as the console user, signing out', async () => {
    const page = await browser.newPage({ viewport: DESKTOP });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${server.httpUrl}/`, WAIT);
      await page.getByTestId('sign-in').waitFor(WAIT);
      await page.getByTestId('username').fill('admin');
      await page.getByTestId('password').fill('wrong-password');
      await page.getByTestId('sign-in').click();
      await page.locator('[data-testid=sign-in-error]:not([hidden])').waitFor(WAIT);
      assert.match(await text(page, '[data-testid=sign-in-error]'), /wrong user name or password/i);
      await page.screenshot({ path: join(SHOTS, 'sign-in-1280x800.png') });

      await page.getByTestId('password').fill('correct-horse');
      await page.getByTestId('sign-in').click();
      await page.getByTestId('user').waitFor(WAIT);
      assert.equal(await text(page, '[data-testid=user]'), 'admin');

      // The WebSocket upgrade carries the session cookie: the test client is the console user.
      await page.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
      const list = (await page.evaluate(async () => (await fetch('/api/connections')).json())) as { connections: { principal: string }[] };
      assert.ok(list.connections.some((c) => c.principal === 'console:admin'), JSON.stringify(list));

      // Without the cookie the API refuses (the session is what lets the page in).
      assert.equal((await fetch(`${server.httpUrl}/api/overview`)).status, 401);

      await page.getByTestId('sign-out').click();
      await page.getByTestId('sign-in').waitFor(WAIT);
      assert.equal(await page.evaluate(async () => (await fetch('/api/session')).status), 401);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
