// Retained messages on SQLite: the memory store's Map, loaded at open, answers get/match
// synchronously (the broker needs them on SUBSCRIBE without waiting); every change is written
// through in the current batch. Invariant: the table holds exactly the Map's topics once the
// pending batch commits. Expired messages are dropped from both, lazily when met, and at open.
import type Database from 'better-sqlite3';
import type { Message } from '../shared/message.js';
import { MemoryRetainedStore } from './retained-memory.js';
import type { WriteBatch } from './sqlite-batch.js';
import { decodeMessage, MESSAGE_COLUMNS, MESSAGE_PLACEHOLDERS, messageParams, type MessageRow } from './sqlite-codec.js';

export class SqliteRetainedStore extends MemoryRetainedStore {
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly batch: WriteBatch;

  constructor(db: Database.Database, batch: WriteBatch) {
    super();
    this.batch = batch;
    this.upsert = db.prepare(`INSERT OR REPLACE INTO retained (${MESSAGE_COLUMNS}) VALUES (${MESSAGE_PLACEHOLDERS})`);
    this.remove = db.prepare('DELETE FROM retained WHERE topic = ?');
    for (const row of db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM retained`).iterate() as IterableIterator<MessageRow>) {
      super.set(decodeMessage(row));
    }
  }

  /** Deletes expired rows; run once at open, before the constructor loads the rest. */
  static purgeExpired(db: Database.Database, now: number): number {
    return db.prepare('DELETE FROM retained WHERE expires_at <> 0 AND expires_at <= ?').run(now).changes;
  }

  override set(message: Message): void {
    super.set(message);
    this.batch.add(this.upsert, messageParams(message));
  }

  override delete(topic: string): boolean {
    // Nothing to write when the topic holds nothing: an empty retained publish to a fresh topic
    // costs no commit.
    const existed = super.delete(topic);
    if (existed) this.batch.add(this.remove, [topic]);
    return existed;
  }
}
