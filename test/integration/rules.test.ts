// The rules engine end to end: MQTT.js publishes, rules select with AWS IoT SQL and act.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';

after(stopAllServers);

/**
 * A sentinel for "the rule did not run": a message the `hot` rule accepts, published after the one
 * under test. The engine evaluates its queue in publish order and a republish action publishes at
 * once, so anything the earlier message triggered is received before the sentinel's alert.
 */
async function hotSentinel(client: MqttClient, received: { topic: string }[], id: string): Promise<void> {
  await client.publishAsync(`sensors/${id}/data`, JSON.stringify({ temperature: 99 }), { qos: 1 });
  await waitFor(() => received.find((m) => m.topic === `alerts/${id}`), `the sentinel alerts/${id}`);
}

async function waitFor<T>(get: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('rules engine', () => {
  let server: TestServer;
  let dir: string;
  let hook: http.Server;
  const hookBodies: unknown[] = [];
  let client: MqttClient;
  const received: { topic: string; payload: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-rules-'));
    writeFileSync(join(dir, 'write-file.js'), `exports.handler = async (event) => { require('fs').writeFileSync(${JSON.stringify(join(dir, 'out.json'))}, JSON.stringify(event)); return { ok: true }; };`);
    writeFileSync(join(dir, 'throws.js'), `exports.handler = async () => { throw new Error('downstream is down'); };`);
    hook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hookBodies.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const config = join(dir, 'switchboard.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { type: 'memory' },
        rules: [
          {
            name: 'hot',
            sql: "SELECT temperature, topic(2) AS id FROM 'sensors/+/data' WHERE temperature > 50",
            actions: [{ republish: { topic: 'alerts/${topic(2)}', qos: 1 } }, { function: { handler: join(dir, 'write-file.js') } }],
          },
          {
            name: 'failing',
            sql: "SELECT * FROM 'fail/me'",
            actions: [{ function: { handler: join(dir, 'throws.js') } }],
            errorAction: { republish: { topic: 'errors/rules' } },
          },
          {
            name: 'webhook',
            sql: "SELECT clientid() AS who, value FROM 'hook/+'",
            actions: [{ http: { url: hookUrl, headers: [{ key: 'x-topic', value: '${topic()}' }] } }],
          },
          {
            name: 'presence',
            sql: "SELECT clientId, eventType FROM '$aws/events/presence/connected/+'",
            actions: [{ republish: { topic: 'seen/${clientId}' } }],
          },
          {
            name: 'ingest',
            sql: "SELECT VALUE n * 2 FROM 'ignored'",
            actions: [{ republish: { topic: 'ingested/${topic()}' } }],
          },
        ],
      }),
    );
    server = await startServer({ configFile: config });
    client = await mqtt.connectAsync(server.mqttUrl, { clientId: 'rules-client', reconnectPeriod: 0 });
    client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    await client.subscribeAsync(['alerts/#', 'errors/#', 'ingested/#', 'seen/#'], { qos: 1 });
  });
  after(async () => {
    await client.endAsync();
    hook.close();
  });

  test('a matching message is republished with the SELECT result and invokes the function', async () => {
    await client.publishAsync('sensors/7/data', JSON.stringify({ temperature: 60, humidity: 3 }), { qos: 1 });
    const alert = await waitFor(() => received.find((m) => m.topic === 'alerts/7'), 'alerts/7');
    assert.deepEqual(JSON.parse(alert.payload), { temperature: 60, id: '7' });
    const out = await waitFor(() => (existsSync(join(dir, 'out.json')) ? readFileSync(join(dir, 'out.json'), 'utf8') : undefined), 'the function to write its file');
    assert.deepEqual(JSON.parse(out), { temperature: 60, id: '7' });
  });

  test('a message the WHERE clause rejects triggers nothing', async () => {
    await client.publishAsync('sensors/8/data', JSON.stringify({ temperature: 40 }), { qos: 1 });
    await hotSentinel(client, received, 'sentinel-8');
    assert.equal(received.some((m) => m.topic === 'alerts/8'), false);
  });

  test('a throwing function fires the errorAction with AWS error payload', async () => {
    await client.publishAsync('fail/me', 'not json at all', { qos: 1 });
    const error = await waitFor(() => received.find((m) => m.topic === 'errors/rules'), 'the error action');
    const payload = JSON.parse(error.payload) as Record<string, unknown>;
    assert.equal(payload.ruleName, 'failing');
    assert.equal(payload.topic, 'fail/me');
    assert.equal(payload.clientId, 'rules-client');
    assert.equal(Buffer.from(String(payload.base64OriginalPayload), 'base64').toString(), 'not json at all');
    assert.match(String(payload.cloudwatchTraceId), /^[0-9a-f-]{36}$/);
    const failures = payload.failures as Record<string, string>[];
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.failedAction, 'LambdaAction');
    assert.match(failures[0]!.errorMessage, /downstream is down/);
  });

  test('an HTTP action reaches a real local HTTP server', async () => {
    await client.publishAsync('hook/a', JSON.stringify({ value: 42 }), { qos: 1 });
    const hit = (await waitFor(() => hookBodies[0], 'the webhook')) as { headers: Record<string, string>; body: unknown };
    assert.deepEqual(hit.body, { who: 'rules-client', value: 42 });
    assert.equal(hit.headers['x-topic'], 'hook/a');
  });

  test('Basic Ingest: $aws/rules/{rule}/... reaches that rule only, with the prefix hidden from topic()', async () => {
    let leaked = false;
    const spy = await mqtt.connectAsync(server.mqttUrl, { clientId: 'ingest-spy', reconnectPeriod: 0 });
    spy.on('message', (t) => {
      if (t.startsWith('$aws/rules')) leaked = true;
    });
    await spy.subscribeAsync('#');
    await client.publishAsync('$aws/rules/ingest/devices/9', JSON.stringify({ n: 21 }), { qos: 1 });
    const got = await waitFor(() => received.find((m) => m.topic === 'ingested/devices/9'), 'the ingested republish');
    assert.equal(got.payload, '42');
    assert.equal(leaked, false);
    await spy.endAsync();
  });

  test('rules can select lifecycle events', async () => {
    const other = await mqtt.connectAsync(server.mqttUrl, { clientId: 'visitor-7', reconnectPeriod: 0 });
    const seen = await waitFor(() => received.find((m) => m.topic === 'seen/visitor-7'), 'the presence rule');
    assert.deepEqual(JSON.parse(seen.payload), { clientId: 'visitor-7', eventType: 'connected' });
    await other.endAsync();
  });

  test('a rule with a syntax error is refused at creation with line and column; the CLI manages rules', async () => {
    const run = (args: string[]) => spawnSync(process.execPath, ['bin/switchboard.js', 'rules', ...args, '--endpoint', server.httpUrl], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15000 });
    const bad = run(['create', '--name', 'broken', '--sql', "SELECT a,\nFROM 'x'"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /line 2, column 1/);
    const unknownFn = run(['create', '--name', 'nofn', '--sql', "SELECT nosuchfunction(a) FROM 'x'"]);
    assert.equal(unknownFn.status, 1);
    assert.match(unknownFn.stderr, /nosuchfunction/);
    assert.match(unknownFn.stderr, /line 1, column \d+/);
    const ok = run(['create', '--name', 'cli_rule', '--sql', "SELECT * FROM 'cli/+'", '--action', '{"republish":{"topic":"alerts/cli"}}']);
    assert.equal(ok.status, 0, ok.stderr);
    await client.publishAsync('cli/1', '{"x":1}', { qos: 1 });
    await waitFor(() => received.find((m) => m.topic === 'alerts/cli'), 'the CLI-created rule');
    assert.equal(run(['disable', '--name', 'cli_rule']).status, 0);
    const before = received.filter((m) => m.topic === 'alerts/cli').length;
    await client.publishAsync('cli/2', '{"x":2}', { qos: 1 });
    await hotSentinel(client, received, 'sentinel-cli');
    assert.equal(received.filter((m) => m.topic === 'alerts/cli').length, before, 'a disabled rule does not run');
    assert.match(run(['list']).stdout, /cli_rule/);
    assert.equal(run(['delete', '--name', 'cli_rule']).status, 0);
    const tested = run(['test', '--sql', "SELECT upper(name) AS n FROM 'x'", '--topic', 'x', '--payload', '{"name":"abc"}']);
    assert.deepEqual(JSON.parse(tested.stdout), { matched: true, result: { n: 'ABC' } });
  });
});
