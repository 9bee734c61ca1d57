// The history contract (history-contract.ts) on the memory and SQLite backends; the Redis backend
// runs it in history-redis.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory-store.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { runHistorySuite } from './history-contract.js';

runHistorySuite('memory', {
  open: (caps) => new MemoryStore().openHistory(caps),
  cleanup: () => {},
});

let dir = '';
let sqlite: SqliteStore | null = null;
runHistorySuite('sqlite', {
  open: (caps) => {
    dir = mkdtempSync(join(tmpdir(), 'sb-history-'));
    sqlite = openSqliteStore({ path: dir });
    return sqlite.openHistory(caps);
  },
  reopen: (caps) => {
    sqlite!.close();
    sqlite = openSqliteStore({ path: dir });
    return sqlite.openHistory(caps);
  },
  cleanup: () => {
    sqlite?.close();
    sqlite = null;
    rmSync(dir, { recursive: true, force: true });
  },
});
