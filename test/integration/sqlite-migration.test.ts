// A server started on a SQLite file written by the previous build (schema version 2; the fixture
// and how it was made: test/fixtures/sqlite-v2/) migrates it and delivers what it held: the queue
// to the v5 client that returns, the in-flight messages (and the PUBREL) to the v3.1.1 one that
// was connected when that server stopped. Store-level checks: test/store/sqlite-migration.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnect, destroyAllRaw } from '../helpers/raw-client.js';
import { startServer, stopAllServers } from '../helpers/server.js';

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

describe('sqlite: a server on a version 2 file', () => {
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
