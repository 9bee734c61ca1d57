// Schema version 3 (a message stored once, named by queued and in-flight rows) opening a file an
// older build wrote (version 2, one copy of the message per row). The fixture
// test/fixtures/sqlite-v2/switchboard.db was written by the build of d2e1063 through its own
// store (test/fixtures/sqlite-v2/make.mjs), plus the null user property value 0.x stored for a
// poison PUBLISH (issue 13). Opened by this build, every queued and in-flight message is kept in
// order, what expired is purged, and the poisoned properties are cleaned on load. A real server
// on the same file: test/integration/sqlite-migration.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
after(() => {
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
});
