// Retained messages on SQLite: a Map loaded at open answers get/match synchronously (the broker
// needs them on SUBSCRIBE without waiting); every change is written through in the current batch.
// Invariant: the table holds exactly the Map's topics once the pending batch commits. Expired
// messages are dropped from both, lazily when met, and at open.
import type Database from 'better-sqlite3';
import type { Message } from '../broker/message.js';
import { isExpired } from '../broker/message.js';
import { topicMatches } from '../protocol/topic.js';
import type { RetainedStore } from './retained-store.js';
import type { WriteBatch } from './sqlite-batch.js';
import { decodeMessage, MESSAGE_COLUMNS, MESSAGE_PLACEHOLDERS, messageParams, type MessageRow } from './sqlite-codec.js';

export class SqliteRetainedStore implements RetainedStore {
  private readonly byTopic = new Map<string, Message>();
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly batch: WriteBatch,
  ) {
    this.upsert = db.prepare(`INSERT OR REPLACE INTO retained (${MESSAGE_COLUMNS}) VALUES (${MESSAGE_PLACEHOLDERS})`);
    this.remove = db.prepare('DELETE FROM retained WHERE topic = ?');
    for (const row of db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM retained`).iterate() as IterableIterator<MessageRow>) {
      this.byTopic.set(row.topic, decodeMessage(row));
    }
  }

  /** Deletes expired rows; run once at open, before the constructor loads the rest. */
  static purgeExpired(db: Database.Database, now: number): number {
    return db.prepare('DELETE FROM retained WHERE expires_at <> 0 AND expires_at <= ?').run(now).changes;
  }

  set(message: Message): void {
    this.byTopic.set(message.topic, message);
    this.batch.add(this.upsert, messageParams(message));
  }

  delete(topic: string): void {
    // Nothing to write when the topic holds nothing: an empty retained publish to a fresh topic
    // costs no commit.
    if (this.byTopic.delete(topic)) this.batch.add(this.remove, [topic]);
  }

  get(topic: string): Message | undefined {
    const m = this.byTopic.get(topic);
    if (m !== undefined && isExpired(m, Date.now())) {
      this.delete(topic);
      return undefined;
    }
    return m;
  }

  match(filter: string): Message[] {
    if (!filter.includes('+') && !filter.includes('#')) {
      const m = this.get(filter);
      return m ? [m] : [];
    }
    const now = Date.now();
    const out: Message[] = [];
    for (const [topic, m] of this.byTopic) {
      if (isExpired(m, now)) {
        this.delete(topic);
        continue;
      }
      if (topicMatches(filter, topic)) out.push(m);
    }
    return out;
  }

  get size(): number {
    return this.byTopic.size;
  }
}
