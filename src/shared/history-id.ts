// History ids and resume cursors (docs/history.md, "Ids").
//
// Every message kept in history gets a HistoryId: the ORIGIN that stamped it (one per history
// writer: a SQLite database, a memory store's process, a cluster node's run) and a SEQUENCE number
// that origin hands out in publish order, across all of its topics. The id is assigned
// synchronously in the publish path, before any delivery, so on one origin the order of ids is the
// order of deliveries to every subscriber, whatever their filters: two publishes in the same
// millisecond on different topics still get distinct, ordered ids.
//
// A client resumes with a CURSOR: for each origin, the highest sequence it has seen. Because each
// origin's messages reach every node in that origin's order (locally the publish is synchronous;
// between nodes the backplane link is FIFO), "seq <= cursor[origin]" says exactly which messages
// a client has had, on every topic its filters match, also when it comes back through another
// node. On one node the cursor has one entry, and a message's id IS the cursor after it.
//
// Text forms (URL- and header-safe, no escaping needed; SSE's Last-Event-ID is one string):
//   id      `${origin}-${seq}`               e.g. `k3x9q2mf-1742`
//   cursor  ids joined by '_', one per origin e.g. `k3x9q2mf-1742_p0a8c7zz-12`
// Valid: `a-1`, `abc123-0`. Invalid: `A-1` (upper case), `a-01` (leading zero), `a-1_a-2` (origin twice).

/** A message's place in history: the origin that stamped it and its sequence there (>= 1). */
export interface HistoryId {
  readonly origin: string;
  readonly seq: number;
}

/** Origins are 1-16 lower-case letters and digits. */
export const ORIGIN_PATTERN = /^[a-z0-9]{1,16}$/;
/** A cursor names at most this many origins (a cluster's nodes over the history window). */
export const MAX_CURSOR_ORIGINS = 64;

export function formatHistoryId(id: HistoryId): string {
  return `${id.origin}-${id.seq}`;
}

function parseSeq(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** The id in `text`, or null when it is not one. */
export function parseHistoryId(text: string): HistoryId | null {
  const dash = text.lastIndexOf('-');
  if (dash <= 0) return null;
  const origin = text.slice(0, dash);
  const seq = parseSeq(text.slice(dash + 1));
  if (!ORIGIN_PATTERN.test(origin) || seq === null) return null;
  return { origin, seq };
}

/**
 * What a client has had: per origin, the highest sequence. Mutable (a front-end keeps one per
 * client and advances it per delivery); its text is cached until the next change, so handing the
 * same cursor to several events costs nothing.
 */
export class HistoryCursor {
  private readonly seqs = new Map<string, number>();
  private text: string | null = '';

  /** The cursor in `text` (an id is a one-origin cursor), or null when malformed. '' is the empty cursor. */
  static parse(text: string): HistoryCursor | null {
    const cursor = new HistoryCursor();
    if (text === '') return cursor;
    if (text.length > MAX_CURSOR_ORIGINS * 34) return null;
    const parts = text.split('_');
    if (parts.length > MAX_CURSOR_ORIGINS) return null;
    for (const part of parts) {
      const id = parseHistoryId(part);
      if (id === null || cursor.seqs.has(id.origin)) return null;
      cursor.seqs.set(id.origin, id.seq);
    }
    cursor.text = null;
    return cursor;
  }

  static of(ids: Iterable<HistoryId>): HistoryCursor {
    const cursor = new HistoryCursor();
    for (const id of ids) cursor.advance(id);
    return cursor;
  }

  /** The highest sequence seen from `origin`; undefined when none. */
  seqOf(origin: string): number | undefined {
    return this.seqs.get(origin);
  }

  /** Whether a message with this id has been had (its sequence is at or below the cursor's). */
  covers(id: HistoryId): boolean {
    const seen = this.seqs.get(id.origin);
    return seen !== undefined && id.seq <= seen;
  }

  /** Moves the cursor past `id` (never backwards). */
  advance(id: HistoryId): void {
    const seen = this.seqs.get(id.origin);
    if (seen !== undefined && seen >= id.seq) return;
    this.seqs.set(id.origin, id.seq);
    this.text = null;
  }

  /** Every origin's position, as ids. */
  ids(): HistoryId[] {
    return [...this.seqs].map(([origin, seq]) => ({ origin, seq }));
  }

  get size(): number {
    return this.seqs.size;
  }

  clone(): HistoryCursor {
    return HistoryCursor.of(this.ids());
  }

  /** The text form; origins in a stable (sorted) order so equal cursors print the same. */
  toString(): string {
    if (this.text === null) {
      this.text = [...this.seqs.keys()]
        .sort()
        .map((origin) => `${origin}-${this.seqs.get(origin)!}`)
        .join('_');
    }
    return this.text;
  }
}
