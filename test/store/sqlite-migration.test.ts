// Schema version 3 (a message stored once, named by queued and in-flight rows) opening a file an
// older build wrote (version 2, one copy of the message per row). The fixture
// test/fixtures/sqlite-v2/switchboard.db was written by the build of d2e1063 through its own
// store (test/fixtures/sqlite-v2/make.mjs), plus the null user property value 0.x stored for a
// poison PUBLISH (issue 13). Opened by this build, every queued and in-flight message is kept in
// order, what expired is purged, the poisoned properties are cleaned on load, and a real server
// delivers the queue to the returning client.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnect, destroyAllRaw } from '../helpers/raw-client.js';
import { startServer, stopAllServers } from '../helpers/server.js';
import { LATEST_SCHEMA_VERSION } from '../../src/store/sqlite-schema.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';

const FIXTURE = new URL('../fixtures/sqlite-v2/switchboard.db', import.meta.url).pathname;
const dirs: string[] = [];
function copyOfFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-migrate-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'data'));
  copyFileSync(FIXTURE, join(dir, 'data', 'switchboard.db'));
  return dir;
}
after(async () => {
  destroyAllRaw();
  await stopAllServers();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const count = (store: SqliteStore, table: string) => (store.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('sqlite: a version 2 file opened by this build', () => {
  test('migrates to one message row per row, keeps queue and in-flight order, purges what expired, cleans poisoned properties', async () => {
    const dir = copyOfFixture();
    let store = openSqliteStore({ path: join(dir, 'data') });
    try {
      assert.equal(store.database.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION);
      const sessions = await store.sessions.loadSessions();
      const offline = sessions.find((s) => s.clientId === 'offline')!;
      const online = sessions.find((s) => s.clientId === 'online')!;
      assert.deepEqual(sessions.map((s) => s.clientId), ['offline', 'online']);
      assert.deepEqual(
        offline.queue.map((q) => [q.seq, q.delivery.message.topic, q.delivery.qos]),
        [
          [1, 'news/shared', 1],
          [2, 'news/props', 2],
          [4, 'news/poison', 1],
        ],
        'seq 3 had expired: purged at open',
      );
      const [shared, props, poison] = offline.queue.map((q) => q.delivery);
      assert.deepEqual(shared!.subscriptionIds, [7]);
      assert.equal(shared!.message.payload.toString(), 'payload of news/shared');
      assert.equal(shared!.message.publisherId, 'pub');
      assert.equal(shared!.message.receivedAt, 1_700_000_000_000);
      assert.deepEqual(props!.message.properties, {
        contentType: 'text/plain',
        userProperties: { a: '1', b: ['2', '3'] },
        correlationData: Buffer.from([0, 1, 255]),
      });
      assert.deepEqual(poison!.message.properties, { userProperties: { good: 'y' } }, 'the null value is left out');
      assert.deepEqual(
        online.inflight.map((e) => [e.packetId, e.state, e.delivery.message.topic]),
        [
          [65535, 'publish', 'news/shared'],
          [1, 'publish', 'news/one'],
          [2, 'pubrel', 'news/released'],
        ],
        'send order across the packet-id wrap; the released QoS 2 entry kept though its message expired',
      );
      assert.deepEqual(online.inboundQos2, [9]);
      assert.deepEqual([offline.subscriptions.map((s) => s.key), online.subscriptions.map((s) => s.key)], [['news/#'], ['news/+']]);
      assert.equal(store.retained.get('news/retained')?.payload.toString(), 'payload of news/retained');
      assert.equal(count(store, 'messages'), 6, 'one per row left');

      // Working on the migrated rows: the queue moves in flight (the same message row is kept),
      // acknowledgements remove rows and then their messages.
      store.sessions.dequeue('offline', 1);
      store.sessions.putInflight('offline', 1, 'publish', shared!);
      store.sessions.deleteInflight('online', 65535);
      store.sessions.deleteInflight('online', 2);
      store.flush();
      assert.equal(count(store, 'messages'), 4);
      store.close();

      store = openSqliteStore({ path: join(dir, 'data') });
      const again = await store.sessions.loadSessions();
      assert.deepEqual(
        again.map((s) => [s.clientId, s.queue.map((q) => q.seq), s.inflight.map((e) => `${e.packetId}:${e.delivery.message.topic}`)]),
        [
          ['offline', [2, 4], ['1:news/shared']],
          ['online', [], ['1:news/one']],
        ],
      );
      store.sessions.deleteSession('offline');
      store.flush();
      assert.equal(count(store, 'messages'), 1, 'only news/one is still named');
    } finally {
      store.close();
    }
  });

  test('a server started on the old file delivers the queue to the client that returns, then the in-flight ones', async () => {
    const dir = copyOfFixture();
    const config = join(dir, 'switchboard.json');
    writeFileSync(config, JSON.stringify({ store: { type: 'sqlite', path: join(dir, 'data') } }));
    const server = await startServer({ configFile: config, keepStore: true });
    const raw = await rawConnect('tcp', server, { protocolVersion: 5 });
    const ack = await raw.connect({ clientId: 'offline', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    assert.equal(ack.sessionPresent, true);
    const got: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) got.push((await raw.expect('publish')) as IPublishPacket);
    assert.deepEqual(
      got.map((p) => [p.topic, p.payload.toString(), p.qos]),
      [
        ['news/shared', 'payload of news/shared', 1],
        ['news/props', 'payload of news/props', 2],
        ['news/poison', 'payload of news/poison', 1],
      ],
    );
    assert.deepEqual(got[0]!.properties?.subscriptionIdentifier, 7);
    assert.deepEqual({ ...got[2]!.properties?.userProperties }, { good: 'y' });
    raw.end();

    // The session connected at the crash gets its in-flight messages again, in order.
    const online = await rawConnect('tcp', server, { protocolVersion: 4 });
    const ack2 = await online.connect({ clientId: 'online', clean: false, protocolVersion: 4 });
    assert.equal(ack2.sessionPresent, true);
    const first = (await online.expect('publish')) as IPublishPacket;
    const second = (await online.expect('publish')) as IPublishPacket;
    assert.deepEqual([first.messageId, first.topic, first.dup], [65535, 'news/shared', true]);
    assert.deepEqual([second.messageId, second.topic, second.dup], [1, 'news/one', true]);
    assert.equal(((await online.expect('pubrel')) as { messageId: number }).messageId, 2);
    online.end();
    assert.deepEqual(server.logLines().filter((l) => (l.level ?? 0) >= 50), []);
    await server.stop();
  });
});
