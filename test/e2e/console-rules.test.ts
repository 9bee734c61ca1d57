// The Rules page (issue 17): each rule's executions, failures and last error with its time and
// the failing action, from the server's per-rule counters (GET /api/rules, stats); a bad action
// in the form names the field and the accepted action types; the SQL test names a field the
// sample lacks. Debian's Chromium driven by playwright-core, against a real server.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeAllClients, connectClient, uid, withTimeout } from '../helpers/clients.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

const WAIT = { timeout: 10_000 };
const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: run scripts/install-browser.sh` : null;

describe('console Rules page: per-rule health, form errors', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;

  before(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'console', 'index.html'))) throw new Error('dist/console is missing: run npm run build');
    server = await startServer({ auth: { anonymous: 'loopback' } });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAllClients();
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    await stopAllServers();
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.httpUrl}/#/rules`, WAIT);
    await page.getByTestId('new-rule').waitFor(WAIT);
    return page;
  }

  test('executions, failures and the last error with the failing action, per rule', async () => {
    // An HTTP action to a port nobody listens on (loopback): every execution fails.
    const res = await fetch(`${server.httpUrl}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'failing_http', sql: "SELECT * FROM 'health/+'", actions: [{ http: { url: 'http://127.0.0.1:9/hook', retries: 0, timeoutMs: 1000 } }] }),
    });
    assert.equal(res.status, 201, await res.text());
    const ok = await fetch(`${server.httpUrl}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'quiet_log', sql: "SELECT * FROM 'other/+'", actions: [{ log: {} }] }),
    });
    assert.equal(ok.status, 201);
    const c = await connectClient(server, { clientId: uid('rules') });
    for (let i = 0; i < 3; i++) await c.client.publishAsync(`health/${i}`, '{"v":1}', { qos: 1 });
    // The server's counters, over the existing API.
    let stats: { executions: number; failures: number; lastError?: { action: string; message: string; at: string } } | undefined;
    for (let i = 0; i < 50; i++) {
      const list = (await (await fetch(`${server.httpUrl}/api/rules`)).json()) as { rules: { name: string; stats: typeof stats }[] };
      stats = list.rules.find((r) => r.name === 'failing_http')!.stats;
      if (stats && stats.failures >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(stats?.executions, 3);
    assert.equal(stats?.failures, 3);
    assert.equal(stats?.lastError?.action, 'HttpAction');

    const page = await open();
    try {
      const card = page.locator('[data-rule=failing_http]');
      await card.getByTestId('rule-last-error').waitFor(WAIT);
      assert.equal(await card.getByTestId('rule-executions').innerText(), '3');
      assert.equal(await card.getByTestId('rule-failures').innerText(), '3');
      assert.match(await card.getByTestId('rule-last-error').innerText(), /Last error at .+, action HttpAction \(http:\/\/127\.0\.0\.1:9\/hook\)/);
      const quiet = page.locator('[data-rule=quiet_log]');
      assert.equal(await quiet.getByTestId('rule-failures').innerText(), '0');
      assert.equal(await quiet.getByTestId('rule-last-error').count(), 0);
      // The page polls: a new failure shows without a reload.
      await c.client.publishAsync('health/x', '{}', { qos: 1 });
      await card.getByTestId('rule-failures').filter({ hasText: /^4$/ }).waitFor({ timeout: 15_000 });
    } finally {
      await page.close();
    }
  });

  test('a bad action names the field and the accepted types; the SQL test names a field missing from the sample', async () => {
    const page = await open();
    try {
      await page.getByTestId('new-rule').click();
      await page.getByTestId('rule-name').fill('bad_action');
      await page.getByTestId('rule-actions').fill('[{ "log": {} }, { "email": { "to": "x" } }]');
      await page.getByTestId('rule-save').click();
      const error = page.getByTestId('rule-form-error');
      await error.filter({ hasText: 'email' }).waitFor(WAIT);
      assert.match(await error.innerText(), /Actions, item 2: "email" is not an action type; accepted action types: republish, function, http, log/);
      // A server-side refusal of an action's field is put in words too.
      await page.getByTestId('rule-actions').fill('[{ "republish": { "topic": "a", "qos": 2 } }]');
      await page.getByTestId('rule-save').click();
      await error.filter({ hasText: 'item 1' }).waitFor(WAIT);
      assert.match(await error.innerText(), /Actions, item 1: .+; accepted action types: republish, function, http, log/);

      // The SQL box has a label.
      assert.equal(await page.getByLabel('SQL', { exact: true }).getAttribute('data-testid'), 'rule-sql');
      await page.getByTestId('rule-sql').fill("SELECT temperature, humidity AS h FROM 'sensors/+/data' WHERE temperature > 50 AND upper(unit) = 'C'");
      await page.getByTestId('rule-test-payload').fill('{"temp": 60, "humidity": 10}');
      await page.getByTestId('rule-test').click();
      const note = page.getByTestId('rule-test-missing');
      await note.waitFor(WAIT);
      const text = await note.innerText();
      assert.match(text, /no field temperature \(read in SELECT\)/);
      assert.match(text, /no field temperature \(read in WHERE\)/);
      assert.match(text, /no field unit \(read in WHERE\)/);
      assert.doesNotMatch(text, /humidity|upper|\bh\b/);
      assert.match(await page.getByTestId('rule-test-verdict').innerText(), /Not matched/);
    } finally {
      await page.close();
    }
  });
});
