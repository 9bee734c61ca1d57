// The console's other pages under load and for everyone (issue 17): the Connections table sorted
// and paged by the server (for 10,000+ connections), per-client message rates, disconnect from
// the row's menu; an authorizer's signing keys listed by name, size and fingerprint; and an
// axe-core accessibility check over every page, the sign-in page included, in both colour schemes
// (zero serious or critical violations). Debian's Chromium driven by playwright-core, against a
// real server.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { withCredentials } from '../helpers/auth.js';
import { closeAllClients, connectClient, uid, withTimeout, type Connected } from '../helpers/clients.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

const WAIT = { timeout: 10_000 };
const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'switchboard.yaml');
const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: run scripts/install-browser.sh` : null;

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[]; any: { data?: { fgColor?: string; bgColor?: string; contrastRatio?: number } | null }[] }[] }[];
}

let axeSource: string | null = null;

/** Runs axe-core in `page`; returns its serious and critical violations, one line each, named by `where`. */
async function seriousViolations(page: Page, where: string): Promise<string[]> {
  axeSource ??= readFileSync(join(REPO_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as AxeResult;
  const found: string[] = [];
  for (const v of result.violations) {
    if (v.impact !== 'serious' && v.impact !== 'critical') continue;
    const nodes = v.nodes.map((n) => {
      const d = n.any[0]?.data;
      return `${n.target.join(' ')}${d?.contrastRatio ? ` (${d.fgColor} on ${d.bgColor}: ${d.contrastRatio})` : ''}`;
    });
    found.push(`${where}: ${v.id} (${v.impact}) ${v.help}: ${nodes.join(' | ')}`);
  }
  return found;
}

describe('console pages: connections at scale, accessibility', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;

  before(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'console', 'index.html'))) throw new Error('dist/console is missing: run npm run build');
    server = await startServer({ configFile: EXAMPLE_CONFIG, args: ['--anonymous', 'loopback'] });
    browser = await launchChromium();
  });

  after(async () => {
    await closeAllClients();
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    await stopAllServers();
  });

  async function open(route: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.httpUrl}/#/${route}`, WAIT);
    return page;
  }

  test('Connections: sorted and paged by the server, message rates, disconnect from the row menu', async () => {
    const prefix = uid('fleet');
    const clients: Connected[] = [];
    for (let i = 0; i < 230; i++) clients.push(await connectClient(server, { clientId: `${prefix}-${String(i).padStart(3, '0')}`, protocolVersion: 4 }));
    // One busy client: about 25 messages a second while the test runs.
    const busy = clients[7]!;
    const ticker = setInterval(() => busy.client.publish('fleet/busy', 'x', { qos: 0 }), 40);
    const page = await open('connections');
    try {
      await page.getByTestId('connections-search').fill(prefix);
      const count = page.getByTestId('connections-count');
      await count.filter({ hasText: '1–100 of 230 connected' }).waitFor(WAIT);
      assert.equal(await page.locator('tr[data-client-id]').count(), 100, 'one page of rows');
      assert.equal(await page.locator('tr[data-client-id]').first().getAttribute('data-client-id'), `${prefix}-000`);
      // Sort by client ID, descending (server-side: the first page is the last 100).
      await page.locator('button.th-sort[data-sort=clientId]').click();
      await page.locator('th[aria-sort=descending] button[data-sort=clientId]').waitFor(WAIT);
      await page.waitForFunction((id) => document.querySelector('tr[data-client-id]')?.getAttribute('data-client-id') === id, `${prefix}-229`, WAIT);
      await page.getByTestId('page-next').click();
      await count.filter({ hasText: '101–200 of 230' }).waitFor(WAIT);
      await page.waitForFunction((id) => document.querySelector('tr[data-client-id]')?.getAttribute('data-client-id') === id, `${prefix}-129`, WAIT);
      await page.getByTestId('page-next').click();
      await count.filter({ hasText: '201–230 of 230' }).waitFor(WAIT);
      assert.equal(await page.getByTestId('page-next').isDisabled(), true);
      // Sort by messages in, descending: the busy client first, with a rate after two polls.
      await page.locator('button.th-sort[data-sort=messagesIn]').click();
      await page.locator('button.th-sort[data-sort=messagesIn]').click();
      await page.locator('th[aria-sort=descending] button[data-sort=messagesIn]').waitFor(WAIT);
      await count.filter({ hasText: '1–100 of 230' }).waitFor(WAIT);
      const busyRow = page.locator(`tr[data-client-id="${prefix}-007"]`);
      await page.waitForFunction((id) => document.querySelector('tr[data-client-id]')?.getAttribute('data-client-id') === id, `${prefix}-007`, WAIT);
      await page.waitForFunction(
        (id) => {
          const text = document.querySelector(`tr[data-client-id="${id}"] [data-testid=rate]`)?.textContent ?? '';
          const rateIn = Number(text.split('/')[0]);
          return rateIn > 5 && rateIn < 100;
        },
        `${prefix}-007`,
        { timeout: 15_000 },
      );
      // No red button on every row: disconnect is in the row's menu, after a confirmation.
      assert.equal(await page.locator('tr[data-client-id] button.btn-danger-ghost').count(), 0);
      const victim = clients[3]!;
      const victimRow = page.locator(`tr[data-client-id="${prefix}-003"]`);
      await page.getByTestId('connections-search').fill(`${prefix}-003`);
      await count.filter({ hasText: '1–1 of 1' }).waitFor(WAIT);
      await victimRow.locator('.row-menu > summary').click();
      await victimRow.getByTestId('row-disconnect').click();
      await page.getByTestId('confirm-ok').click();
      await victim.inbox.waitForClose(5_000);
      await page.locator('tr[data-client-id]').first().waitFor({ state: 'detached', ...WAIT });
      assert.ok(await busyRow.count() === 0);
    } finally {
      clearInterval(ticker);
      await page.close();
      await closeAllClients();
    }
  });

  test('Monitor: a denial drawn as a bar in its interval, denial labels spelled out', async () => {
    // The example's Unauthenticated authorizer does not allow subscribing to '#'.
    const c = await connectClient(server, withCredentials(server, 'ws', { 'x-amz-customauthorizer-name': 'Unauthenticated' }, { clientId: 'client' }));
    await assert.rejects(c.client.subscribeAsync('#', { qos: 0 }), /Not authorized/, 'SUBACK refuses #');
    const page = await open('monitor');
    try {
      await page.locator('[data-chart=denials] rect.series-bar[data-series=subscribe]').first().waitFor(WAIT);
      assert.equal(await page.locator('[data-chart=denials] path.series-line').count(), 0, 'bars, not lines');
      assert.match(await page.getByTestId('totals').innerText(), /connect \d+ · publish \d+ · subscribe [1-9]\d* · receive \d+/);
      assert.match(await page.locator('[data-chart=denials] .legend').innerText(), /subscribe\s*[1-9]\d*\s*in view/);
    } finally {
      await page.close();
    }
  });

  test('Authorizers: readable details, disable/enable and set default from the page; statements numbered from 1, the deciding one highlighted', async () => {
    const page = await open('authorizers');
    try {
      await page.getByRole('button', { name: 'Details of Unauthenticated' }).click();
      const detail = page.locator('tr[data-authorizer=Unauthenticated] + tr.detail-row');
      await detail.locator('dl').waitFor(WAIT);
      assert.match(await detail.innerText(), /Token signing\s*off/);
      assert.equal(await detail.locator('pre.json').count(), 0, 'a form, not a JSON dump');
      await detail.getByTestId('authorizer-toggle').click();
      await page.locator('tr[data-authorizer=Unauthenticated]').filter({ hasText: 'INACTIVE' }).waitFor(WAIT);
      const described = (await (await fetch(`${server.httpUrl}/api/authorizers/Unauthenticated`)).json()) as { authorizerDescription: { status: string } };
      assert.equal(described.authorizerDescription.status, 'INACTIVE');
      await page.getByRole('button', { name: 'Details of Unauthenticated' }).click();
      await detail.getByTestId('authorizer-toggle').filter({ hasText: 'Enable' }).click();
      await page.waitForFunction(() => /(^|[^N])ACTIVE/.test(document.querySelector('tr[data-authorizer=Unauthenticated]')?.textContent ?? ''), undefined, WAIT).catch(async (err: Error) => {
        throw new Error(`${err.message}; row: ${await page.locator('tr[data-authorizer=Unauthenticated]').innerText()}; toasts: ${await page.locator('.toast').allInnerTexts()}`);
      });
      await page.getByRole('button', { name: 'Details of Unauthenticated' }).click();
      await detail.getByTestId('authorizer-default').click();
      await page.locator('tr[data-authorizer=Unauthenticated]').filter({ hasText: 'Default' }).waitFor(WAIT);
      assert.equal(((await (await fetch(`${server.httpUrl}/api/default-authorizer`)).json()) as { authorizerName: string }).authorizerName, 'Unauthenticated');

      // Create one from the page; a missing field is named; then edit it.
      await page.getByTestId('new-authorizer').click();
      await page.getByTestId('authorizer-name').fill('PageMade');
      await page.getByTestId('authorizer-type').selectOption('http');
      await page.getByTestId('authorizer-url').fill('http://127.0.0.1:9/authorize');
      await page.getByTestId('authorizer-signed').check();
      await page.getByTestId('authorizer-save').click();
      await page.getByTestId('authorizer-form-error').filter({ hasText: 'Token key name (tokenKeyName)' }).waitFor(WAIT);
      await page.getByTestId('authorizer-signed').uncheck();
      await page.getByTestId('authorizer-save').click();
      await page.locator('tr[data-authorizer=PageMade]').waitFor(WAIT);
      await page.getByRole('button', { name: 'Details of PageMade' }).click();
      const made = page.locator('tr[data-authorizer=PageMade] + tr.detail-row');
      await made.getByTestId('authorizer-edit').click();
      await page.getByTestId('authorizer-token-key').fill('session');
      await page.getByTestId('authorizer-save').click();
      await page.getByTestId('authorizer-form').waitFor({ state: 'hidden', ...WAIT });
      const pageMade = (await (await fetch(`${server.httpUrl}/api/authorizers/PageMade`)).json()) as { authorizerDescription: Record<string, unknown> };
      assert.equal(pageMade.authorizerDescription.tokenKeyName, 'session');
      assert.equal(pageMade.authorizerDescription.url, 'http://127.0.0.1:9/authorize');
      assert.equal(pageMade.authorizerDescription.signingDisabled, true);

      // The policy check names the statement as the documents are numbered, and highlights it.
      await page.getByTestId('policy-documents').fill(JSON.stringify([
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] },
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Subscribe', Resource: '*' }, { Sid: 'NoSecrets', Effect: 'Deny', Action: 'iot:Publish', Resource: 'arn:aws:iot:*:*:topic/secret/*' }] },
      ]));
      await page.getByTestId('policy-action').selectOption('iot:Publish');
      await page.getByTestId('policy-resource').fill('topic/secret/x');
      await page.getByTestId('policy-check').click();
      await page.locator('[data-testid=policy-effect]').filter({ hasText: 'Deny' }).waitFor(WAIT);
      assert.equal(await page.getByTestId('decided-by').innerText(), 'Policy document 2, statement 2 (Sid "NoSecrets")');
      const decider = page.getByTestId('deciding-statement');
      assert.match(await decider.innerText(), /Statement 2 · Sid\s*NoSecrets/);
      assert.match(await decider.locator('xpath=ancestor::div[contains(@class,"doc")][1]').locator('.doc-head').innerText(), /Policy document 2/i);
    } finally {
      await page.close();
      // The other tests connect anonymously: no default authorizer again.
      await fetch(`${server.httpUrl}/api/default-authorizer`, { method: 'DELETE' });
    }
  });

  test('keyboard: a skip link first; retained rows and authorizer details open from the keyboard', async () => {
    const c = await connectClient(server, { clientId: uid('kbd') });
    await c.client.publishAsync('kbd/retained', 'kept', { qos: 1, retain: true });
    const page = await open('retained');
    try {
      await page.locator('tr[data-topic="kbd/retained"]').waitFor(WAIT);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'skip-link');
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'content');
      await page.locator('tr[data-topic="kbd/retained"] button.link-btn').focus();
      await page.keyboard.press('Enter');
      await page.locator('tr[data-topic="kbd/retained"] + tr.detail-row').waitFor(WAIT);
      await page.goto(`${server.httpUrl}/#/authorizers`, WAIT);
      const details = page.getByRole('button', { name: 'Details of Unauthenticated' });
      await details.focus();
      await page.keyboard.press('Enter');
      await page.locator('tr[data-authorizer=Unauthenticated] + tr').waitFor(WAIT);
    } finally {
      await page.close();
    }
  });

  test('Authorizers: the signing keys of an authorizer listed by name, size and fingerprint, reachable from the keyboard', async () => {
    const keys = { primary: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, rotated: generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey };
    const pem = (k: (typeof keys)['primary']) => k.export({ type: 'spki', format: 'pem' }).toString();
    const fingerprint = (k: (typeof keys)['primary']) => createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('hex');
    const created = await fetch(`${server.httpUrl}/api/authorizers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Keyed', type: 'http', url: 'http://127.0.0.1:9/authorize', tokenKeyName: 'token', signingDisabled: false, tokenSigningPublicKeys: { primary: pem(keys.primary), rotated: pem(keys.rotated) } }),
    });
    assert.equal(created.status, 201, await created.text());
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
      try {
        await page.goto(`${server.httpUrl}/#/authorizers`, WAIT);
        const details = page.getByRole('button', { name: 'Details of Keyed' });
        await details.focus();
        await page.keyboard.press('Enter');
        const detail = page.locator('tr[data-authorizer=Keyed] + tr.detail-row');
        const list = detail.getByTestId('authorizer-keys');
        await list.waitFor(WAIT);
        assert.match(await detail.innerText(), /Public keys \(2\)/);
        assert.equal(await detail.locator('pre.json').count(), 0, 'not a JSON dump');
        for (const [name, bits] of [['primary', 2048], ['rotated', 3072]] as const) {
          const row = list.locator(`li[data-key-name=${name}]`);
          const hex = fingerprint(keys[name]);
          assert.match(await row.locator('.key-head').innerText(), new RegExp(`^${name}\\s+RSA ${bits}-bit\\s+SHA-256 ${hex.slice(0, 16).match(/../g)!.join(':')}…$`));
          assert.equal(await row.locator('pre.key-pem').isVisible(), false, 'the PEM is behind a disclosure');
        }
        // The next Tab stop after the Details button is the first key's disclosure; Enter opens it.
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.closest('li[data-key-name]')?.getAttribute('data-key-name')), 'primary');
        assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'SUMMARY');
        await page.keyboard.press('Enter');
        const primary = list.locator('li[data-key-name=primary]');
        await primary.locator('pre.key-pem').waitFor({ state: 'visible', ...WAIT });
        assert.equal((await primary.locator('pre.key-pem').innerText()).trim(), pem(keys.primary).trim());
        assert.equal(await primary.locator('.key-sha').innerText(), `SHA-256 ${fingerprint(keys.primary)}`);
        assert.deepEqual(await seriousViolations(page, `#/authorizers, keys open (${scheme})`), []);
        // Editing says which keys a new one would replace.
        await detail.getByTestId('authorizer-edit').click();
        assert.match(await page.getByTestId('authorizer-keys-note').innerText(), /Current keys: primary, rotated/);
      } finally {
        await page.close();
      }
    }
  });

  test('axe-core: no serious or critical accessibility violations on any page', async () => {
    const c = await connectClient(server, { clientId: 'axe-client' });
    await c.client.subscribeAsync('axe/#');
    await c.client.publishAsync('axe/retained', '{"a":1}', { qos: 1, retain: true });
    const found: string[] = [];
    const pages: [string, (p: Page) => Promise<void>][] = [
      [
        'client',
        async (p) => {
          await p.locator('[data-testid=mqtt-status].status-connected').waitFor(WAIT);
          await p.getByTestId('subscribe-topic').fill('axe/#');
          await p.getByTestId('subscribe').click();
          await p.locator('.sub[data-filter="axe/#"].sub-active').waitFor(WAIT);
          await c.client.publishAsync('axe/x', '{"n":12345678901234567890}', { qos: 1 });
          await p.locator('.msg[data-topic="axe/x"] .msg-row').click();
        },
      ],
      ['monitor', (p) => p.locator('[data-chart=messages] .chart').waitFor(WAIT)],
      ['connections', (p) => p.locator('tr[data-client-id]').first().waitFor(WAIT)],
      ['connections/axe-client', (p) => p.getByRole('heading', { name: 'axe-client' }).waitFor(WAIT)],
      ['authorizers', (p) => p.locator('tr[data-authorizer]').first().waitFor(WAIT)],
      ['retained', (p) => p.locator('[data-topic="axe/retained"], tr').first().waitFor(WAIT)],
      ['rules', (p) => p.getByTestId('new-rule').waitFor(WAIT)],
    ];
    // One fresh page per colour scheme: switching a live page would check colours mid-transition.
    for (const scheme of ['light', 'dark'] as const) {
      for (const [route, ready] of pages) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
        try {
          await page.goto(`${server.httpUrl}/#/${route}`, WAIT);
          await ready(page);
          found.push(...(await seriousViolations(page, `#/${route} (${scheme})`)));
        } finally {
          await page.close();
        }
      }
    }
    assert.deepEqual(found, [], found.join('\n'));
  });
});

describe('console sign-in page: accessibility', { skip: missing ?? false }, () => {
  let browser: Browser;
  let server: TestServer;

  before(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'console', 'index.html'))) throw new Error('dist/console is missing: run npm run build');
    // Sign-in is demanded from loopback too, so the console opens on the sign-in page.
    server = await startServer({ args: ['--set', 'admin.username=admin', '--set', 'admin.password=correct-horse', '--set', 'admin.requireSignInOnLoopback=true'] });
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => undefined);
    await stopAllServers();
  });

  test('axe-core: no serious or critical violations on the sign-in page, before and after a wrong password, in both colour schemes', async () => {
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
      try {
        await page.goto(`${server.httpUrl}/`, WAIT);
        await page.getByTestId('sign-in').waitFor(WAIT);
        found.push(...(await seriousViolations(page, `sign-in (${scheme})`)));
        await page.getByTestId('username').fill('admin');
        await page.getByTestId('password').fill('wrong-password');
        await page.getByTestId('sign-in').click();
        await page.locator('[data-testid=sign-in-error]:not([hidden])').waitFor(WAIT);
        found.push(...(await seriousViolations(page, `sign-in, wrong password (${scheme})`)));
      } finally {
        await page.close();
      }
    }
    assert.deepEqual(found, [], found.join('\n'));
  });
});
