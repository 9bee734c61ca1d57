// A table of JSON records keyed by name, mirrored in a Map for synchronous reads and written
// through in the current batch: what authorizers, access keys and rules need from SQLite.
import type Database from 'better-sqlite3';
import type { WriteBatch } from './sqlite-batch.js';

export class SqliteRecordTable<T> {
  private readonly records = new Map<string, T>();
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;

  /** `table` has (`keyColumn` TEXT PRIMARY KEY, record TEXT) as created by the migrations. */
  constructor(
    db: Database.Database,
    private readonly batch: WriteBatch,
    table: 'authorizers' | 'access_keys' | 'rules',
    keyColumn: string,
    private readonly keyOf: (record: T) => string,
  ) {
    this.upsert = db.prepare(`INSERT OR REPLACE INTO ${table} (${keyColumn}, record) VALUES (?, ?)`);
    this.remove = db.prepare(`DELETE FROM ${table} WHERE ${keyColumn} = ?`);
    for (const row of db.prepare(`SELECT record FROM ${table}`).iterate() as IterableIterator<{ record: string }>) {
      const record = JSON.parse(row.record) as T;
      this.records.set(keyOf(record), record);
    }
  }

  list(): T[] {
    return [...this.records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }

  get(key: string): T | undefined {
    return this.records.get(key);
  }

  put(record: T): void {
    const key = this.keyOf(record);
    this.records.set(key, record);
    this.batch.add(this.upsert, [key, JSON.stringify(record)]);
  }

  delete(key: string): boolean {
    const existed = this.records.delete(key);
    if (existed) this.batch.add(this.remove, [key]);
    return existed;
  }
}
