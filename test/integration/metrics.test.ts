// /metrics is Prometheus text whose counters follow the traffic sent.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startServer, stopAllServers } from '../helpers/server.js';

after(stopAllServers);

function parse(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('#')) assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /, `comment line: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    values.set(m[1]!, Number(m[2]));
  }
  return values;
}

test('/metrics parses as Prometheus text and its counters match the traffic', async () => {
  const server = await startServer({});
  const before = parse(await (await fetch(`${server.httpUrl}/metrics`)).text());
  const sub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'm-sub', reconnectPeriod: 0 });
  const got: string[] = [];
  sub.on('message', (_t, p) => got.push(p.toString()));
  await sub.subscribeAsync('m/t', { qos: 1 });
  const pub = await mqtt.connectAsync(server.mqttUrl, { clientId: 'm-pub', reconnectPeriod: 0 });
  for (let i = 0; i < 7; i++) await pub.publishAsync('m/t', `n${i}`, { qos: 1 });
  const deadline = Date.now() + 3000;
  while (got.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(got.length, 7);

  const response = await fetch(`${server.httpUrl}/metrics`);
  assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
  const after_ = parse(await response.text());
  const delta = (name: string) => (after_.get(name) ?? 0) - (before.get(name) ?? 0);
  assert.equal(after_.get('switchboard_connected_clients'), 2);
  assert.equal(delta('switchboard_connections_accepted_total'), 2);
  assert.equal(delta('switchboard_messages_received_total'), 7);
  assert.equal(delta('switchboard_messages_delivered_total'), 7);
  assert.ok(delta('switchboard_bytes_received_total') > 7 * 4);
  assert.ok(delta('switchboard_publish_to_deliver_seconds_count') >= 7, 'the publish-to-deliver histogram counts publishes');
  assert.ok(after_.has('switchboard_publish_to_deliver_seconds_bucket{le="+Inf"}'));
  assert.ok(after_.has('switchboard_authorizer_duration_seconds_count'));
  assert.ok(after_.has('switchboard_denials_total{action="publish"}'));
  await sub.endAsync();
  await pub.endAsync();
});

test('/metrics is not open to non-loopback callers without the admin token (guarded like /api)', async () => {
  const server = await startServer({ args: ['--set', 'admin.requireSignInOnLoopback=true'] });
  assert.equal((await fetch(`${server.httpUrl}/metrics`)).status, 401);
  const withToken = await startServer({ args: ['--set', 'admin.requireSignInOnLoopback=true', '--set', 'admin.token=prometheus-scrape-token-1'] });
  const r = await fetch(`${withToken.httpUrl}/metrics`, { headers: { authorization: 'Bearer prometheus-scrape-token-1' } });
  assert.equal(r.status, 200);
});
