// Rules on SQLite, read from memory, written through in the batch.
import type Database from 'better-sqlite3';
import type { RuleStore, StoredRule } from './rule-store.js';
import type { WriteBatch } from './sqlite-batch.js';
import { SqliteRecordTable } from './sqlite-records.js';

export class SqliteRuleStore extends SqliteRecordTable<StoredRule> implements RuleStore {
  constructor(db: Database.Database, batch: WriteBatch) {
    super(db, batch, 'rules', 'name', (r) => r.name);
  }
}
