// The history contract (history-contract.ts) on the Redis backend, against a private redis-server
// on a loopback port; a fresh key prefix per test.
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { openRedisStore, type RedisStore } from '../../src/store/redis-store.js';
import { REDIS_SERVER_BIN, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { runHistorySuite } from './history-contract.js';

const NO_REDIS = existsSync(REDIS_SERVER_BIN) ? false : `${REDIS_SERVER_BIN} is not installed (run scripts/install-test-deps.sh)`;

let redis: RedisServer;
before(async () => {
  if (NO_REDIS === false) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

let prefixes = 0;
let prefix = '';
let store: RedisStore | null = null;

if (NO_REDIS === false) {
  runHistorySuite('redis', {
    originPerRun: true,
    open: async (caps) => {
      prefix = `history${++prefixes}:`;
      store = await openRedisStore({ url: redis.url, keyPrefix: prefix });
      return store.openHistory(caps);
    },
    reopen: async (caps) => {
      await store!.closeAsync();
      store = await openRedisStore({ url: redis.url, keyPrefix: prefix });
      return store.openHistory(caps);
    },
    cleanup: async () => {
      await store?.closeAsync();
      store = null;
    },
  });
}
