import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Message } from '../../src/shared/message.js';
import { StoreCommitError, StoreOpenError, type StoreOpenErrorCode } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import type { StoredDelivery } from '../../src/store/session-store.js';
import { LATEST_SCHEMA_VERSION } from '../../src/store/sqlite-schema.js';
import { openSqliteStore, SqliteStore } from '../../src/store/sqlite-store.js';
import { runStoreContract } from './store-contract.js';

const STORE_MODULE = new URL('../../src/store/sqlite-store.ts', import.meta.url).href;
const REPO_ROOT = new URL('../../', import.meta.url).pathname;
const AS_ROOT = process.getuid?.() === 0 ? 'running as root: permission bits do not stop root' : false;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'));
  tempDirs.push(dir);
  return dir;
}
process.on('exit', () => {
  for (const dir of tempDirs) {
    try {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

runStoreContract('sqlite', () => {
  let dir: string | undefined;
  return {
    open() {
      dir = tempDir();
      return openSqliteStore({ path: dir });
    },
    reopen() {
      assert.ok(dir);
      return openSqliteStore({ path: dir });
    },
    cleanup() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
});

function msg(topic: string, over: Partial<Message> = {}): Message {
  return { topic, payload: Buffer.from(topic), qos: 1, retain: true, properties: undefined, expiresAt: 0, publisherId: undefined, ...over };
}
const delivery = (m: Message): StoredDelivery => ({ message: m, qos: m.qos, retain: false, subscriptionIds: undefined });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const count = (store: SqliteStore, table: string) => (store.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** Runs `code` (an ES module body; `openSqliteStore` is in scope) in a child Node process. */
function child(code: string): { proc: ChildProcess; output: () => string; line: (text: string) => Promise<void>; exit: Promise<NodeJS.Signals | number | null> } {
  const source = `import { openSqliteStore } from ${JSON.stringify(STORE_MODULE)};\n${code}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters) if (out.includes(w.text)) w.resolve();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (codeOrNull, signal) => resolve(signal ?? codeOrNull)));
  return {
    proc,
    output: () => out,
    exit,
    line: (text) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void exit.then((how) => reject(new Error(`child exited (${String(how)}) before printing ${text}:\n${out}`)));
      }),
  };
}

describe('sqlite batching', () => {
  test('many changes in one turn are one transaction; callbacks run after it, in order', async () => {
    const store = openSqliteStore({ path: tempDir() });
    try {
      const before = { ...store.stats };
      store.sessions.putSession('c', 5, 600, null);
      const seen: string[] = [];
      const states: { commits: number; queued: number; inTransaction: boolean }[] = [];
      for (let seq = 1; seq <= 500; seq++) {
        store.sessions.enqueue('c', seq, delivery(msg(`q/${seq}`)));
        if (seq % 100 === 0) {
          store.afterCommit(() => {
            seen.push(`after ${seq}`);
            states.push({ commits: store.stats.commits - before.commits, queued: count(store, 'queued'), inTransaction: store.database.inTransaction });
          });
        }
      }
      store.retained.set(msg('r'));
      // Each queued row and its message (a message of its own: stored once, named by the row).
      assert.equal(store.pendingChanges, 1002);
      assert.equal(count(store, 'queued'), 0, 'nothing is written before the commit');
      assert.deepEqual(seen, [], 'never synchronously');
      await nextTurn();
      assert.deepEqual(seen, ['after 100', 'after 200', 'after 300', 'after 400', 'after 500']);
      for (const s of states) assert.deepEqual(s, { commits: 1, queued: 500, inTransaction: false });
      assert.equal(store.stats.changes - before.changes, 1002);
      assert.equal(store.pendingChanges, 0);

      // Next turn, next transaction; a callback given with nothing pending runs before it.
      const order: string[] = [];
      store.afterCommit(() => order.push('nothing pending'));
      store.sessions.dequeue('c', 1);
      store.afterCommit(() => order.push('after dequeue'));
      await nextTurn();
      assert.deepEqual(order, ['nothing pending', 'after dequeue']);
      assert.equal(store.stats.commits - before.commits, 2);
    } finally {
      store.close();
    }
  });

  test('flush() commits now and runs the waiting callbacks synchronously', () => {
    const store = openSqliteStore({ path: tempDir() });
    try {
      const commits = store.stats.commits;
      const order: string[] = [];
      store.afterCommit(() => order.push('a'));
      store.retained.set(msg('x'));
      store.afterCommit(() => order.push('b'));
      store.flush();
      assert.deepEqual(order, ['a', 'b']);
      assert.equal(store.stats.commits, commits + 1);
      assert.equal(count(store, 'retained'), 1);
      store.flush(); // nothing pending: no transaction
      assert.equal(store.stats.commits, commits + 1);
    } finally {
      store.close();
    }
  });

  test('a change SQLite rejects (a caller bug) is logged and skipped; the rest commits', async () => {
    const store = openSqliteStore({ path: tempDir() });
    try {
      store.sessions.putSession('c', 5, 600, null);
      // qos missing: NOT NULL constraint.
      store.sessions.putSubscription('c', { key: 'bad', qos: undefined } as never);
      store.sessions.putSubscription('c', { key: 'good', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
      let called = false;
      store.afterCommit(() => (called = true));
      await nextTurn();
      assert.ok(called);
      assert.equal(store.stats.rejected, 1);
      assert.equal(store.failure, undefined);
      assert.deepEqual(
        (await store.sessions.loadSessions())[0]!.subscriptions.map((s) => s.key),
        ['good'],
      );
    } finally {
      store.close();
    }
  });

  test('a failed commit is reported once, withholds its callbacks, and stops writing', async () => {
    const dir = tempDir();
    const store = openSqliteStore({ path: dir });
    store.retained.set(msg('committed'));
    store.flush();
    const errors: StoreCommitError[] = [];
    store.onError = (e) => errors.push(e);
    // Simulates a full disk: the file may not grow any more.
    const pages = store.database.pragma('page_count', { simple: true }) as number;
    store.database.pragma(`max_page_count = ${pages}`);
    const calls: string[] = [];
    store.afterCommit(() => calls.push('before the batch'));
    store.retained.set(msg('too-big', { payload: Buffer.alloc(1 << 20) }));
    store.sessions.putSession('lost', 5, 600, null);
    store.afterCommit(() => calls.push('failed batch'));
    await nextTurn();
    assert.deepEqual(calls, ['before the batch']);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof StoreCommitError);
    assert.equal(errors[0].code, 'commit-failed');
    assert.equal(errors[0].changes, 2);
    assert.match(errors[0].message, new RegExp(`${dir}/switchboard\\.db`));
    assert.equal(store.failure, errors[0]);

    store.retained.set(msg('after the failure'));
    store.afterCommit(() => calls.push('later'));
    assert.throws(() => store.flush(), StoreCommitError);
    await nextTurn();
    assert.deepEqual(calls, ['before the batch']);
    assert.equal(errors.length, 1, 'reported once');
    store.close(); // does not throw

    // On disk: exactly the batches before the failure.
    const again = openSqliteStore({ path: dir });
    try {
      assert.deepEqual(
        again.retained.match('#').map((m) => m.topic),
        ['committed'],
      );
      assert.deepEqual(await again.sessions.loadSessions(), []);
    } finally {
      again.close();
    }
  });

  test('changes after close are ignored (logged), not thrown', () => {
    const store = openSqliteStore({ path: tempDir() });
    store.close();
    store.retained.set(msg('late'));
    store.sessions.putSession('late', 5, 60, null);
    store.close();
  });
});

describe('sqlite durability', () => {
  test('a killed process keeps every flushed change; the unflushed turn is lost', async () => {
    const dir = tempDir();
    const c = child(`
      const store = openSqliteStore({ path: ${JSON.stringify(dir)} });
      const m = (topic) => ({ topic, payload: Buffer.from(topic), qos: 1, retain: true, properties: { contentType: 'text/plain' }, expiresAt: 0, publisherId: 'p' });
      store.retained.set(m('flushed'));
      store.sessions.putSession('c', 5, 600, null);
      store.sessions.enqueue('c', 1, { message: m('q/1'), qos: 1, retain: false, subscriptionIds: [4] });
      store.sessions.putInflight('c', 9, 'pubrel', { message: m('f/9'), qos: 2, retain: false, subscriptionIds: undefined });
      store.authorizers.put({ name: 'a1', type: 'http', url: 'https://x', status: 'ACTIVE', signingDisabled: true, timeoutMs: 5000, creationDate: 'd', lastModifiedDate: 'd' });
      store.authorizers.setDefault('a1');
      store.flush();
      store.retained.set(m('never-committed'));
      console.log('flushed');
      process.kill(process.pid, 'SIGKILL');
    `);
    assert.equal(await c.exit, 'SIGKILL', c.output());
    assert.match(c.output(), /flushed/);
    const store = openSqliteStore({ path: dir });
    try {
      assert.deepEqual(
        store.retained.match('#').map((m) => m.topic),
        ['flushed'],
      );
      assert.deepEqual(store.retained.get('flushed')!.properties, { contentType: 'text/plain' });
      const [s] = await store.sessions.loadSessions();
      assert.equal(s!.clientId, 'c');
      assert.deepEqual(s!.queue[0]!.delivery.subscriptionIds, [4]);
      assert.deepEqual(
        s!.inflight.map((e) => [e.packetId, e.state]),
        [[9, 'pubrel']],
      );
      assert.equal(store.authorizers.getDefault(), 'a1');
    } finally {
      store.close();
    }
    assert.deepEqual(readdirSync(dir).sort(), ['sealing.key', 'switchboard.db'], 'a clean close leaves the database file and the access-key sealing key');
  });

  test('a new store creates its directory and the schema; an empty file is a new store', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const store = openSqliteStore({ path: dir, fileName: 'custom.db', synchronous: 'FULL' });
    assert.equal(store.file, join(dir, 'custom.db'));
    assert.equal(store.database.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION);
    assert.equal(store.database.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.database.pragma('synchronous', { simple: true }), 2);
    store.close();

    const emptyDir = tempDir();
    writeFileSync(join(emptyDir, 'switchboard.db'), '');
    openSqliteStore({ path: emptyDir }).close();
  });

  test('openStore({ type: "sqlite" }) opens switchboard.db in path', async () => {
    const dir = tempDir();
    const store = await openStore({ type: 'sqlite', path: dir, synchronous: 'NORMAL' });
    try {
      assert.ok(store instanceof SqliteStore);
      assert.equal(store.kind, 'sqlite');
      assert.ok(existsSync(join(dir, 'switchboard.db')));
    } finally {
      store.close();
    }
  });
});

describe('sqlite start-up failures leave the file untouched', () => {
  /** Asserts that opening `dir` fails with `code`, a message naming `file`, and `file` unchanged. */
  function assertRefused(dir: string, code: StoreOpenErrorCode, file = join(dir, 'switchboard.db'), hash: string | null | undefined = tryHash(file)): StoreOpenError {
    // hash null: the caller compares itself (the file cannot be read now).
    const started = Date.now();
    let caught: unknown;
    try {
      openSqliteStore({ path: dir }).close();
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof StoreOpenError, `expected a StoreOpenError, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    assert.ok(caught.message.includes(file), `the message names ${file}: ${caught.message}`);
    assert.ok(Date.now() - started < 2000, 'fails fast');
    if (hash !== undefined && hash !== null) assert.equal(tryHash(file), hash, 'the file is byte-for-byte unchanged');
    return caught;
  }
  /** undefined when there is no regular file to compare. */
  const tryHash = (file: string) => (existsSync(file) && statSync(file).isFile() ? sha256(file) : undefined);

  function storeWithData(dir: string): void {
    const store = openSqliteStore({ path: dir });
    store.retained.set(msg('keep/me'));
    store.sessions.putSession('c', 5, 600, null);
    store.close();
  }

  test('locked: a second store in the same process', () => {
    const dir = tempDir();
    const first = openSqliteStore({ path: dir });
    try {
      first.retained.set(msg('x'));
      first.flush();
      const err = assertRefused(dir, 'locked');
      assert.match(err.message, /another Switchboard/);
    } finally {
      first.close();
    }
    openSqliteStore({ path: dir }).close();
  });

  test('locked: another process holds the store', async () => {
    const dir = tempDir();
    storeWithData(dir);
    const c = child(`
      const store = openSqliteStore({ path: ${JSON.stringify(dir)} });
      console.log('holding');
      setInterval(() => {}, 1000);
    `);
    try {
      await c.line('holding');
      assertRefused(dir, 'locked');
    } finally {
      c.proc.kill('SIGKILL');
      await c.exit;
    }
    // The lock dies with its process.
    const store = openSqliteStore({ path: dir });
    assert.equal(store.retained.size, 1);
    store.close();
  });

  test('corrupt: garbage bytes', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'switchboard.db'), randomBytes(8192));
    const err = assertRefused(dir, 'corrupt');
    assert.match(err.message, /backup/);
  });

  test('corrupt: a damaged SQLite file', () => {
    const dir = tempDir();
    storeWithData(dir);
    const file = join(dir, 'switchboard.db');
    const bytes = readFileSync(file);
    bytes.fill(0xa5, 100, 4096); // page 1 after the header: the schema's b-tree page
    writeFileSync(file, bytes);
    assertRefused(dir, 'corrupt');
  });

  test('corrupt: another application’s SQLite database', () => {
    const dir = tempDir();
    const db = new Database(join(dir, 'switchboard.db'));
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
    db.close();
    const err = assertRefused(dir, 'corrupt');
    assert.match(err.message, /no Switchboard schema/);
  });

  test('newer-schema: user_version above the latest migration', () => {
    const dir = tempDir();
    storeWithData(dir);
    const db = new Database(join(dir, 'switchboard.db'));
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    const err = assertRefused(dir, 'newer-schema');
    assert.match(err.message, new RegExp(`schema version ${LATEST_SCHEMA_VERSION + 1}`));
  });

  test('unreadable: a directory where the file should be', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'switchboard.db'));
    assertRefused(dir, 'unreadable');
    assert.deepEqual(readdirSync(join(dir, 'switchboard.db')), []);
  });

  test('unreadable: no read permission', { skip: AS_ROOT }, () => {
    const dir = tempDir();
    storeWithData(dir);
    const file = join(dir, 'switchboard.db');
    const hash = sha256(file);
    chmodSync(file, 0o000);
    try {
      assertRefused(dir, 'unreadable', file, null);
    } finally {
      chmodSync(file, 0o644);
    }
    assert.equal(sha256(file), hash);
  });

  test('unwritable: the store path runs through a regular file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain-file'), 'x');
    const path = join(dir, 'plain-file', 'data');
    assertRefused(path, 'unwritable', join(path, 'switchboard.db'));
    assert.equal(readFileSync(join(dir, 'plain-file'), 'utf8'), 'x');
  });

  test('unwritable: a read-only directory', { skip: AS_ROOT }, () => {
    const dir = tempDir();
    storeWithData(dir);
    chmodSync(dir, 0o555);
    try {
      assertRefused(dir, 'unwritable');
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  test('unwritable: a read-only file', { skip: AS_ROOT }, () => {
    const dir = tempDir();
    storeWithData(dir);
    chmodSync(join(dir, 'switchboard.db'), 0o444);
    try {
      assertRefused(dir, 'unwritable');
    } finally {
      chmodSync(join(dir, 'switchboard.db'), 0o644);
    }
  });
});
