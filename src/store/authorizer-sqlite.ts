// Authorizers created at run time, on SQLite: records as JSON rows, the default authorizer in
// `settings`. Reads come from memory (the admin API and CONNECT read synchronously); changes are
// written through in the current batch. Behaves exactly as MemoryAuthorizerStore.
import type Database from 'better-sqlite3';
import type { AuthorizerRecord, AuthorizerStore } from './authorizer-store.js';
import type { WriteBatch } from './sqlite-batch.js';
import { SqliteRecordTable } from './sqlite-records.js';

const DEFAULT_KEY = 'default_authorizer';

export class SqliteAuthorizerStore extends SqliteRecordTable<AuthorizerRecord> implements AuthorizerStore {
  private defaultName: string | undefined;
  private readonly setSetting: Database.Statement;
  private readonly deleteSetting: Database.Statement;
  private readonly settingsBatch: WriteBatch;

  constructor(db: Database.Database, batch: WriteBatch) {
    super(db, batch, 'authorizers', 'name', (r) => r.name);
    this.settingsBatch = batch;
    this.setSetting = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)');
    this.deleteSetting = db.prepare('DELETE FROM settings WHERE key = ?');
    const def = db.prepare('SELECT value FROM settings WHERE key = ?').get(DEFAULT_KEY) as { value: string } | undefined;
    this.defaultName = def?.value;
  }

  override delete(name: string): boolean {
    if (this.defaultName === name) this.setDefault(undefined);
    return super.delete(name);
  }

  getDefault(): string | undefined {
    return this.defaultName;
  }

  setDefault(name: string | undefined): void {
    this.defaultName = name;
    if (name === undefined) this.settingsBatch.add(this.deleteSetting, [DEFAULT_KEY]);
    else this.settingsBatch.add(this.setSetting, [DEFAULT_KEY, name]);
  }
}
