// Resume without loss (docs/history.md, "Resuming"): the protocol-neutral handover from history
// to live delivery that the JSON WebSocket and SSE front-ends share.
//
// A front-end, for one client that comes back with the cursor it last saw:
//   1. const r = new Resumption({ history, filters, since, canReceive, clock })
//   2. subscribes the client's filters live, and from then on passes EVERY live delivery through
//      r.offer(message): 'deliver' -> send it now (with id r.idText); 'hold' -> do nothing (r
//      keeps it and start() returns it); 'duplicate' -> drop it (the replay already sent it);
//   3. const { reset, messages } = await r.start(): tells the client `reset` when true, then
//      sends `messages` in order (each with its own `id`), then carries on with step 2's 'deliver'.
// Why nothing is lost and nothing is sent twice, per origin (shared/history-id.ts): every message
// is stamped and stored before it is delivered anywhere, and each origin's messages are delivered
// here in sequence order. So what the live subscription did not see (published before step 2) is
// in the history read at step 3, and what the read returns up to sequence s of an origin covers
// every live message of that origin up to s: those are the duplicates, and nothing else is.
import type { Clock } from '../shared/clock.js';
import { HistoryCursor, type HistoryId } from '../shared/history-id.js';
import type { Message } from '../shared/message.js';
import type { HistoryStore } from '../store/history-store.js';

/** What to do with one live delivery. */
export type Offer = 'deliver' | 'hold' | 'duplicate';

export interface ResumeOptions {
  history: HistoryStore;
  /** The client's topic filters (what it subscribed; no $share). */
  filters: readonly string[];
  /**
   * The cursor the client gave back (Last-Event-ID, `since`); null: a new client, which gets no
   * old messages (its cursor starts at the history's head). Parse with parseCursor().
   */
  since: HistoryCursor | null;
  /** iot:Receive with the client's permissions, per replayed message. */
  canReceive: (topic: string) => boolean;
  clock: Clock;
  /** At most this many missed messages are replayed; more is a reset. Default 1000. */
  limit?: number;
  /** At most this many payload bytes are replayed (the newest first); more is a reset. Default 8 MiB. */
  maxBytes?: number;
}

export interface ResumedMessage {
  readonly message: Message;
  /** The cursor after this message: the id to give the client with it. */
  readonly id: string;
  /** A retained message sent on subscribe that was held meanwhile: delivered with its retain flag. */
  readonly retain?: boolean;
}

export interface ResumeStart {
  /** Some messages after the client's cursor are no longer kept (or more than `limit` were missed). */
  readonly reset: boolean;
  /** What the client missed, then what arrived live while reading: in order, nothing twice. */
  readonly messages: ResumedMessage[];
  /**
   * Set when history could not be read (Redis unreachable): `reset` is then true and `messages`
   * holds only what arrived live meanwhile. For the front-end's log; the client carries on live.
   */
  readonly error?: unknown;
}

/** The cursor in a client's text (Last-Event-ID, `since`): null when it is not one (say so, do not guess). */
export function parseCursor(text: string): HistoryCursor | null {
  return HistoryCursor.parse(text);
}

export class Resumption {
  private readonly options: ResumeOptions;
  /** What the client has had (its resume point): the text given with each message. */
  readonly cursor: HistoryCursor;
  /** What must not be sent again: the client's `since` plus what the replay sent. */
  private readonly sent: HistoryCursor;
  /** Live deliveries held while history is read, with the retain flag each was delivered with. */
  private held: { message: Message; retain: boolean }[] | null = [];
  private heldOverflow = false;
  private readonly limit: number;

  constructor(options: ResumeOptions) {
    this.options = options;
    this.limit = options.limit ?? 1000;
    this.cursor = options.since?.clone() ?? new HistoryCursor();
    this.sent = options.since?.clone() ?? new HistoryCursor();
  }

  /** True until start() has resolved: live deliveries are being held. */
  get replaying(): boolean {
    return this.held !== null;
  }

  /** The client's cursor as text (the id to send with the latest message). */
  get idText(): string {
    return this.cursor.toString();
  }

  /**
   * One live delivery (see the file comment). Advances the cursor when it answers 'deliver'.
   * `retain`: the delivery's retain flag (true for a retained message sent on subscribe), kept
   * with a held message so that its release says so too.
   */
  offer(message: Message, retain = false): Offer {
    const id = message.historyId;
    if (this.held !== null) {
      // Bounded: held messages with an id are also in the history the read returns, unless the
      // read is older than they are (Redis); past the bound the client is told it lost some.
      if (this.held.length >= this.limit) this.heldOverflow = true;
      else this.held.push({ message, retain });
      return 'hold';
    }
    if (id === undefined) return 'deliver';
    if (this.sent.covers(id)) return 'duplicate';
    this.cursor.advance(id);
    return 'deliver';
  }

  /** Reads what the client missed and releases what was held; call once, after subscribing live. */
  async start(): Promise<ResumeStart> {
    const o = this.options;
    const since = o.since;
    const out: ResumedMessage[] = [];
    let reset = false;
    let error: unknown;
    try {
      if (since === null) {
        // A new client: start at the head, so a later resume does not replay what came before it.
        // Only origins it has not heard from yet: an origin's message still on its way here must
        // not count as had (history-id.ts: the head is read from the store, not from deliveries).
        // This node's own origin is exact either way (its publishes are synchronous): advancing to
        // its head also passes a retained message's older id given on subscribe.
        const head = await o.history.head();
        for (const id of head.ids()) if (id.origin === o.history.origin || this.cursor.seqOf(id.origin) === undefined) this.cursor.advance(id);
      } else {
        const page = await o.history.read({ filters: o.filters, after: since, limit: this.limit, canReceive: o.canReceive, now: o.clock.now() });
        reset = page.reset || page.truncated;
        // Bounded by bytes as well as count: a client's replay is held in memory until sent.
        const maxBytes = o.maxBytes ?? 8 * 1024 * 1024;
        let first = page.entries.length;
        for (let bytes = 0; first > 0 && bytes + page.entries[first - 1]!.message.payload.length <= maxBytes; first--) {
          bytes += page.entries[first - 1]!.message.payload.length;
        }
        if (first > 0) reset = true;
        for (const e of page.entries.slice(first)) {
          this.sent.advance(e.id);
          this.cursor.advance(e.id);
          out.push({ message: e.message, id: this.cursor.toString() });
        }
      }
    } catch (err) {
      // Never lose silently: the client hears it missed something and goes on live.
      error = err;
      if (since !== null) reset = true;
    }
    const held = this.held ?? [];
    this.held = null;
    if (this.heldOverflow) reset = true;
    for (const { message: m, retain } of held) {
      const id: HistoryId | undefined = m.historyId;
      if (id !== undefined) {
        if (this.sent.covers(id)) continue;
        this.cursor.advance(id);
      }
      out.push(retain ? { message: m, id: this.cursor.toString(), retain } : { message: m, id: this.cursor.toString() });
    }
    return error === undefined ? { reset, messages: out } : { reset, messages: out, error };
  }
}
