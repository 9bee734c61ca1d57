// Authorizers created at run time, on SQLite: records as JSON rows, the default authorizer in
// `settings`. Reads come from Maps loaded at open (the admin API and CONNECT read synchronously);
// changes are written through in the current batch. Behaves exactly as MemoryAuthorizerStore.
import type Database from 'better-sqlite3';
import type { AuthorizerRecord, AuthorizerStore } from './authorizer-store.js';
import type { WriteBatch } from './sqlite-batch.js';

const DEFAULT_KEY = 'default_authorizer';

export class SqliteAuthorizerStore implements AuthorizerStore {
  private readonly records = new Map<string, AuthorizerRecord>();
  private defaultName: string | undefined;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly setSetting: Database.Statement;
  private readonly deleteSetting: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly batch: WriteBatch,
  ) {
    this.upsert = db.prepare('INSERT OR REPLACE INTO authorizers (name, record) VALUES (?, ?)');
    this.remove = db.prepare('DELETE FROM authorizers WHERE name = ?');
    this.setSetting = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)');
    this.deleteSetting = db.prepare('DELETE FROM settings WHERE key = ?');
    for (const row of db.prepare('SELECT name, record FROM authorizers').iterate() as IterableIterator<{ name: string; record: string }>) {
      this.records.set(row.name, JSON.parse(row.record) as AuthorizerRecord);
    }
    const def = db.prepare('SELECT value FROM settings WHERE key = ?').get(DEFAULT_KEY) as { value: string } | undefined;
    this.defaultName = def?.value;
  }

  list(): AuthorizerRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): AuthorizerRecord | undefined {
    return this.records.get(name);
  }

  put(record: AuthorizerRecord): void {
    this.records.set(record.name, record);
    this.batch.add(this.upsert, [record.name, JSON.stringify(record)]);
  }

  delete(name: string): boolean {
    if (this.defaultName === name) this.setDefault(undefined);
    const existed = this.records.delete(name);
    if (existed) this.batch.add(this.remove, [name]);
    return existed;
  }

  getDefault(): string | undefined {
    return this.defaultName;
  }

  setDefault(name: string | undefined): void {
    this.defaultName = name;
    if (name === undefined) this.batch.add(this.deleteSetting, [DEFAULT_KEY]);
    else this.batch.add(this.setSetting, [DEFAULT_KEY, name]);
  }
}
