// Access keys on SQLite (secrets sealed), read from memory, written through in the batch.
import type Database from 'better-sqlite3';
import type { AccessKeyRecord, AccessKeyStore } from './access-key-store.js';
import type { WriteBatch } from './sqlite-batch.js';
import { SqliteRecordTable } from './sqlite-records.js';

export class SqliteAccessKeyStore extends SqliteRecordTable<AccessKeyRecord> implements AccessKeyStore {
  constructor(db: Database.Database, batch: WriteBatch) {
    super(db, batch, 'access_keys', 'access_key_id', (r) => r.accessKeyId);
  }
}
