// Connecting to Redis for the store, and the checks made before anything is written: the URL is
// usable, Redis answers within the open timeout (else StoreOpenError 'unreachable', naming the URL
// with its password masked, instead of hanging or crash-looping), the data under the prefix is not
// from a newer layout, and every node uses the same access-key sealing key.
//
// Two connections: commands, and the subscriber that receives change notices. Both reconnect with
// capped exponential backoff forever. Neither queues commands while disconnected
// (enableOfflineQueue false) nor replays unanswered ones (the write batch owns retries: it knows
// which batches are idempotent and in which order they must go), and an unanswered command fails
// as soon as its connection closes (maxRetriesPerRequest 0).
import { createHmac, randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { errorDetail, StoreOpenError } from './errors.js';
import { REDIS_FORMAT_VERSION, type RedisKeys } from './redis-keys.js';
import { createRedisClient, describeTarget, parseHostPort, type RedisTarget } from './redis-target.js';

const SEALING_KEY_BYTES = 32;
/** Also the longest a read or EXEC may wait for bytes before the connection is deemed dead. */
const SOCKET_TIMEOUT_MS = 15_000;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 2_000;

/** The URL as it may be shown: any password replaced by '***'. Throws StoreOpenError if unusable. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreOpenError('unreachable', '(store.url)', 'store.url is not a URL; expected redis://[user:password@]host[:port][/db] or rediss://...');
  }
  if (parsed.password !== '') parsed.password = '***';
  const shown = parsed.toString();
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StoreOpenError('unreachable', shown, 'store.url must start with redis:// or rediss:// (TLS)');
  }
  if (parsed.hostname === '') throw new StoreOpenError('unreachable', shown, 'store.url names no host');
  return shown;
}

/** The target as it may be shown (see redactUrl); throws StoreOpenError if unusable. */
export function redactTarget(target: RedisTarget): string {
  if (target.sentinel === undefined) {
    if (target.url === undefined) throw new StoreOpenError('unreachable', '(store.url)', 'store.url or store.sentinel is required for a redis store');
    return redactUrl(target.url);
  }
  const shown = describeTarget(target);
  if (target.url !== undefined) throw new StoreOpenError('unreachable', shown, 'give store.url or store.sentinel, not both');
  if (target.sentinel.sentinels.length === 0) throw new StoreOpenError('unreachable', shown, 'store.sentinel.sentinels lists no Sentinel');
  for (const address of target.sentinel.sentinels) {
    if (parseHostPort(address) === null) throw new StoreOpenError('unreachable', shown, `sentinel address ${JSON.stringify(address)} is not host:port`);
  }
  return shown;
}

export function createClient(target: RedisTarget, name: string, connectTimeoutMs: number): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    connectTimeout: connectTimeoutMs,
    socketTimeout: SOCKET_TIMEOUT_MS,
    connectionName: name,
    retryStrategy: (times) => Math.min(RETRY_BASE_MS * 2 ** Math.min(times - 1, 5), RETRY_MAX_MS) + Math.floor(Math.random() * 100),
  };
  return createRedisClient(target, options);
}

/** Connects every client; rejects with StoreOpenError 'unreachable' if one is not ready in time. */
export async function connectAll(clients: Redis[], url: string, timeoutMs: number): Promise<void> {
  let lastError: unknown;
  const onError = (err: unknown) => {
    lastError = err;
  };
  const waits = clients.map(
    (client) =>
      new Promise<void>((resolve) => {
        client.on('error', onError);
        if (client.status === 'ready') return resolve();
        client.once('ready', () => resolve());
        client.connect().catch(onError);
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([Promise.all(waits), timeout]);
    if (outcome === 'timeout') {
      const detail = lastError === undefined ? 'no answer' : errorDetail(lastError);
      throw new StoreOpenError('unreachable', url, `not ready within ${timeoutMs} ms: ${detail}`, lastError);
    }
  } finally {
    clearTimeout(timer);
    for (const client of clients) client.off('error', onError);
  }
}

/** Records the layout version under the prefix, or refuses data written by a newer Switchboard. */
export async function checkFormat(client: Redis, keys: RedisKeys, url: string): Promise<void> {
  const results = await client.multi().set(keys.format, String(REDIS_FORMAT_VERSION), 'NX').get(keys.format).exec();
  const failed = results?.find((r) => r[0] !== null);
  if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('the format check was aborted');
  const stored = results[1]![1] as string | null;
  const version = Number(stored);
  if (!Number.isInteger(version) || version < 1) {
    throw new StoreOpenError('corrupt', url, `${keys.format} holds ${JSON.stringify(stored)}, not a Switchboard layout version`);
  }
  if (version > REDIS_FORMAT_VERSION) {
    throw new StoreOpenError('newer-schema', url, `the data under prefix ${keys.prefix} has layout version ${version}; this version knows up to ${REDIS_FORMAT_VERSION}`);
  }
}

/**
 * The access-key sealing key. Configured (base64 of 32 bytes): used as given. Otherwise one is
 * created in Redis (SET NX: the first node wins) and read by every node. Either way a fingerprint
 * (an HMAC under the key, not the key) is recorded the first time, and a node whose key does not
 * match it is refused: it could neither open the secrets the others sealed nor seal ones they open.
 */
export async function resolveSealingKey(client: Redis, keys: RedisKeys, url: string, configured: string | Buffer | undefined): Promise<Buffer> {
  let key: Buffer;
  if (configured !== undefined) {
    const text = typeof configured === 'string' ? configured.trim() : undefined;
    key = text !== undefined ? Buffer.from(text, 'base64') : (configured as Buffer);
    if (key.length !== SEALING_KEY_BYTES || (text !== undefined && !/^[A-Za-z0-9+/]{43}=?$/.test(text))) {
      throw new StoreOpenError('sealing-key', url, `the configured key must be base64 of ${SEALING_KEY_BYTES} bytes (e.g. from \`openssl rand -base64 32\`)`);
    }
  } else {
    const results = await exec(client.multi().set(keys.sealingKey, randomBytes(SEALING_KEY_BYTES).toString('base64'), 'NX').get(keys.sealingKey));
    const stored = String(results[1]);
    key = Buffer.from(stored, 'base64');
    if (key.length !== SEALING_KEY_BYTES) {
      throw new StoreOpenError('sealing-key', url, `${keys.sealingKey} in Redis does not hold base64 of ${SEALING_KEY_BYTES} bytes`);
    }
  }
  const id = sealingKeyId(key);
  const results = await exec(client.multi().set(keys.sealingKeyId, id, 'NX').get(keys.sealingKeyId));
  if (results[1] !== id) {
    throw new StoreOpenError(
      'sealing-key',
      url,
      configured !== undefined
        ? `the configured key is not the one already used with prefix ${keys.prefix} (its fingerprint in ${keys.sealingKeyId} differs)`
        : `${keys.sealingKey} does not match the fingerprint in ${keys.sealingKeyId} (was it replaced?)`,
    );
  }
  return key;
}

/** The fingerprint recorded in Redis: an HMAC under the key (it reveals nothing of the key). */
export function sealingKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('switchboard access-key sealing key id v1').digest('hex').slice(0, 32);
}

async function exec(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const results = await multi.exec();
  if (results === null) throw new Error('the transaction was aborted');
  return results.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
}
