// Resume across the nodes of a two-node cluster (docs/history.md, docs/websocket-json.md "Resume"):
// a JSON WebSocket client subscribed with history on node 1 leaves, messages are published on
// node 2 (and on node 1) while it is away, and it comes back to node 2 with `since`: everything it
// missed once, in publish order per node, then live messages, nothing twice. The same for an
// event stream coming back to the other node with Last-Event-ID. A real redis-server on loopback
// and two compiled Switchboard processes (npm run build).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REDIS_SERVER_BIN, startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, uid } from '../../helpers/clients.js';
import { openJson, type Frame, type JsonWs } from '../../helpers/json-ws.js';
import { SseReader } from '../../helpers/sse.js';

const NO_REDIS = existsSync(REDIS_SERVER_BIN) ? false : `${REDIS_SERVER_BIN} is not installed (run scripts/install-test-deps.sh)`;

describe('resume across the nodes of a cluster', { skip: NO_REDIS }, () => {
  let redis: RedisServer | undefined;
  let n1: TestServer;
  let n2: TestServer;
  let dir = '';
  const open: (() => unknown)[] = [];

  before(async () => {
    redis = await startRedis({});
    dir = mkdtempSync(join(tmpdir(), 'sb-cluster-resume-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        log: { level: 'info' },
        history: [{ filter: 'kept/#', maxMessages: 200, maxAgeSeconds: 0 }],
        cluster: { redis: { url: redis.url, keyPrefix: `wresume-${process.pid}:` }, nodeTimeoutSeconds: 2 },
      }),
    );
    n1 = await startServer({ configFile: file, keepStore: true });
    n2 = await startServer({ configFile: file, keepStore: true });
  });
  after(async () => {
    for (const f of open) f();
    await closeAllClients();
    await n1?.stop();
    await n2?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const wsUrl = (n: TestServer) => `${n.httpUrl.replace('http:', 'ws:')}/ws`;
  async function json(n: TestServer): Promise<JsonWs> {
    const { client, connected } = await openJson(wsUrl(n));
    open.push(() => client.close());
    assert.equal(connected.type, 'connected', JSON.stringify(connected));
    return client;
  }
  const isMessage = (f: Frame) => f.type === 'message';

  test('JSON: subscribed on node 1, away, back on node 2 with since: what was missed once, in order, then live', async () => {
    const root = `kept/${uid('xjson')}`;
    const p1 = (await connectClient(n1, { protocolVersion: 5 })).client;
    const p2 = (await connectClient(n2, { protocolVersion: 5 })).client;
    const send = async (c: typeof p1, from: number, to: number) => {
      // QoS 1: acknowledged after the publishing node's batch, which holds the history append.
      for (let i = from; i <= to; i++) await c.publishAsync(`${root}/t`, String(i), { qos: 1 });
    };

    const first = await json(n1);
    const sub = await first.call({ type: 'subscribe', filters: [`${root}/#`] });
    assert.deepEqual(sub.results, [{ filter: `${root}/#`, ok: true }]);
    await send(p2, 1, 3); // from the other node, live
    await send(p1, 4, 5); // from its own node, live
    const seen: Frame[] = [];
    for (let i = 1; i <= 5; i++) seen.push(await first.next(isMessage, 5000, `live message ${i}`));
    assert.deepEqual(seen.map((f) => f.payload), ['1', '2', '3', '4', '5']);
    const since = String(seen.at(-1)!.id);
    assert.match(since, /^[a-z0-9]+-\d+(_[a-z0-9]+-\d+)*$/, 'the id is a cursor');
    first.close();
    await first.waitClosed();

    // Away: published on the node it will come back to, then on the node it left.
    await send(p2, 6, 8);
    await send(p1, 9, 10);

    const back = await json(n2);
    const resumed = await back.call({ type: 'subscribe', filters: [`${root}/#`], since });
    assert.deepEqual(resumed.results, [{ filter: `${root}/#`, ok: true }]);
    await send(p2, 11, 11);
    await send(p1, 12, 12);
    const got: Frame[] = [];
    for (let i = 6; i <= 12; i++) got.push(await back.next(isMessage, 5000, `message ${i} after the resume`));
    assert.equal(back.frames.some((f) => f.type === 'reset'), false, 'nothing was trimmed: no reset');
    // Node 2's messages in its order, node 1's in its order; the replay (6-10) before the live ones.
    const payloads = got.map((f) => Number(f.payload));
    const fromN2 = payloads.filter((n) => [6, 7, 8, 11].includes(n));
    const fromN1 = payloads.filter((n) => [9, 10, 12].includes(n));
    assert.deepEqual(fromN2, [6, 7, 8, 11]);
    assert.deepEqual(fromN1, [9, 10, 12]);
    assert.deepEqual(payloads.slice(0, 5).sort((a, b) => a - b), [6, 7, 8, 9, 10], 'the replay first');
    // Nothing twice: a probe published after everything else is the next message.
    await send(p1, 13, 13);
    const probe = await back.next(isMessage, 5000, 'the probe');
    assert.equal(probe.payload, '13');
    assert.equal(back.frames.filter(isMessage).length, 0, `no duplicates: ${JSON.stringify(back.frames)}`);
  });

  test('SSE: stream on node 2, away, back on node 1 with Last-Event-ID: what was missed once, in order', async () => {
    const root = `kept/${uid('xsse')}`;
    const p1 = (await connectClient(n1, { protocolVersion: 5 })).client;
    const p2 = (await connectClient(n2, { protocolVersion: 5 })).client;
    const send = async (c: typeof p1, from: number, to: number) => {
      for (let i = from; i <= to; i++) await c.publishAsync(`${root}/t`, String(i), { qos: 1 });
    };
    const url = (n: TestServer) => `${n.httpUrl}/events?topic=${encodeURIComponent(`${root}/#`)}`;

    const first = await SseReader.open(url(n2));
    open.push(() => first.close());
    await first.named('subscribed');
    await send(p1, 1, 2);
    await send(p2, 3, 3);
    for (let i = 1; i <= 3; i++) {
      const e = await first.named('message');
      assert.equal(JSON.parse(e.data).payload, String(i));
      assert.notEqual(e.id, undefined, 'messages on kept topics carry an id');
    }
    // What a reconnecting EventSource sends: the last id it was handed.
    const last = first.lastId;
    first.close();

    await send(p1, 4, 5);
    await send(p2, 6, 6);
    const back = await SseReader.open(url(n1), { headers: { 'last-event-id': last } });
    open.push(() => back.close());
    await back.named('subscribed');
    await send(p1, 7, 7);
    const got: number[] = [];
    for (let i = 4; i <= 7; i++) got.push(Number(JSON.parse((await back.named('message')).data).payload));
    assert.deepEqual(got.filter((n) => n !== 6), [4, 5, 7]);
    assert.equal(got.includes(6), true);
    assert.equal(got.indexOf(6) < got.indexOf(7), true, 'the replay before the live message');
    await send(p2, 8, 8);
    assert.equal(JSON.parse((await back.named('message')).data).payload, '8', 'nothing twice: the next message is the probe');
  });
});
