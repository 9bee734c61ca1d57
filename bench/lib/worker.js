// A load-generator process: holds named connection pools and runs what the parent asks over IPC.
// Started by bench/index.js with `taskset -c <generator core>`; exits when the parent goes away.
import { Pool } from './client-pool.js';
import { burst, paced, pairs } from './publisher.js';
import { percentiles } from './stats.js';

const pools = new Map();

function pool(name) {
  const p = pools.get(name);
  if (!p) throw new Error(`no pool ${name}`);
  return p;
}

const commands = {
  async open({ pool: name, target, ...options }) {
    let p = pools.get(name);
    if (!p) {
      p = new Pool(target);
      pools.set(name, p);
    }
    return p.open(options);
  },
  reset({ pool: name }) {
    pool(name).resetCounters();
    return null;
  },
  stats({ pool: name, perConn }) {
    return pool(name).stats(perConn);
  },
  latencyStart({ pool: name, capacity }) {
    pool(name).startLatency(capacity);
    return null;
  },
  latencyStop({ pool: name }) {
    const p = pool(name);
    const dropped = p.latencyDropped;
    const samples = p.stopLatency();
    return { ...percentiles(samples, [0.5, 0.99, 0.999, 1]), count: samples.length, dropped };
  },
  burst({ pool: name, ...options }) {
    return burst(pool(name), options);
  },
  paced({ pool: name, ...options }) {
    return paced(pool(name), options);
  },
  abortPaced({ pool: name }) {
    pool(name).abortPaced = true;
    return null;
  },
  pairs({ pubPool, subPool, ...options }) {
    return pairs(pool(pubPool), pool(subPool), options);
  },
  close({ pool: name }) {
    const p = pools.get(name);
    if (p) {
      p.close();
      pools.delete(name);
    }
    return null;
  },
};

process.on('message', async (msg) => {
  const { id, cmd, args } = msg;
  try {
    const handler = commands[cmd];
    if (!handler) throw new Error(`unknown command ${cmd}`);
    const result = await handler(args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: String(err && err.stack ? err.stack : err) });
  }
});

process.on('disconnect', () => process.exit(0));
process.send({ ready: true, pid: process.pid });
