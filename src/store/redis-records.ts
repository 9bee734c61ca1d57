// Records created at run time (authorizers and the default authorizer, access keys, rules) on
// Redis: one hash per kind, name -> the record as JSON, mirrored in a Map loaded at open for
// synchronous reads. Local changes update the Map at once and go to Redis in the next batch; other
// nodes' changes arrive as change notices (redis-changes.ts). Behaves as the memory stores.
import type { Logger } from '../logger.js';
import type { AccessKeyRecord, AccessKeyStore } from './access-key-store.js';
import type { AuthorizerRecord, AuthorizerStore } from './authorizer-store.js';
import type { ChangeFeed, MirrorTable } from './redis-changes.js';
import { WireKind } from './redis-codec.js';
import type { RedisKeys } from './redis-keys.js';
import type { RuleStore, StoredRule } from './rule-store.js';

export class RedisRecordTable<T> implements MirrorTable {
  readonly redisType = 'hash';
  private records = new Map<string, T>();
  /** The JSON of each record, to tell a notice that changes nothing from one that does. */
  private raw = new Map<string, string>();

  constructor(
    protected readonly feed: ChangeFeed,
    readonly kind: WireKind,
    readonly redisKey: string,
    private readonly keyOf: (record: T) => string,
    private readonly logger: Logger,
  ) {}

  list(): T[] {
    return [...this.records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }

  get(key: string): T | undefined {
    return this.records.get(key);
  }

  put(record: T): void {
    const key = this.keyOf(record);
    const json = JSON.stringify(record);
    this.records.set(key, record);
    this.raw.set(key, json);
    this.feed.write({ kind: this.kind, key, value: Buffer.from(json) }, [['HSET', this.redisKey, key, json]]);
  }

  delete(key: string): boolean {
    const existed = this.records.delete(key);
    this.raw.delete(key);
    if (existed) this.feed.write({ kind: this.kind, key, value: undefined }, [['HDEL', this.redisKey, key]]);
    return existed;
  }

  applyEncoded(key: string, value: Buffer | undefined): boolean {
    if (value === undefined) {
      this.raw.delete(key);
      return this.records.delete(key);
    }
    const json = value.toString('utf8');
    if (this.raw.get(key) === json) return false;
    const record = this.parse(key, json);
    if (record === undefined) return false;
    this.records.set(key, record);
    this.raw.set(key, json);
    return true;
  }

  replaceAll(entries: Map<string, Buffer>): string[] {
    const records = new Map<string, T>();
    const raw = new Map<string, string>();
    const changed: string[] = [];
    for (const [key, value] of entries) {
      const json = value.toString('utf8');
      const record = this.raw.get(key) === json ? this.records.get(key) : this.parse(key, json);
      if (record === undefined) continue;
      records.set(key, record);
      raw.set(key, json);
      if (this.raw.get(key) !== json) changed.push(key);
    }
    for (const key of this.records.keys()) if (!records.has(key)) changed.push(key);
    this.records = records;
    this.raw = raw;
    return changed;
  }

  private parse(key: string, json: string): T | undefined {
    try {
      return JSON.parse(json) as T;
    } catch (err) {
      this.logger.error({ err, hash: this.redisKey, key }, 'store: record in Redis is not JSON; ignored');
      return undefined;
    }
  }
}

/** The default authorizer's name: one Redis string, absent for none. */
export class RedisDefaultAuthorizer implements MirrorTable {
  readonly kind = WireKind.DefaultAuthorizer;
  readonly redisType = 'string';
  value: string | undefined = undefined;

  constructor(readonly redisKey: string) {}

  applyEncoded(_key: string, value: Buffer | undefined): boolean {
    const next = value?.toString('utf8');
    if (next === this.value) return false;
    this.value = next;
    return true;
  }

  replaceAll(entries: Map<string, Buffer>): string[] {
    return this.applyEncoded('', entries.get('')) ? [''] : [];
  }
}

export class RedisAuthorizerStore extends RedisRecordTable<AuthorizerRecord> implements AuthorizerStore {
  readonly defaultAuthorizer: RedisDefaultAuthorizer;

  constructor(feed: ChangeFeed, keys: RedisKeys, logger: Logger) {
    super(feed, WireKind.Authorizer, keys.authorizers, (r) => r.name, logger);
    this.defaultAuthorizer = new RedisDefaultAuthorizer(keys.defaultAuthorizer);
  }

  override delete(name: string): boolean {
    if (this.defaultAuthorizer.value === name) this.setDefault(undefined);
    return super.delete(name);
  }

  getDefault(): string | undefined {
    return this.defaultAuthorizer.value;
  }

  setDefault(name: string | undefined): void {
    this.defaultAuthorizer.value = name;
    const key = this.defaultAuthorizer.redisKey;
    if (name === undefined) this.feed.write({ kind: WireKind.DefaultAuthorizer, key: '', value: undefined }, [['DEL', key]]);
    else this.feed.write({ kind: WireKind.DefaultAuthorizer, key: '', value: Buffer.from(name) }, [['SET', key, name]]);
  }
}

export class RedisAccessKeyStore extends RedisRecordTable<AccessKeyRecord> implements AccessKeyStore {
  constructor(feed: ChangeFeed, keys: RedisKeys, logger: Logger) {
    super(feed, WireKind.AccessKey, keys.accessKeys, (r) => r.accessKeyId, logger);
  }
}

export class RedisRuleStore extends RedisRecordTable<StoredRule> implements RuleStore {
  constructor(feed: ChangeFeed, keys: RedisKeys, logger: Logger) {
    super(feed, WireKind.Rule, keys.rules, (r) => r.name, logger);
  }
}
