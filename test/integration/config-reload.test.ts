// Reloading the config file while clients stay connected: SIGHUP applies a new rule, authorizer and
// limit and logs what changed (and what needs a restart); a broken file is refused with the reason
// and the running configuration stays; POST /api/config/reload does the same over the admin API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type LogLine, type TestServer } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-reload-'));
const file = join(dir, 'switchboard.yaml');
const echo = resolve(REPO_ROOT, 'test/fixtures/authorizers/echo.mjs');

const FIRST = `
limits: { maxTopicLevels: 8 }
events: { subscribed: true }
`;
const SECOND = `
limits: { maxTopicLevels: 3 }
events: { subscribed: false }
auth:
  authorizers:
    - { name: Echo, type: function, handler: ${JSON.stringify(echo)}, signingDisabled: true }
rules:
  - name: hot
    sql: "SELECT * FROM 'sensors/+'"
    actions: [ { republish: { topic: "alerts/\${topic(2)}" } } ]
`;
// The SQL does not parse: the whole reload is refused.
const BROKEN = `${SECOND}
  - name: broken
    sql: "SELECT FROM WHERE"
    actions: [ { republish: { topic: "x" } } ]
`;

describe('config reload', () => {
  let server: TestServer;
  let client: mqtt.MqttClient;
  let connects = 0;
  let closes = 0;
  const alerts: string[] = [];
  const alertWaiters = new Set<() => void>();

  const waitForAlert = (topic: string) =>
    new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no message on ${topic} within 5 s; got ${alerts.join(', ')}`)), 5_000);
      const check = () => {
        if (!alerts.includes(topic)) return;
        clearTimeout(timer);
        alertWaiters.delete(check);
        res();
      };
      alertWaiters.add(check);
      check();
    });

  /** The first matching log line after the first `seen` ones (waitForLog offers each line once, in order). */
  const nextLog = (seen: number, pred: (l: LogLine) => boolean) => {
    let index = 0;
    return server.waitForLog((l) => index++ >= seen && pred(l));
  };

  before(async () => {
    writeFileSync(file, FIRST);
    server = await startServer({ configFile: file });
    client = mqtt.connect(server.mqttUrl, { clientId: 'stays-connected', protocolVersion: 5, reconnectPeriod: 0 });
    client.on('connect', () => connects++);
    client.on('close', () => closes++);
    client.on('message', (topic) => {
      alerts.push(topic);
      for (const wake of alertWaiters) wake();
    });
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    await client.subscribeAsync('alerts/#', { qos: 1 });
  });

  after(async () => {
    client?.end(true);
    await stopAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP applies the new rule, authorizer and limit, keeps the connection, names what needs a restart', async () => {
    const seen = server.logLines().length;
    writeFileSync(file, SECOND);
    server.kill('SIGHUP');
    const reloaded = await nextLog(seen, (l) => l.msg === 'configuration reloaded');
    assert.deepEqual(reloaded.rules, { added: ['hot'], removed: [], changed: [] });
    assert.deepEqual(reloaded.authorizers, { added: ['Echo'], removed: [], changed: [] });
    assert.deepEqual(reloaded.limits, { maxTopicLevels: { from: 8, to: 3 } });
    const restart = await nextLog(seen, (l) => Array.isArray(l.needsRestart));
    // The first authorizer would make anonymous access 'nobody' on a restart; a reload keeps 'loopback'.
    assert.deepEqual(restart.needsRestart, ['events.subscribed', 'auth.anonymous']);

    // The new rule acts on the existing connection's publish.
    await client.publishAsync('sensors/7', JSON.stringify({ t: 1 }), { qos: 1 });
    await waitForAlert('alerts/7');
    // The new authorizer is registered; the new limit applies (four levels are now too many).
    const authorizers = (await (await fetch(`${server.httpUrl}/api/authorizers`)).json()) as { authorizers: { authorizerName: string }[] };
    assert.ok(authorizers.authorizers.some((a) => a.authorizerName === 'Echo'), JSON.stringify(authorizers));
    assert.equal((await fetch(`${server.httpUrl}/topics/a/b/c/d`, { method: 'POST', body: 'x' })).status, 400);
    assert.equal((await fetch(`${server.httpUrl}/topics/a/b/c`, { method: 'POST', body: 'x' })).status, 200);
    assert.equal(connects, 1);
    assert.equal(closes, 0);
    assert.ok(client.connected);
  });

  it('a broken file is refused with the reason; the running configuration stays', async () => {
    const seen = server.logLines().length;
    writeFileSync(file, BROKEN);
    server.kill('SIGHUP');
    const refused = await nextLog(seen, (l) => l.msg === 'configuration reload refused; the running configuration stays');
    assert.match(String(refused.error), /broken/);
    await client.publishAsync('sensors/8', 'raw', { qos: 1 });
    await waitForAlert('alerts/8');
    const rules = (await (await fetch(`${server.httpUrl}/api/rules`)).json()) as { rules: { ruleName?: string; name?: string }[] };
    assert.ok(!JSON.stringify(rules).includes('broken'), JSON.stringify(rules));

    // Not YAML at all: refused too, over the admin API, with the reason in the answer.
    writeFileSync(file, 'limits: [unclosed\n');
    const response = await fetch(`${server.httpUrl}/api/config/reload`, { method: 'POST' });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /not valid YAML/);
    assert.ok(client.connected);
  });

  it('POST /api/config/reload removes what the file no longer has and reports it', async () => {
    writeFileSync(file, FIRST);
    const response = await fetch(`${server.httpUrl}/api/config/reload`, { method: 'POST' });
    assert.equal(response.status, 200);
    const changes = (await response.json()) as { rules: { removed: string[] }; authorizers: { removed: string[] }; limits: object; needsRestart: string[] };
    assert.deepEqual(changes.rules.removed, ['hot']);
    assert.deepEqual(changes.authorizers.removed, ['Echo']);
    assert.deepEqual(changes.limits, { maxTopicLevels: { from: 3, to: 8 } });
    // events.subscribed and the anonymous mode kept their start values, which this file has again.
    assert.deepEqual(changes.needsRestart, []);
    const rules = await (await fetch(`${server.httpUrl}/api/rules`)).text();
    assert.ok(!rules.includes('"hot"'), rules);
    assert.equal((await fetch(`${server.httpUrl}/topics/a/b/c/d`, { method: 'POST', body: 'x' })).status, 200);
    assert.equal(connects, 1);
    assert.equal(closes, 0);
  });
});
