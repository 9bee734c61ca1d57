// The cluster's Lua scripts on a real redis-server: each does what its typed signature says,
// and they survive Redis flushing its script cache (EVALSHA falls back to EVAL).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { withClusterScripts, type ClusterRedis } from '../../src/cluster/redis-scripts.js';

let server: RedisServer;
let redis: ClusterRedis;

before(async () => {
  server = await startRedis();
  redis = withClusterScripts(new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 }));
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

test('sbHeartbeat records the Redis time, and answers -1 once the node was declared dead', async () => {
  const [seconds] = await redis.time();
  const beat = await redis.sbHeartbeat('t:nodes', 't:reaped:a', 'a');
  assert.ok(Math.abs(beat - Number(seconds) * 1000) < 5000, `beat ${beat} is on the Redis clock`);
  assert.equal(Number(await redis.zscore('t:nodes', 'a')), beat);
  await redis.set('t:reaped:a', 'b');
  assert.equal(await redis.sbHeartbeat('t:nodes', 't:reaped:a', 'a'), -1);
  assert.equal(Number(await redis.zscore('t:nodes', 'a')), beat, 'a fenced node does not beat');
});

test('sbMarkDead declares only a node still silent, and its heartbeat answers -1 from then on', async () => {
  await redis.sbHeartbeat('m:nodes', 'm:reaped:alive', 'alive');
  assert.equal(await redis.sbMarkDead('m:nodes', 'm:reaped:alive', 'alive', 60_000, 'me'), 0, 'beat within the timeout: alive');
  assert.equal(await redis.get('m:reaped:alive'), null);
  await redis.zadd('m:nodes', 0, 'gone');
  assert.equal(await redis.sbMarkDead('m:nodes', 'm:reaped:gone', 'gone', 60_000, 'me'), 1);
  assert.equal(await redis.get('m:reaped:gone'), 'me');
  assert.equal(await redis.sbHeartbeat('m:nodes', 'm:reaped:gone', 'gone'), -1, 'can never renew its lease');
});

test('sbSilent lists the nodes whose last beat is older than the timeout', async () => {
  await redis.sbHeartbeat('s:nodes', 's:reaped:fresh', 'fresh');
  await redis.zadd('s:nodes', 0, 'old');
  assert.deepEqual(await redis.sbSilent('s:nodes', 60_000), ['old']);
});

test('sbClaimOwner takes a free or own client ID and reports another holder; sbReleaseOwner only releases its own', async () => {
  assert.equal(await redis.sbClaimOwner('o:owners', 'c1', 'a'), 'a');
  assert.equal(await redis.sbClaimOwner('o:owners', 'c1', 'a'), 'a');
  assert.equal(await redis.sbClaimOwner('o:owners', 'c1', 'b'), 'a');
  assert.equal(await redis.sbReleaseOwner('o:owners', 'c1', 'b'), 0);
  assert.equal(await redis.hget('o:owners', 'c1'), 'a');
  assert.equal(await redis.sbReleaseOwner('o:owners', 'c1', 'a'), 1);
  assert.equal(await redis.hget('o:owners', 'c1'), null);
});

test('sbTakeOwner: of two nodes racing from the same owner, exactly one wins; the loser learns the winner', async () => {
  assert.equal(await redis.sbTakeOwner('k:owners', 'c1', 'a', ''), 'a', 'free: taken');
  assert.equal(await redis.sbTakeOwner('k:owners', 'c1', 'a', ''), 'a', 'already its own');
  assert.equal(await redis.sbTakeOwner('k:owners', 'c1', 'b', ''), 'a', 'b read "none" but a won meanwhile');
  const [x, y] = await Promise.all([redis.sbTakeOwner('k:owners', 'c1', 'x', 'a'), redis.sbTakeOwner('k:owners', 'c1', 'y', 'a')]);
  assert.equal([x, y].filter((o, i) => o === ['x', 'y'][i]).length, 1, `exactly one of x and y wins (${x}, ${y})`);
  assert.equal(x, y, 'both report the winner');
  assert.equal(await redis.hget('k:owners', 'c1'), x);
});

test('sbTakeFromSilent: takes the client like sbTakeOwner and records where it went in the silent owner\'s taken hash, atomically', async () => {
  await redis.hset('t:owners', 'c1', 'dead');
  assert.equal(await redis.sbTakeFromSilent('t:owners', 't:taken:dead', 'c1', 'b', 'dead'), 'b');
  assert.equal(await redis.hget('t:owners', 'c1'), 'b');
  assert.deepEqual(await redis.hgetall('t:taken:dead'), { c1: 'b' });
  assert.ok((await redis.ttl('t:taken:dead')) > 0, 'the record expires');
  // Lost the race (the cleaning node took it first): nothing recorded.
  await redis.hset('t:owners', 'c2', 'reaper');
  assert.equal(await redis.sbTakeFromSilent('t:owners', 't:taken:dead', 'c2', 'b', 'dead'), 'reaper');
  assert.equal(await redis.hget('t:taken:dead', 'c2'), null);
});

test('the scripts still run after SCRIPT FLUSH', async () => {
  await redis.script('FLUSH');
  assert.equal(await redis.sbClaimOwner('f:owners', 'c1', 'a'), 'a');
});
