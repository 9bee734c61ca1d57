// Keeps the in-process mirrors (retained messages, authorizers and the default authorizer, access
// keys, rules) equal to Redis on every node. Each write goes to Redis in a batch whose EXEC also
// publishes a change notice "{version}:{origin, batch, changes}" on `{prefix}changes`; every node,
// the writer included, applies the notices in the order Redis ran them, so concurrent writers to
// one key end with the same value everywhere: the last one Redis ran.
//
// Invariants:
// - Versions are consecutive (one INCR per notice). A notice out of sequence means some were
//   missed (the subscription dropped, Redis restarted, someone flushed it): the mirrors are then
//   reloaded in full from one atomic snapshot (MULTI: version + every table) and the notices
//   received after the snapshot was asked for are applied on top when newer than it.
// - Read-your-writes: a local change is in the mirror at once, and stays there, until Redis has
//   run it. Until the notice of the batch holding this node's LATEST change to a key comes back,
//   older notices about that key (ours or others') are not applied: that change runs after them,
//   so it is what Redis will hold. `uncommitted` maps each such key to that latest op.
// - After a reload, ops already committed before the snapshot are dropped from `uncommitted` (the
//   snapshot has them, or something newer); the others are applied again over the snapshot.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Command, Op, RedisWriteBatch } from './redis-batch.js';
import { CodecError, decodeNotice, WireKind, type Change, type Notice } from './redis-codec.js';
import type { RedisKeys } from './redis-keys.js';

import type { ChangeKind, ChangeListener, ChangeOrigin } from './store.js';

// The kinds a listener hears about (store.ts); the default authorizer is 'authorizer' with key ''.
export type { ChangeKind, ChangeListener, ChangeOrigin };

/** One mirrored Redis key (a hash, or a single string) and the in-process copy of it. */
export interface MirrorTable {
  readonly kind: WireKind;
  readonly redisKey: string;
  readonly redisType: 'hash' | 'string';
  /** Sets (value) or removes (undefined) one entry of the mirror only; returns whether it changed. */
  applyEncoded(key: string, value: Buffer | undefined): boolean;
  /** Replaces the whole mirror with a snapshot; returns the keys whose value changed. */
  replaceAll(entries: Map<string, Buffer>): string[];
}

const KIND_NAMES: Record<WireKind, ChangeKind> = {
  [WireKind.Retained]: 'retained',
  [WireKind.Authorizer]: 'authorizer',
  [WireKind.DefaultAuthorizer]: 'authorizer',
  [WireKind.AccessKey]: 'accessKey',
  [WireKind.Rule]: 'rule',
};

/** The coalescing key of a mirror change (no topic or name holds U+0000 [MQTT-1.5.4-2]). */
export function mirrorKey(kind: WireKind, key: string): string {
  return `${kind}\0${key}`;
}

export interface ChangeFeedOptions {
  writer: RedisWriteBatch;
  keys: RedisKeys;
  nodeId: string;
  logger: Logger;
  /** Asked to run `reload` when the connections allow it (the store knows their state). */
  wantReload: () => void;
}

export class ChangeFeed {
  private readonly tables = new Map<WireKind, MirrorTable>();
  private readonly uncommitted = new Map<string, Op>();
  private readonly listeners: ChangeListener[] = [];
  private lastVersion = 0;
  /** live: applying notices in order; stale: ignoring them until a reload; loading: buffering. */
  private state: 'live' | 'stale' | 'loading' = 'stale';
  private buffered: Notice[] = [];
  private loading: Promise<void> | null = null;
  /** Notices may have been lost while a load was running: load again after it. */
  private loadAgain = false;
  private warnedUndecodable = false;
  readonly stats = { notices: 0, reloads: 0, gaps: 0 };
  private readonly writer: RedisWriteBatch;
  private readonly keys: RedisKeys;
  private readonly nodeId: string;
  private readonly logger: Logger;
  private readonly wantReload: () => void;

  constructor(options: ChangeFeedOptions) {
    this.writer = options.writer;
    this.keys = options.keys;
    this.nodeId = options.nodeId;
    this.logger = options.logger;
    this.wantReload = options.wantReload;
  }

  register(table: MirrorTable): void {
    this.tables.set(table.kind, table);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Whether the mirrors follow Redis now (false between a missed notice and the reload). */
  get isLive(): boolean {
    return this.state === 'live';
  }

  /**
   * Records a local change (the caller has already applied it to its mirror): queued for Redis
   * with its notice, and tracked until that notice comes back.
   */
  write(change: Change, commands: Command[]): Op {
    const key = mirrorKey(change.kind, change.key);
    const op = this.writer.add({ key, commands, change });
    this.uncommitted.set(key, op);
    return op;
  }

  /** Tracks an op that changes a mirrored key through a script that publishes its own notice. */
  track(kind: WireKind, key: string, op: Op): void {
    this.uncommitted.set(mirrorKey(kind, key), op);
  }

  /** A message on the changes channel. */
  onMessage(message: Buffer): void {
    let notice: Notice;
    try {
      notice = decodeNotice(message);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      if (!this.warnedUndecodable) {
        this.warnedUndecodable = true;
        this.logger.warn({ err, channel: this.keys.changes }, 'store: undecodable change notice ignored (another program publishing on this channel?)');
      }
      return;
    }
    this.stats.notices++;
    if (this.state === 'loading') {
      this.buffered.push(notice);
      return;
    }
    if (this.state === 'stale') return;
    if (notice.version !== this.lastVersion + 1) {
      // Missed notices, or a counter that went back (Redis restarted without them, FLUSHALL).
      this.stats.gaps++;
      this.logger.info({ expected: this.lastVersion + 1, got: notice.version }, 'store: change notices out of sequence; reloading the mirrors from Redis');
      this.markStale();
      return;
    }
    this.lastVersion = notice.version;
    this.apply(notice);
  }

  /** The mirrors may have missed changes (a connection dropped): ignore notices until a reload. */
  markStale(): void {
    if (this.state === 'live') this.state = 'stale';
    else if (this.state === 'loading') this.loadAgain = true;
    this.wantReload();
  }

  /**
   * Loads one atomic snapshot of every mirrored key and makes it the mirrors, keeping local
   * changes Redis has not run yet. Concurrent calls share one load.
   */
  reload(client: Redis): Promise<void> {
    if (this.loading !== null) return this.loading;
    this.loading = this.load(client).then(
      () => {
        this.loading = null;
        // A gap among the notices buffered during the load: load again.
        if (this.state === 'stale') this.wantReload();
      },
      (err: unknown) => {
        this.loading = null;
        throw err;
      },
    );
    return this.loading;
  }

  private async load(client: Redis): Promise<void> {
    this.state = 'loading';
    this.loadAgain = false;
    // Notices received before this point were published before the snapshot runs: it has them.
    this.buffered = [];
    const tables = [...this.tables.values()];
    const multi = client.multi().get(this.keys.version);
    for (const t of tables) {
      if (t.redisType === 'hash') multi.hgetallBuffer(t.redisKey);
      else multi.getBuffer(t.redisKey);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
      if (results === null) throw new Error('the snapshot transaction was aborted');
      const failed = results.find((r) => r[0] !== null);
      if (failed) throw failed[0];
    } catch (err) {
      this.state = 'stale';
      this.buffered = [];
      throw err;
    }
    const version = Number(results[0]![1] ?? 0);
    this.stats.reloads++;
    if (version < this.lastVersion) {
      // The counter only grows: Redis went back in time.
      this.logger.warn(
        { from: this.lastVersion, to: version, keyPrefix: this.keys.prefix },
        'store: Redis lost changes it had acknowledged (restarted without complete persistence, or flushed); the mirrors now follow what it holds',
      );
    }
    for (let i = 0; i < tables.length; i++) {
      const t = tables[i]!;
      const reply = results[i + 1]![1];
      const entries = new Map<string, Buffer>();
      if (t.redisType === 'hash') {
        for (const [k, v] of Object.entries((reply ?? {}) as Record<string, Buffer>)) entries.set(k, v);
      } else if (reply !== null && reply !== undefined) entries.set('', reply as Buffer);
      for (const key of t.replaceAll(entries)) {
        if (!this.uncommitted.has(mirrorKey(t.kind, key))) this.emit(t.kind, key, 'remote');
      }
    }
    for (const [key, op] of this.uncommitted) {
      // Committed before the snapshot (its reply came first on the same connection): the
      // snapshot has it, or a later change by someone else.
      if (op.committed) this.uncommitted.delete(key);
      else if (op.change !== undefined) this.tables.get(op.change.kind)?.applyEncoded(op.change.key, op.change.value);
    }
    this.lastVersion = version;
    const buffered = this.buffered;
    this.buffered = [];
    if (this.loadAgain) {
      this.state = 'stale';
      return;
    }
    this.state = 'live';
    for (const notice of buffered) {
      if (notice.version <= this.lastVersion) continue;
      if (notice.version !== this.lastVersion + 1) {
        this.stats.gaps++;
        this.markStale();
        return;
      }
      this.lastVersion = notice.version;
      this.apply(notice);
    }
  }

  private apply(notice: Notice): void {
    const own = notice.origin === this.nodeId;
    for (const c of notice.changes) {
      const table = this.tables.get(c.kind);
      if (table === undefined) continue;
      const key = mirrorKey(c.kind, c.key);
      const pending = this.uncommitted.get(key);
      let committedHere = false;
      if (pending !== undefined) {
        // Our latest change to this key has not run yet, or runs in a later batch: it will win.
        if (!own || pending.batch !== notice.batch) continue;
        this.uncommitted.delete(key);
        committedHere = true;
        if (pending.change !== undefined) {
          // The mirror shows that change already (the caller's own object, not a decoded copy).
          this.emit(c.kind, c.key, 'local');
          continue;
        }
        // A script decided the value (an expired retained message): take what it says.
      }
      const changed = table.applyEncoded(c.key, c.value);
      if (changed || committedHere) this.emit(c.kind, c.key, own ? 'local' : 'remote');
    }
  }

  private emit(kind: WireKind, key: string, origin: ChangeOrigin): void {
    const name = KIND_NAMES[kind];
    for (const listener of this.listeners) {
      try {
        listener(name, key, origin);
      } catch (err) {
        this.logger.error({ err, kind: name, key }, 'store: change listener threw');
      }
    }
  }
}
