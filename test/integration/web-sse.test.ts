// Server-Sent Events (GET /events) end to end: a server in this process, the stream read over
// node's fetch as EventSource reads it, MQTT.js and JSON WebSocket clients on the other side.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { allow, answer, arn, doc, fixture, NAME_KEY, query, TokenAnswers } from '../helpers/auth.js';
import { SseReader } from '../helpers/sse.js';
import { openJson } from '../helpers/json-ws.js';
import { uid } from '../helpers/clients.js';

const answers = new TokenAnswers();
let server: RunningServer;
let httpUrl: string;
let mqttUrl: string;
const open: (() => unknown)[] = [];

before(async () => {
  Object.assign(process.env, answers.env);
  server = await startInProcessServer({
    mqtt: true,
    auth: {
      authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
      unauthenticatedPolicy: doc(allow(['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], arn('*'))),
    },
  });
  const e = endpointsOf(server);
  httpUrl = e.httpUrl;
  mqttUrl = e.mqttUrl;
});
after(async () => {
  for (const f of open) f();
  await server.stop();
  answers.remove();
});

async function stream(q: string, init: RequestInit = {}): Promise<SseReader> {
  const r = await SseReader.open(`${httpUrl}/events?${q}`, init);
  open.push(() => r.close());
  return r;
}

async function publisher(): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
  open.push(() => c.end(true));
  return c;
}

describe('listening', () => {
  test('topic= filters (repeatable, + and # allowed); each message is one event with the JSON object', async () => {
    const root = uid('sse');
    const r = await stream(`topic=${root}/+/t&topic=${encodeURIComponent(`${root}/all/#`)}`);
    assert.equal(r.response.status, 200);
    assert.match(r.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const connected = JSON.parse((await r.named('connected')).data);
    assert.match(connected.clientId, /^sb-/);
    const sub = JSON.parse((await r.named('subscribed')).data);
    assert.deepEqual(sub.results, [
      { filter: `${root}/+/t`, ok: true },
      { filter: `${root}/all/#`, ok: true },
    ]);
    const pub = await publisher();
    await pub.publishAsync(`${root}/a/t`, '{"v":1}');
    await pub.publishAsync(`${root}/all/x`, 'text\nwith a newline');
    const m1 = JSON.parse((await r.named('message')).data);
    assert.deepEqual(m1, { type: 'message', topic: `${root}/a/t`, payload: { v: 1 }, encoding: 'json' });
    const m2 = JSON.parse((await r.named('message')).data);
    assert.equal(m2.payload, 'text\nwith a newline');
  });

  test('a JSON WebSocket publish reaches an SSE listener; the listing names the protocol', async () => {
    const root = uid('sse2');
    const id = uid('listener');
    const r = await stream(`clientId=${id}&topic=${root}`);
    await r.named('subscribed');
    const { client } = await openJson(httpUrl.replace('http:', 'ws:') + '/ws');
    open.push(() => client.close());
    client.send({ type: 'publish', topic: root, payload: { from: 'json' } });
    assert.deepEqual(JSON.parse((await r.named('message')).data).payload, { from: 'json' });
    const list = (await (await fetch(`${httpUrl}/api/connections?q=${id}`)).json()) as { connections: { protocol: string; transport: string }[] };
    assert.equal(list.connections[0]?.protocol, 'sse');
    assert.equal(list.connections[0]?.transport, 'http');
  });

  test('takeover across protocols: a JSON client with the same ID ends the stream with a disconnect event', async () => {
    const id = uid('take');
    const r = await stream(`clientId=${id}`);
    await r.named('connected');
    const { client } = await openJson(`${httpUrl.replace('http:', 'ws:')}/ws?clientId=${id}`);
    open.push(() => client.close());
    const bye = JSON.parse((await r.named('disconnect')).data);
    assert.equal(bye.code, 'session-taken-over');
    await r.waitEnded();
  });
});

describe('authorization', () => {
  test('the token in the query string: the event names sse; a refused filter says why', async () => {
    const id = uid('a');
    const root = uid('r');
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${id}`)), allow('iot:Subscribe', arn(`topicfilter/${root}/ok`)))]));
    const r = await stream(`${query({ [NAME_KEY]: 'ByToken', token, clientId: id })}&topic=${root}/ok&topic=${root}/no`);
    assert.equal(r.response.status, 200);
    const sub = JSON.parse((await r.named('subscribed')).data);
    assert.deepEqual(sub.results[1], { filter: `${root}/no`, ok: false, code: 'not-authorized', reason: `not authorized: iot:Subscribe on topicfilter/${root}/no` });
    assert.deepEqual(answers.events(token)[0]!.protocols, ['http', 'sse']);
  });

  test('refused at connect: an HTTP status with the reason (EventSource stops retrying)', async () => {
    const id = uid('n');
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Subscribe', arn('*')))]));
    const denied = await fetch(`${httpUrl}/events?${query({ [NAME_KEY]: 'ByToken', token, clientId: id })}`);
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { message: string }).message, /iot:Connect/);
    const unknown = await fetch(`${httpUrl}/events?${query({ [NAME_KEY]: 'ByToken', token: 'nobody-knows' })}`);
    assert.equal(unknown.status, 401);
  });

  test('a cookie token is used for a same-site request, never for another site', async () => {
    const id = uid('c');
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${id}`)))]));
    const q = query({ [NAME_KEY]: 'ByToken', clientId: id });
    const same = await stream(q, { headers: { cookie: `other=1; token=${token}` } });
    assert.equal(same.response.status, 200);
    same.close();
    const cross = await fetch(`${httpUrl}/events?${q}`, { headers: { cookie: `token=${token}`, origin: 'https://evil.example' } });
    assert.equal(cross.status, 401);
    await cross.body?.cancel();
  });
});
