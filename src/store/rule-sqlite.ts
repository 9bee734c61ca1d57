// Rules on SQLite: JSON rows mirrored in a Map for synchronous reads; written through in the batch.
import type Database from 'better-sqlite3';
import type { RuleStore, StoredRule } from './rule-store.js';
import type { WriteBatch } from './sqlite-batch.js';

export class SqliteRuleStore implements RuleStore {
  private readonly rules = new Map<string, StoredRule>();
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly batch: WriteBatch,
  ) {
    this.upsert = db.prepare('INSERT OR REPLACE INTO rules (name, record) VALUES (?, ?)');
    this.remove = db.prepare('DELETE FROM rules WHERE name = ?');
    for (const row of db.prepare('SELECT record FROM rules').iterate() as IterableIterator<{ record: string }>) {
      const rule = JSON.parse(row.record) as StoredRule;
      this.rules.set(rule.name, rule);
    }
  }

  list(): StoredRule[] {
    return [...this.rules.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): StoredRule | undefined {
    return this.rules.get(name);
  }

  put(rule: StoredRule): void {
    this.rules.set(rule.name, rule);
    this.batch.add(this.upsert, [rule.name, JSON.stringify(rule)]);
  }

  delete(name: string): boolean {
    const existed = this.rules.delete(name);
    if (existed) this.batch.add(this.remove, [name]);
    return existed;
  }
}
