// Group commit with a delay (sqlite-batch.ts, store.commitDelayMs): what waits, what commits when,
// what a PUBACK read meanwhile cancels, and that an acknowledgement still means "on disk", also
// after kill -9. Time is a ManualClock, except in the child process that is killed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/shared/clock.js';
import type { Message } from '../../src/shared/message.js';
import type { StoredDelivery } from '../../src/store/session-store.js';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite-store.js';
import { runStoreContract } from './store-contract.js';

const STORE_MODULE = new URL('../../src/store/sqlite-store.ts', import.meta.url).href;
const REPO_ROOT = new URL('../../', import.meta.url).pathname;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-group-commit-'));
  tempDirs.push(dir);
  return dir;
}
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// The whole contract again with a delay: reads, flush and close must not depend on it.
runStoreContract('sqlite (commitDelayMs 3)', () => {
  let dir: string | undefined;
  return {
    open() {
      dir = tempDir();
      return openSqliteStore({ path: dir, commitDelayMs: 3 });
    },
    reopen() {
      assert.ok(dir);
      return openSqliteStore({ path: dir, commitDelayMs: 3 });
    },
    cleanup() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
    asyncCommit: true,
  };
});

const msg = (topic: string): Message => ({ topic, payload: Buffer.from(topic), qos: 1, retain: false, properties: undefined, expiresAt: 0, publisherId: undefined });
const delivery = (topic: string): StoredDelivery => ({ message: msg(topic), qos: 1, retain: false, subscriptionIds: undefined });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const rows = (store: SqliteStore, table: string) => (store.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

function open(options: Partial<SqliteStoreOptions> = {}): { store: SqliteStore; clock: ManualClock } {
  const clock = new ManualClock();
  return { store: openSqliteStore({ path: tempDir(), commitDelayMs: 5, clock, ...options }), clock };
}

describe('sqlite group commit', () => {
  test('a turn’s changes commit commitDelayMs after the turn, and only then run their callbacks', async () => {
    const { store, clock } = open();
    try {
      const commits = store.stats.commits;
      const acked: string[] = [];
      store.sessions.putSession('c', 5, 600, null);
      store.afterCommit(() => acked.push('session'));
      await nextTurn();
      await nextTurn();
      assert.deepEqual(acked, [], 'not before the delay');
      assert.equal(rows(store, 'sessions'), 0);
      clock.advance(4);
      assert.deepEqual(acked, []);
      clock.advance(1);
      assert.deepEqual(acked, ['session']);
      assert.equal(rows(store, 'sessions'), 1);
      assert.equal(store.stats.commits, commits + 1);
    } finally {
      store.close();
    }
  });

  test('each turn waits its own delay: a later turn is not committed with an earlier one', async () => {
    const { store, clock } = open();
    try {
      const acked: string[] = [];
      store.sessions.putSession('a', 5, 600, null);
      store.afterCommit(() => acked.push('a'));
      await nextTurn(); // turn 1 closes at t0
      clock.advance(3);
      store.sessions.putSession('b', 5, 600, null);
      store.afterCommit(() => acked.push('b'));
      await nextTurn(); // turn 2 closes at t0 + 3
      assert.deepEqual(acked, []);
      clock.advance(2); // t0 + 5: turn 1 is due
      assert.deepEqual(acked, ['a']);
      assert.deepEqual(
        (store.database.prepare('SELECT client_id FROM sessions').all() as { client_id: string }[]).map((r) => r.client_id),
        ['a'],
      );
      clock.advance(3); // t0 + 8: turn 2
      assert.deepEqual(acked, ['a', 'b']);
      assert.equal(rows(store, 'sessions'), 2);
    } finally {
      store.close();
    }
  });

  test('a PUBACK read before the commit cancels the in-flight row; the PUBLISH acknowledgement still waits for the commit', async () => {
    const { store, clock } = open();
    try {
      store.sessions.putSession('s1', 5, 600, null);
      store.sessions.putSession('s2', 5, 600, null);
      store.flush();
      const changes = store.stats.changes;
      // Turn 1: one publish fanned out to two persistent sessions (the broker gives both the same
      // message); its PUBACK waits for the commit.
      const t = delivery('t');
      const queued = delivery('queued');
      store.sessions.putInflight('s1', 1, 'publish', t);
      store.sessions.putInflight('s2', 1, 'publish', t);
      store.sessions.enqueue('s2', 7, queued);
      let puback = false;
      store.afterCommit(() => (puback = true));
      await nextTurn();
      // Turn 2: s1 acknowledges; s2's queued message moves in flight.
      store.sessions.deleteInflight('s1', 1);
      store.sessions.dequeue('s2', 7);
      store.sessions.putInflight('s2', 2, 'publish', queued);
      await nextTurn();
      assert.equal(puback, false);
      clock.advance(5);
      assert.equal(puback, true);
      store.flush();
      assert.equal(store.stats.cancelled, 2, 's1’s row and the queued row');
      assert.equal(store.stats.changes - changes, 4, 's2’s two in-flight rows and the two messages, once each');
      assert.equal(rows(store, 'messages'), 2);
      const sessions = await store.sessions.loadSessions();
      const inflight = Object.fromEntries(sessions.map((s) => [s.clientId, s.inflight.map((e) => e.packetId)]));
      assert.deepEqual(inflight, { s1: [], s2: [1, 2] });
      assert.deepEqual(sessions.map((s) => s.queue.length), [0, 0]);
    } finally {
      store.close();
    }
  });

  test('a fan-out stores its message once; acknowledged by every subscriber before the commit, it writes nothing', async () => {
    const { store, clock } = open();
    try {
      const subscribers = Array.from({ length: 50 }, (_, i) => `s${i}`);
      for (const id of subscribers) store.sessions.putSession(id, 5, 600, null);
      store.flush();
      const changes = store.stats.changes;
      // Publish 1: every subscriber acknowledges within the delay.
      const first = delivery('first');
      for (const id of subscribers) store.sessions.putInflight(id, 1, 'publish', first);
      assert.equal(store.pendingChanges, 1 + subscribers.length, 'one message row, then one small row per subscriber');
      await nextTurn();
      for (const id of subscribers) store.sessions.deleteInflight(id, 1);
      await nextTurn();
      clock.advance(5);
      assert.equal(store.pendingChanges, 0);
      assert.equal(store.stats.changes - changes, 0, 'nothing reached the file');
      assert.deepEqual([rows(store, 'messages'), rows(store, 'inflight')], [0, 0]);

      // Publish 2: all but two acknowledge in time; the message is written once, with their rows.
      const second = delivery('second');
      for (const id of subscribers) store.sessions.putInflight(id, 2, 'publish', second);
      await nextTurn();
      for (const id of subscribers.slice(2)) store.sessions.deleteInflight(id, 2);
      await nextTurn();
      clock.advance(5);
      assert.equal(store.stats.changes - changes, 3);
      assert.deepEqual([rows(store, 'messages'), rows(store, 'inflight')], [1, 2]);
      // The last two acknowledge after the commit: their rows, then the message, are deleted.
      store.sessions.deleteInflight('s0', 2);
      store.flush();
      assert.deepEqual([rows(store, 'messages'), rows(store, 'inflight')], [1, 1], 's1 still names it');
      store.sessions.deleteInflight('s1', 2);
      store.flush();
      assert.deepEqual([rows(store, 'messages'), rows(store, 'inflight')], [0, 0]);
    } finally {
      store.close();
    }
  });

  test('a PUBACK after the commit deletes the row; PUBREL and session deletion keep the pair on disk', async () => {
    const { store, clock } = open();
    try {
      store.sessions.putSession('c', 5, 600, null);
      // Committed first, acknowledged later: an ordinary DELETE.
      store.sessions.putInflight('c', 1, 'publish', delivery('a'));
      store.flush();
      store.sessions.deleteInflight('c', 1);
      // QoS 2: PUBREC moves the pending entry to 'pubrel' before PUBCOMP removes it.
      store.sessions.putInflight('c', 2, 'publish', delivery('b'));
      store.sessions.putInflight('c', 2, 'pubrel', delivery('b'));
      store.sessions.deleteInflight('c', 2);
      // The same packet id again after a session was deleted and created anew.
      store.sessions.putInflight('c', 3, 'publish', delivery('c'));
      store.sessions.deleteSession('c');
      store.sessions.putSession('c', 5, 600, null);
      store.sessions.putInflight('c', 3, 'publish', delivery('c2'));
      await nextTurn();
      clock.advance(5);
      const [s] = await store.sessions.loadSessions();
      assert.deepEqual(
        s!.inflight.map((e) => [e.packetId, e.delivery.message.topic]),
        [[3, 'c2']],
      );
      store.sessions.deleteInflight('c', 3);
      store.flush();
      assert.deepEqual((await store.sessions.loadSessions())[0]!.inflight, []);
    } finally {
      store.close();
    }
  });

  test('what waits is bounded: past maxPendingChanges a turn commits without waiting for the delay', async () => {
    const { store, clock } = open({ commitDelayMs: 1000, maxPendingChanges: 10 });
    try {
      store.sessions.putSession('c', 5, 600, null);
      let seq = 1;
      for (let turn = 0; turn < 6; turn++) {
        for (let i = 0; i < 4; i++) store.sessions.enqueue('c', seq++, delivery(`m${seq}`));
        await nextTurn();
        assert.ok(store.pendingChanges <= 10, `turn ${turn}: ${store.pendingChanges} changes wait`);
      }
      assert.ok(rows(store, 'queued') >= 24 - 10, 'most are committed though no time passed');
      clock.advance(1000);
      assert.equal(store.pendingChanges, 0);
      assert.equal(rows(store, 'queued'), 24);
    } finally {
      store.close();
    }
  });
});

describe('sqlite group commit durability', () => {
  test('kill -9 after an acknowledgement: what it acknowledged is on disk, rows it cancelled are not', async () => {
    const dir = tempDir();
    // Real time in the child: a 200 ms delay, so the "PUBACK" of the second turn surely lands
    // before the commit and cancels s1's row; the first publish's acknowledgement waits for it.
    const source = `import { openSqliteStore } from ${JSON.stringify(STORE_MODULE)};
      const store = openSqliteStore({ path: ${JSON.stringify(dir)}, commitDelayMs: 200 });
      const d = (topic) => ({ message: { topic, payload: Buffer.from(topic), qos: 1, retain: false, properties: undefined, expiresAt: 0, publisherId: 'p' }, qos: 1, retain: false, subscriptionIds: undefined });
      store.sessions.putSession('s1', 5, 600, null);
      store.sessions.putSession('s2', 5, 600, null);
      store.sessions.putInflight('s1', 1, 'publish', d('m1'));
      store.sessions.putInflight('s2', 1, 'publish', d('m1'));
      store.afterCommit(() => {
        console.log('acked');
        store.sessions.putInflight('s1', 2, 'publish', d('never-acked'));
        setImmediate(() => process.kill(process.pid, 'SIGKILL'));
      });
      setImmediate(() => store.sessions.deleteInflight('s1', 1));
    `;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const how = await new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
    assert.equal(how, 'SIGKILL', out);
    assert.match(out, /acked/);
    const store = openSqliteStore({ path: dir });
    try {
      const sessions = await store.sessions.loadSessions();
      const inflight = Object.fromEntries(sessions.map((s) => [s.clientId, s.inflight.map((e) => `${e.packetId}:${e.delivery.message.topic}`)]));
      assert.deepEqual(inflight, { s1: [], s2: ['1:m1'] }, 'acknowledged: s2 still owes m1; s1 acknowledged it; the later change was never acknowledged');
    } finally {
      store.close();
    }
  });
});
