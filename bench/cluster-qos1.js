// Cross-node QoS 1 throughput (issue 19): two members sharing one Redis, a subscriber (QoS 1) on
// the first, publishers on the second keeping `window` unacknowledged QoS 1 publishes each. The
// rate counts PUBACKs, so it includes what the acknowledgement waits for: since issue 19 a PUBACK
// from the second member waits for the first member's commit of the copy it was sent.
//   node bench/cluster-qos1.js [--dir SWITCHBOARD_DIR] [--seconds 5] [--window 100] [--publishers 2]
// Prints one JSON line. Loopback only; starts its own redis-server and stops everything it started.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { freePort } from './brokers/launch.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const dir = path.resolve(arg('dir', path.join(here, '..')));
const seconds = Number(arg('seconds', '5'));
const window = Number(arg('window', '100'));
const publishers = Number(arg('publishers', '2'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((res) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 });
      c.on('connect', () => { c.end(true); res(true); });
      c.on('error', () => { c.end(true); res(false); });
      c.on('close', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} never answered`);
}

async function main() {
  const redisPort = await freePort();
  const redisDir = mkdtempSync(path.join(tmpdir(), 'sb-bench-redis-'));
  children.push(spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  await sleep(300);
  const ports = [];
  for (let i = 0; i < 2; i++) {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    children.push(
      spawn(process.execPath, [path.join(dir, 'bin', 'switchboard.js'), 'start', '--redis', `redis://127.0.0.1:${redisPort}`, '--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--log-level', 'warn', '--set', 'limits.maxQueuedMessagesPerSession=1000000'], { stdio: 'ignore' }),
    );
    ports.push(mqttPort);
    await waitPort(mqttPort);
  }
  const sub = mqtt.connect(`mqtt://127.0.0.1:${ports[0]}`, { clientId: 'bench-sub', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600, receiveMaximum: 65535 } });
  let received = 0;
  sub.on('message', () => received++);
  await new Promise((res) => sub.on('connect', res));
  await sub.subscribeAsync('bench/q1', { qos: 1 });
  await sleep(500);
  let acked = 0;
  let stop = false;
  const pubs = [];
  for (let p = 0; p < publishers; p++) {
    const c = mqtt.connect(`mqtt://127.0.0.1:${ports[1]}`, { protocolVersion: 5 });
    await new Promise((res) => c.on('connect', res));
    pubs.push(c);
  }
  const payload = Buffer.alloc(64, 1);
  const started = performance.now();
  await Promise.all(
    pubs.map(
      (c) =>
        new Promise((resolve) => {
          let inflight = 0;
          const pump = () => {
            while (!stop && inflight < window) {
              inflight++;
              c.publish('bench/q1', payload, { qos: 1 }, () => {
                inflight--;
                acked++;
                if (stop && inflight === 0) resolve();
                else pump();
              });
            }
          };
          pump();
        }),
    ).concat([sleep(seconds * 1000).then(() => { stop = true; })]),
  );
  const elapsed = (performance.now() - started) / 1000;
  await sleep(500);
  console.log(JSON.stringify({ dir, seconds, window, publishers, acked, ackedPerSecond: Math.round(acked / elapsed), received }));
  for (const c of [sub, ...pubs]) c.end(true);
  rmSync(redisDir, { recursive: true, force: true });
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL');
  });
