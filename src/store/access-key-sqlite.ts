// Access keys on SQLite: records (secrets sealed) as JSON rows, mirrored in a Map for the
// synchronous look-ups SigV4 verification makes; changes written through in the current batch.
import type Database from 'better-sqlite3';
import type { AccessKeyRecord, AccessKeyStore } from './access-key-store.js';
import type { WriteBatch } from './sqlite-batch.js';

export class SqliteAccessKeyStore implements AccessKeyStore {
  private readonly records = new Map<string, AccessKeyRecord>();
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly batch: WriteBatch,
  ) {
    this.upsert = db.prepare('INSERT OR REPLACE INTO access_keys (access_key_id, record) VALUES (?, ?)');
    this.remove = db.prepare('DELETE FROM access_keys WHERE access_key_id = ?');
    for (const row of db.prepare('SELECT record FROM access_keys').iterate() as IterableIterator<{ record: string }>) {
      const record = JSON.parse(row.record) as AccessKeyRecord;
      this.records.set(record.accessKeyId, record);
    }
  }

  list(): AccessKeyRecord[] {
    return [...this.records.values()].sort((a, b) => (a.accessKeyId < b.accessKeyId ? -1 : a.accessKeyId > b.accessKeyId ? 1 : 0));
  }

  get(id: string): AccessKeyRecord | undefined {
    return this.records.get(id);
  }

  put(record: AccessKeyRecord): void {
    this.records.set(record.accessKeyId, record);
    this.batch.add(this.upsert, [record.accessKeyId, JSON.stringify(record)]);
  }

  delete(id: string): boolean {
    const existed = this.records.delete(id);
    if (existed) this.batch.add(this.remove, [id]);
    return existed;
  }
}
