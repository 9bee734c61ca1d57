// A node that stops gracefully (SIGTERM) while it holds offline persistent sessions and other
// nodes stream QoS 1 to them: every message acknowledged to a publisher reaches those sessions
// once they reconnect elsewhere (issue 19: a PUBACK means delivery to every matching subscription
// that exists at that moment). A publisher connected to the stopping node too: what it got a
// PUBACK for is delivered; what it did not is its to send again.
//
// Seeded: SB_FAULT_SEED (default 1) picks when the stop comes; SB_STOP_RUNS (default 2) how many
// times the scenario runs in this file. Real processes on loopback, every wait bounded.
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { startServer, stopAllServers, type TestServer } from '../../helpers/server.js';
import { closeAllClients, connectClient, sleep, uid } from '../../helpers/clients.js';
import { prng } from '../../helpers/prng.js';
import { Checker, collect, offlineSubscriber, report, Stream } from '../../helpers/cluster-checker.js';

const SEED = Number(process.env.SB_FAULT_SEED ?? 1);
const RUNS = Number(process.env.SB_STOP_RUNS ?? 2);
const random = prng(SEED);
const between = (min: number, max: number): number => Math.floor(min + random() * (max - min));

let redis: RedisServer;
let prefixSeq = 0;

async function startCluster(n: number): Promise<TestServer[]> {
  const prefix = `gs${++prefixSeq}-${process.pid}:`;
  const nodes: TestServer[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await startServer({
        args: ['--redis', redis.url, '--set', `cluster.redis.keyPrefix=${prefix}`, '--set', 'cluster.nodeTimeoutSeconds=2'],
        logLevel: 'info',
        limits: { maxQueuedMessagesPerSession: 1_000_000 },
      }),
    );
  }
  return nodes;
}

before(async () => {
  redis = await startRedis({ appendonly: true });
});

after(async () => {
  await closeAllClients();
  await stopAllServers();
  await redis?.stop();
});

describe(`graceful stop (SB_FAULT_SEED=${SEED})`, () => {
  for (let run = 0; run < RUNS; run++) {
    test(`run ${run}: SIGTERM of the node holding offline persistent sessions while the others stream QoS 1: nothing acknowledged is lost`, async () => {
      const nodes = await startCluster(3);
      const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
      try {
        const checker = new Checker();
        const topic = uid('stop');
        const ids = [uid('keeper0'), uid('keeper1')];
        for (const id of ids) await offlineSubscriber(a, id, `${topic}/#`);
        await sleep(300);
        const streams = [
          new Stream((await connectClient(a)).client, `${topic}/a`, 'a', checker),
          new Stream((await connectClient(b)).client, `${topic}/b`, 'b', checker),
          new Stream((await connectClient(c)).client, `${topic}/c`, 'c', checker),
        ];
        for (const s of streams) s.start();
        await sleep(between(300, 1200));
        const stopped = a.stop();
        await Promise.any([b, c].map((n) => n.waitForLog((l) => l.msg === 'cleaned up after a dead node', 15_000)));
        await stopped;
        await sleep(between(200, 1000));
        for (const s of streams) await s.drain(20_000);
        await collect(b, ids, checker, 20_000);
        report(`graceful-stop run=${run}`, SEED, checker, ids, streams);
      } finally {
        await closeAllClients();
        await Promise.all(nodes.map((n) => n.stop()));
      }
    });
  }
});
