// JSON over WebSocket under a custom authorizer: credentials in the URL exactly as for MQTT over
// WebSocket, the event naming the protocol, and the policy deciding iot:Connect, iot:Subscribe
// per filter, iot:Publish per message and iot:Receive per delivery, with AWS-style reasons.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { allow, answer, arn, deny, doc, fixture, NAME_KEY, query, TokenAnswers, type Statement } from '../helpers/auth.js';
import { openJson, type JsonWs } from '../helpers/json-ws.js';
import { uid } from '../helpers/clients.js';
import { presignMqttUrl } from '../helpers/sigv4.js';

const answers = new TokenAnswers();
let server: RunningServer;
let wsBase: string;
let mqttUrl: string;
const open: (() => unknown)[] = [];

before(async () => {
  // The function pool's workers read the answers directory from the environment.
  Object.assign(process.env, answers.env);
  server = await startInProcessServer({
    mqtt: true,
    auth: {
      authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
      unauthenticatedPolicy: doc(allow(['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], arn('*'))),
    },
  });
  const e = endpointsOf(server);
  wsBase = e.httpUrl.replace('http:', 'ws:') + '/ws';
  mqttUrl = e.mqttUrl;
});
after(async () => {
  for (const f of open) f();
  await server.stop();
  answers.remove();
});

async function connectAs(clientId: string, statements: Statement[], connect = true): Promise<{ client: JsonWs; first: Record<string, unknown>; token: string }> {
  const token = uid('tok');
  answers.set(token, answer([doc(...(connect ? [allow('iot:Connect', arn(`client/${clientId}`))] : []), ...statements)]));
  const { client, connected } = await openJson(`${wsBase}?${query({ [NAME_KEY]: 'ByToken', token, clientId })}`);
  open.push(() => client.close());
  return { client, first: connected, token };
}

test('the authorizer gets the event of an MQTT WebSocket client, its protocols naming json', async () => {
  const id = uid('ev');
  const { first, token } = await connectAs(id, []);
  assert.equal(first.type, 'connected');
  const [event] = answers.events(token);
  assert.deepEqual(event!.protocols, ['http', 'json']);
  assert.equal(event!.token, token);
  const http = (event!.protocolData as { http: { queryString: string } }).http;
  assert.match(http.queryString, new RegExp(`clientId=${id}`));
});

test('iot:Connect denied: an error frame with the reason, then Close 1008', async () => {
  const id = uid('no');
  const { client, first } = await connectAs(id, [], false);
  assert.equal(first.type, 'error');
  assert.equal(first.code, 'not-authorized');
  assert.match(String(first.message), new RegExp(`iot:Connect on ${arn(`client/${id}`)[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const closed = await client.waitClosed();
  assert.equal(closed.code, 1008);
});

test('iot:Subscribe per filter, iot:Publish per message, iot:Receive per delivery', async () => {
  const id = uid('pol');
  const root = uid('r');
  const { client } = await connectAs(id, [
    allow('iot:Subscribe', arn(`topicfilter/${root}/open/*`)),
    allow('iot:Receive', arn(`topic/${root}/open/*`)),
    deny('iot:Receive', arn(`topic/${root}/open/secret`)),
    allow('iot:Publish', arn(`topic/${root}/out`)),
  ]);
  const sub = await client.call({ type: 'subscribe', filters: [`${root}/open/#`, `${root}/closed/#`] });
  assert.deepEqual(sub.results, [
    { filter: `${root}/open/#`, ok: true },
    { filter: `${root}/closed/#`, ok: false, code: 'not-authorized', reason: `not authorized: iot:Subscribe on topicfilter/${root}/closed/#` },
  ]);
  const refused = await client.call({ type: 'publish', topic: `${root}/elsewhere`, payload: 'x' });
  assert.equal(refused.type, 'error');
  assert.equal(refused.code, 'not-authorized');
  assert.equal(refused.message, `not authorized: iot:Publish on topic/${root}/elsewhere`);
  const retainRefused = await client.call({ type: 'publish', topic: `${root}/out`, payload: 'x', retain: true });
  assert.equal(retainRefused.message, `not authorized: iot:RetainPublish on topic/${root}/out`);
  assert.equal((await client.call({ type: 'publish', topic: `${root}/out`, payload: 'x' })).type, 'puback');

  const pub = await mqtt.connectAsync(mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
  open.push(() => pub.end(true));
  await pub.publishAsync(`${root}/open/secret`, 'no');
  await pub.publishAsync(`${root}/open/fine`, 'yes');
  const m = await client.type('message');
  assert.equal(m.topic, `${root}/open/fine`);
  assert.equal(client.frames.filter((f) => f.type === 'message').length, 0);
});

test('a SigV4-presigned /ws URL: the policy of the access key decides, a bad signature is refused', async () => {
  const root = uid('sig');
  const keyRes = await fetch(`http://127.0.0.1:${server.httpPort}/api/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-switchboard-csrf': '1' },
    body: JSON.stringify({ policyDocuments: [doc(allow('iot:Connect', arn('client/sig-*')), allow(['iot:Subscribe'], arn(`topicfilter/${root}/*`)))] }),
  });
  assert.equal(keyRes.status, 201, await keyRes.clone().text());
  const key = (await keyRes.json()) as { accessKeyId: string; secretAccessKey: string };
  const id = `sig-${uid('c')}`;
  const url = await presignMqttUrl(server.httpPort!, key, { path: '/ws', query: { clientId: id } });
  const { client, connected } = await openJson(url);
  open.push(() => client.close());
  assert.equal(connected.type, 'connected', JSON.stringify(connected));
  assert.equal(connected.clientId, id);
  const sub = await client.call({ type: 'subscribe', filters: [`${root}/a`, 'elsewhere'] });
  assert.deepEqual((sub.results as { ok: boolean }[]).map((r) => r.ok), [true, false]);

  const bad = await openJson(url.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=' + '0'.repeat(64)));
  open.push(() => bad.client.close());
  assert.equal(bad.connected.type, 'error');
  assert.match(String(bad.connected.message), /SigV4 signature refused/);
});
