// The Redis backend, for a cluster: every node opens the same Redis (and key prefix). Retained
// messages, authorizers, access keys and rules are mirrored in each node's memory for synchronous
// reads and kept equal across nodes by change notices (redis-changes.ts); sessions are read from
// Redis when needed (redis-sessions.ts). Every change goes to Redis in one MULTI/EXEC per
// event-loop turn (redis-batch.ts), and acknowledgements wait for it with afterCommit.
//
// Redis unreachable is not fatal: the node keeps running, changes wait (coalesced, in order) and
// are committed once ioredis has reconnected; afterCommit callbacks wait with them. After a
// reconnection the mirrors are reloaded in full (notices sent meanwhile were lost). `onError` only
// reports a failure that retrying cannot fix (Redis refused a command of ours); the store has then
// stopped writing, like the SQLite store after a failed commit.
//
// Start-up failures throw a StoreOpenError ('unreachable' | 'newer-schema' | 'corrupt' |
// 'sealing-key') within the open timeout, before anything but the layout marker and the
// sealing-key records is written.
import { RedisHistoryStore } from './history-redis.js';
import type { HistoryCaps, HistoryStore } from './history-store.js';
import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from '../logger.js';
import { errorDetail, StoreOpenError, StoreUnavailableError, type StoreCommitError } from './errors.js';
import { RedisWriteBatch, type RedisBatchStats } from './redis-batch.js';
import { ChangeFeed, type ChangeListener } from './redis-changes.js';
import { REDIS_FORMAT_VERSION, RedisKeys } from './redis-keys.js';
import { checkFormat, connectAll, createClient, redactUrl, resolveSealingKey, sealingKeyId } from './redis-open.js';
import { RedisAccessKeyStore, RedisAuthorizerStore, RedisRuleStore } from './redis-records.js';
import { RedisRetainedStore } from './redis-retained.js';
import { RedisSessionStore } from './redis-sessions.js';
import type { Store } from './store.js';

export const DEFAULT_REDIS_KEY_PREFIX = 'sb:';
const DEFAULT_OPEN_TIMEOUT_MS = 5_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
const DEFAULT_READ_TIMEOUT_MS = 5_000;
/** The broker's default limits.maxRetainedMessages. */
const DEFAULT_MAX_RETAINED = 100_000;
/** How often the subscriber connection is pinged, so a dead one is noticed (socket timeout). */
const HEARTBEAT_MS = 5_000;
const RELOAD_RETRY_MS = 1_000;
const QUIT_WAIT_MS = 500;

export interface RedisStoreOptions {
  /** redis://[user:password@]host[:port][/db] or rediss://... (TLS). */
  url: string;
  /** Prefix of every key and of the changes channel; default 'sb:'. */
  keyPrefix?: string;
  /**
   * The access-key sealing key, base64 of 32 bytes (or the bytes). Every node must then have the
   * same. Unset: one kept in Redis is used (created by the first node).
   */
  sealingKey?: string | Buffer;
  logger?: Logger;
  /** Bound on the whole open (connect, checks, mirror load); default 5000 ms. */
  openTimeoutMs?: number;
  /** How long close waits for pending changes to be committed; default 2000 ms. */
  closeTimeoutMs?: number;
  /** How long a session read waits for this node's pending changes; default 5000 ms. */
  readTimeoutMs?: number;
  /** The retained mirror's bound (the broker's limits.maxRetainedMessages); default 100000. */
  maxRetainedMessages?: number;
  /** Tells this node's change notices from the others'; default random. */
  nodeId?: string;
}

interface RedisStoreParts {
  cmd: Redis;
  sub: Redis;
  keys: RedisKeys;
  url: string;
  nodeId: string;
  sealingKey: Buffer;
  /** The sealing key is the one kept in Redis (none configured). */
  sealingKeyInRedis: boolean;
  logger: Logger;
  closeTimeoutMs: number;
  readTimeoutMs: number;
  maxRetainedMessages: number;
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly capabilities = { durable: true, sharedAcrossNodes: true };
  /** The URL with any password replaced by '***'. */
  readonly url: string;
  readonly keyPrefix: string;
  /** This handle's id in change notices. */
  readonly nodeId: string;
  readonly retained: RedisRetainedStore;
  readonly sessions: RedisSessionStore;
  readonly authorizers: RedisAuthorizerStore;
  readonly accessKeys: RedisAccessKeyStore;
  readonly rules: RedisRuleStore;
  readonly sealingKey: Buffer;
  onError: ((error: StoreCommitError) => void) | undefined = undefined;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly keys: RedisKeys;
  private readonly writer: RedisWriteBatch;
  private readonly feed: ChangeFeed;
  private readonly logger: Logger;
  private readonly closeTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly sealingKeyInRedis: boolean;
  private subscribed = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;

  private history: HistoryStore | null = null;

  /** History in Redis streams shared by every node (history-redis.ts). */
  openHistory(caps: HistoryCaps): HistoryStore {
    return (this.history ??= new RedisHistoryStore({ client: this.cmd, writer: this.writer, prefix: this.keyPrefix, caps, settled: () => this.settled() }));
  }

  /** Use openRedisStore: it connects and checks first. */
  constructor(parts: RedisStoreParts) {
    this.cmd = parts.cmd;
    this.sub = parts.sub;
    this.keys = parts.keys;
    this.url = parts.url;
    this.keyPrefix = parts.keys.prefix;
    this.nodeId = parts.nodeId;
    this.sealingKey = parts.sealingKey;
    this.logger = parts.logger;
    this.closeTimeoutMs = parts.closeTimeoutMs;
    this.readTimeoutMs = parts.readTimeoutMs;
    this.sealingKeyInRedis = parts.sealingKeyInRedis;
    this.writer = new RedisWriteBatch({
      client: this.cmd,
      keys: this.keys,
      nodeId: this.nodeId,
      url: this.url,
      logger: this.logger,
      report: (error) => this.onError?.(error),
    });
    this.feed = new ChangeFeed({ writer: this.writer, keys: this.keys, nodeId: this.nodeId, logger: this.logger, wantReload: () => this.reload() });
    this.retained = new RedisRetainedStore({
      feed: this.feed,
      writer: this.writer,
      keys: this.keys,
      nodeId: this.nodeId,
      maxMessages: parts.maxRetainedMessages,
      logger: this.logger,
    });
    this.authorizers = new RedisAuthorizerStore(this.feed, this.keys, this.logger);
    this.accessKeys = new RedisAccessKeyStore(this.feed, this.keys, this.logger);
    this.rules = new RedisRuleStore(this.feed, this.keys, this.logger);
    for (const table of [this.retained, this.authorizers, this.authorizers.defaultAuthorizer, this.accessKeys, this.rules]) this.feed.register(table);
    this.sessions = new RedisSessionStore({
      client: this.cmd,
      writer: this.writer,
      keys: this.keys,
      logger: this.logger,
      reads: { settled: () => this.settled(), exec: (multi) => this.read(multi) },
    });
  }

  /**
   * Calls `listener` for each change to a mirrored record once it is in this node's mirror:
   * 'local' for this node's own changes (when Redis has run them), 'remote' for other nodes' and
   * for what a reload after a reconnection found changed. The default authorizer is kind
   * 'authorizer' with key ''. Returns a function that removes the listener.
   */
  onChange(listener: ChangeListener): () => void {
    return this.feed.onChange(listener);
  }

  afterCommit(callback: () => void): void {
    this.writer.afterCommit(callback);
  }

  /** Sends what is pending now (the commit completes asynchronously); throws after a failure. */
  flush(): void {
    if (this.closed) return;
    this.writer.flush();
  }

  /** Starts closing: pending changes get up to closeTimeoutMs to commit. See closeAsync. */
  close(): void {
    void this.closeAsync();
  }

  /** Commits what is pending (bounded wait), then quits both connections. Idempotent. */
  closeAsync(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Commands waiting for Redis (or in flight): what an outage holds back. */
  get backlog(): number {
    return this.writer.backlog;
  }

  /** Whether the command connection is up. */
  get connected(): boolean {
    return this.cmd.status === 'ready';
  }

  /** The first unrecoverable commit failure, if any. */
  get failure(): StoreCommitError | undefined {
    return this.writer.failure;
  }

  get stats(): Readonly<RedisBatchStats & { notices: number; reloads: number; gaps: number }> {
    return { ...this.writer.stats, ...this.feed.stats };
  }

  /** Subscribes and loads the mirrors; part of openRedisStore. */
  async start(): Promise<void> {
    this.cmd.on('ready', () => {
      if (this.closed) return;
      this.writer.setConnected(true);
      // Redis may have restarted, or lost what it had not persisted: look again.
      this.feed.markStale();
    });
    this.cmd.on('close', () => {
      if (!this.closed) this.writer.setConnected(false);
    });
    this.cmd.on('error', (err: unknown) => this.logger.debug({ err, url: this.url }, 'store: Redis command connection error'));
    this.sub.on('ready', () => {
      if (!this.closed) void this.subscribe();
    });
    this.sub.on('close', () => {
      this.subscribed = false;
      if (!this.closed) this.feed.markStale();
    });
    this.sub.on('error', (err: unknown) => this.logger.debug({ err, url: this.url }, 'store: Redis subscriber connection error'));
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.feed.onMessage(message));
    this.writer.setConnected(this.cmd.status === 'ready');
    await this.sub.subscribe(this.keys.changes);
    this.subscribed = true;
    await this.feed.reload(this.cmd);
    this.heartbeat = setInterval(() => {
      if (this.sub.status === 'ready') this.sub.ping().catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Stops everything at once (a failed open). */
  abort(): void {
    this.closed = true;
    this.writer.stop();
    this.stopTimers();
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.keys.changes);
      this.subscribed = true;
      this.reload();
    } catch (err) {
      // The connection dropped again; its next 'ready' tries again.
      this.logger.debug({ err, url: this.url }, 'store: resubscribing to change notices failed');
    }
  }

  /** Reloads the mirrors when both connections allow it; retried until it succeeds. */
  private reload(): void {
    if (this.closed || !this.subscribed || this.cmd.status !== 'ready' || this.feed.isLive) return;
    void this.restoreMarkers();
    this.feed.reload(this.cmd).then(
      () => undefined,
      (err: unknown) => {
        this.logger.warn({ err, url: this.url }, 'store: reloading the mirrors from Redis failed; trying again');
        if (this.reloadTimer === null && !this.closed) {
          this.reloadTimer = setTimeout(() => {
            this.reloadTimer = null;
            this.reload();
          }, RELOAD_RETRY_MS);
          this.reloadTimer.unref();
        }
      },
    );
  }

  /**
   * Before a reload (a reconnection, or notices out of sequence): writes the layout marker and the
   * sealing-key records back in case Redis lost them (restarted without persistence, or flushed),
   * so a node starting now joins with the key the running nodes use rather than creating another.
   */
  private async restoreMarkers(): Promise<void> {
    const id = sealingKeyId(this.sealingKey);
    const multi = this.cmd.multi().set(this.keys.format, String(REDIS_FORMAT_VERSION), 'NX');
    if (this.sealingKeyInRedis) multi.set(this.keys.sealingKey, this.sealingKey.toString('base64'), 'NX');
    multi.set(this.keys.sealingKeyId, id, 'NX').get(this.keys.sealingKeyId);
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
    } catch {
      return; // unreachable again: the next reload tries again
    }
    if (results === null) return;
    const recorded = results[results.length - 1]![1];
    if (recorded !== id) {
      this.logger.error(
        { url: this.url, keyPrefix: this.keyPrefix },
        'store: Redis now records another access-key sealing key than this node uses (a node started while Redis had lost its data?); restart the nodes so they agree',
      );
    }
  }

  /** Resolves once every change made before the call is committed. */
  private settled(): Promise<void> {
    if (this.writer.failure !== undefined) return Promise.reject(new StoreUnavailableError(this.url, 'the store stopped after a failed commit', this.writer.failure));
    if (this.closed || this.closing !== null) return Promise.reject(new StoreUnavailableError(this.url, 'the store is closed'));
    if (this.cmd.status !== 'ready') return Promise.reject(new StoreUnavailableError(this.url, 'Redis is unreachable'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new StoreUnavailableError(this.url, `this node's pending changes were not committed within ${this.readTimeoutMs} ms`));
      }, this.readTimeoutMs);
      this.writer.afterCommit(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async read(multi: ChainableCommander): Promise<[Error | null, unknown][]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
    } catch (err) {
      if (err instanceof Error && err.name === 'ReplyError') throw err;
      throw new StoreUnavailableError(this.url, errorDetail(err), err);
    }
    if (results === null) throw new StoreUnavailableError(this.url, 'the read transaction was aborted');
    return results;
  }

  private async shutDown(): Promise<void> {
    const drained = await this.writer.drain(this.closeTimeoutMs);
    if (!drained && this.writer.failure === undefined) {
      this.logger.warn({ url: this.url, backlog: this.writer.backlog }, 'store: closing with changes Redis has not committed; they are lost');
    }
    this.closed = true;
    this.writer.stop();
    this.stopTimers();
    await Promise.all([quit(this.cmd), quit(this.sub)]);
  }

  private stopTimers(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
    this.heartbeat = null;
    this.reloadTimer = null;
  }
}

/** QUIT when connected (bounded), then drop the connection either way; never reconnects after. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await Promise.race([client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, QUIT_WAIT_MS).unref())]);
  }
  client.disconnect();
}

/**
 * Connects to Redis, checks what is under the prefix, loads the mirrors. Throws StoreOpenError
 * (never hangs: bounded by openTimeoutMs) when Redis cannot be used.
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const logger = options.logger ?? pino({ enabled: false });
  const url = redactUrl(options.url);
  const keys = new RedisKeys(options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX);
  const nodeId = options.nodeId ?? randomBytes(6).toString('hex');
  const timeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // CLIENT SETNAME takes no spaces.
  const name = `switchboard:${nodeId.replace(/[^\w.:-]/g, '_')}`;
  const cmd = createClient(options.url, `${name}:commands`, timeoutMs);
  const sub = createClient(options.url, `${name}:changes`, timeoutMs);
  let store: RedisStore | undefined;
  let abandoned = false;
  try {
    await connectAll([cmd, sub], url, timeoutMs);
    const opened = (async () => {
      await checkFormat(cmd, keys, url);
      const sealingKey = await resolveSealingKey(cmd, keys, url, options.sealingKey);
      if (abandoned) throw new Error('open abandoned');
      store = new RedisStore({
        cmd,
        sub,
        keys,
        url,
        nodeId,
        sealingKey,
        sealingKeyInRedis: options.sealingKey === undefined,
        logger,
        closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
        readTimeoutMs: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
        maxRetainedMessages: options.maxRetainedMessages ?? DEFAULT_MAX_RETAINED,
      });
      await store.start();
      return store;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreOpenError('unreachable', url, `Redis answered, but opening the store took longer than ${timeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    opened.catch(() => undefined);
    const result = await Promise.race([opened, timeout]).finally(() => clearTimeout(timer));
    logger.info(
      {
        url,
        keyPrefix: keys.prefix,
        nodeId,
        retained: result.retained.size,
        authorizers: result.authorizers.list().length,
        rules: result.rules.list().length,
      },
      'store: opened Redis store',
    );
    return result;
  } catch (err) {
    abandoned = true;
    if (store !== undefined) store.abort();
    else {
      cmd.disconnect();
      sub.disconnect();
    }
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError('unreachable', url, errorDetail(err), err);
  }
}
