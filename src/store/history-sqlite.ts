// History on SQLite: the memory store's structures (history-memory.ts), loaded at open, answer
// reads synchronously and exactly; every change is written through in the current batch
// (sqlite-batch.ts), so what is on disk is what memory held at the last commit.
//
// Sequence numbers must never be handed out twice by this database's origin, even after a crash
// that lost the last batch (those messages were already delivered live, with their ids): the
// highest sequence that may be used is reserved in `settings` AHEAD of use, in blocks, with a
// synchronous write of its own, so a restart continues above anything handed out before.
import type Database from 'better-sqlite3';
import { withHistoryId } from '../shared/message.js';
import { ORIGIN_PATTERN } from '../shared/history-id.js';
import { MemoryHistoryStore, newOrigin } from './history-memory.js';
import type { HistoryCaps, HistoryEntry } from './history-store.js';
import type { WriteBatch } from './sqlite-batch.js';
import { decodeMessage, MESSAGE_COLUMNS, MESSAGE_PLACEHOLDERS, messageParams, type MessageRow } from './sqlite-codec.js';

const RESERVE_BLOCK = 1000;

interface HistoryRow extends MessageRow {
  origin: string;
  seq: number;
}

export class SqliteHistoryStore extends MemoryHistoryStore {
  override readonly kind = 'sqlite';
  override readonly durable = true;
  private readonly batch: WriteBatch;
  private readonly insert: Database.Statement;
  private readonly deleteRow: Database.Statement;
  private readonly mark: Database.Statement;
  private readonly unmark: Database.Statement;
  private readonly setFloor: Database.Statement;
  private readonly reserve: Database.Statement;
  private reserved: number;
  private loading = true;

  constructor(db: Database.Database, batch: WriteBatch, caps: HistoryCaps) {
    const setting = db.prepare('SELECT value FROM settings WHERE key = ?');
    const put = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)');
    let origin = (setting.get('history_origin') as { value: string } | undefined)?.value;
    if (origin === undefined || !ORIGIN_PATTERN.test(origin)) {
      origin = newOrigin();
      put.run('history_origin', origin);
    }
    const reservedText = (setting.get('history_seq') as { value: string } | undefined)?.value;
    const reserved = reservedText === undefined ? 0 : Number(reservedText);
    const start = Number.isSafeInteger(reserved) && reserved > 0 ? reserved : 0;
    super(caps, origin, start);
    this.reserved = start;
    this.batch = batch;
    this.insert = db.prepare(`INSERT OR REPLACE INTO history (origin, seq, ${MESSAGE_COLUMNS}) VALUES (?, ?, ${MESSAGE_PLACEHOLDERS})`);
    this.deleteRow = db.prepare('DELETE FROM history WHERE origin = ? AND seq = ?');
    this.mark = db.prepare('INSERT OR REPLACE INTO history_marks (topic, origin, seq) VALUES (?, ?, ?)');
    this.unmark = db.prepare('DELETE FROM history_marks WHERE topic = ?');
    this.setFloor = db.prepare('INSERT OR REPLACE INTO history_floor (origin, seq) VALUES (?, ?)');
    this.reserve = put;
    // Entries in the order they were appended: per origin by sequence, origins by receive time.
    const rows = db.prepare(`SELECT origin, seq, ${MESSAGE_COLUMNS} FROM history ORDER BY received_at, origin, seq`).iterate() as IterableIterator<HistoryRow>;
    for (const row of rows) {
      const m = decodeMessage(row);
      this.load(withHistoryId(m, { origin: row.origin, seq: row.seq }, m.receivedAt ?? 0));
    }
    for (const row of db.prepare('SELECT topic, origin, seq FROM history_marks').iterate() as IterableIterator<{ topic: string; origin: string; seq: number }>) {
      this.loadMark(row.topic, row.origin, row.seq);
    }
    for (const row of db.prepare('SELECT origin, seq FROM history_floor').iterate() as IterableIterator<{ origin: string; seq: number }>) {
      this.floor.set(row.origin, row.seq);
      this.known.add(row.origin);
    }
    this.loading = false;
  }

  override nextSeq(): number {
    const seq = super.nextSeq();
    if (seq > this.reserved) {
      // Committed on its own, now, before the id is used (see the file comment).
      this.reserved = seq + RESERVE_BLOCK;
      this.reserve.run('history_seq', String(this.reserved));
    }
    return seq;
  }

  protected override wrote(entry: HistoryEntry): void {
    if (this.loading) return;
    this.batch.add(this.insert, [entry.id.origin, entry.id.seq, ...messageParams(entry.message)]);
  }

  protected override removed(entry: HistoryEntry): void {
    this.batch.add(this.deleteRow, [entry.id.origin, entry.id.seq]);
  }

  protected override marked(topic: string, origin: string, seq: number): void {
    this.batch.add(this.mark, [topic, origin, seq]);
  }

  protected override floored(origin: string, seq: number): void {
    this.batch.add(this.setFloor, [origin, seq]);
  }

  protected override forgot(topic: string): void {
    this.batch.add(this.unmark, [topic]);
  }
}
