#!/usr/bin/env node
// Fan-out to browser protocols beside MQTT over WebSocket (issue 15): one publisher, N subscribers
// of one kind at a time — MQTT over WebSocket (/mqtt), JSON over WebSocket (/ws), Server-Sent
// Events (/events) — QoS 0, on the compiled server (npm run build) in its own process. Per kind it
// reports deliveries per second (N x messages / time until every subscriber has every message),
// the broker's CPU per delivery, and its RSS per idle connection.
//
//   node bench/web-fanout.js [--subscribers 1000] [--messages 20] [--kinds mqtt-ws,json-ws,sse] [--quick]
//
// The subscribers run in this process (one event loop), so the rate is a lower bound shared by
// every kind alike; compare kinds with each other, not with bench/index.js's numbers.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { cpuSeconds, memory } from './lib/proc.js';
import { encodeConnect, encodeSubscribe, publishTemplate, readPackets } from './lib/mqtt-wire.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const SUBSCRIBERS = Number(flag('subscribers', quick ? 200 : 1000));
const MESSAGES = Number(flag('messages', quick ? 5 : 20));
const KINDS = String(flag('kinds', 'mqtt-ws,json-ws,sse')).split(',');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOPIC = 'bench/web/fan';

async function startBroker() {
  const child = spawn(process.execPath, [
    'bin/switchboard.js', 'start',
    '--set', 'listeners.http.host=127.0.0.1', '--set', 'listeners.http.port=0', '--set', 'listeners.mqtt=false',
    '--set', 'store.type=memory', '--set', 'log.level=info', '--set', 'log.format=json',
    '--set', `limits.maxConnections=${SUBSCRIBERS * 2 + 100}`,
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited (${code})`)));
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === 'switchboard ready') resolve(j.httpPort);
        } catch {
          // not JSON
        }
      }
    });
  });
  child.stdout.resume();
  return { child, port };
}

/** One subscriber of `kind`; `onMessage` is called once per delivered message. */
function subscriber(kind, port, onMessage) {
  return new Promise((resolve, reject) => {
    if (kind === 'sse') {
      const req = http.get({ host: '127.0.0.1', port, path: `/events?topic=${encodeURIComponent(TOPIC)}`, agent: false }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE ${res.statusCode}`));
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (text) => {
          const s = tail + text;
          let i = 0;
          let at;
          while ((at = s.indexOf('data: {"type":"message"', i)) >= 0) {
            const end = s.indexOf('\n\n', at);
            if (end < 0) break;
            onMessage();
            i = end + 2;
          }
          if (s.indexOf('event: subscribed', i) >= 0) resolve({ close: () => req.destroy() });
          tail = s.slice(Math.max(i, s.length - 64));
        });
      });
      req.on('error', reject);
      return;
    }
    if (kind === 'json-ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?subscribe=${encodeURIComponent(TOPIC)}`, { perMessageDeflate: false });
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('{"type":"message"')) onMessage();
        else if (text.startsWith('{"type":"subscribed"')) resolve({ close: () => ws.terminate() });
      });
      ws.on('error', reject);
      return;
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt'], { perMessageDeflate: false });
    const state = {
      pending: null,
      onPacket(type) {
        if (type === 9) resolve({ close: () => ws.terminate() });
      },
    };
    const sink = { onPublish: () => onMessage() };
    ws.on('open', () => {
      ws.send(encodeConnect({ clientId: `sub-${Math.random().toString(36).slice(2)}` }));
      ws.send(encodeSubscribe(1, [{ topic: TOPIC, qos: 0 }]));
    });
    ws.on('message', (data) => readPackets(state, sink, data, 0, data.length));
    ws.on('error', reject);
  });
}

async function publisher(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt'], { perMessageDeflate: false });
  await once(ws, 'open');
  ws.send(encodeConnect({ clientId: 'bench-publisher' }));
  await once(ws, 'message');
  const { bytes } = publishTemplate(TOPIC, 64, 0);
  return { send: () => ws.send(bytes), close: () => ws.terminate() };
}

async function run(kind) {
  const { child, port } = await startBroker();
  try {
    const before = memory(child.pid);
    let received = 0;
    const subs = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(SUBSCRIBERS, i + 50); j++) batch.push(subscriber(kind, port, () => received++));
      subs.push(...(await Promise.all(batch)));
    }
    await new Promise((r) => setTimeout(r, 500));
    const idle = memory(child.pid);
    const pub = await publisher(port);
    const want = SUBSCRIBERS * MESSAGES;
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    for (let m = 0; m < MESSAGES; m++) pub.send();
    const deadline = Date.now() + 60_000;
    while (received < want && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid) - cpu0;
    pub.close();
    for (const s of subs) s.close();
    return {
      kind,
      subscribers: SUBSCRIBERS,
      delivered: received,
      expected: want,
      deliveriesPerSecond: Math.round(received / seconds),
      brokerCpuMicrosPerDelivery: Number(((cpu * 1e6) / Math.max(1, received)).toFixed(2)),
      idleRssKbPerConnection: before && idle ? Number(((idle.rssKb - before.rssKb) / SUBSCRIBERS).toFixed(2)) : null,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const results = [];
for (const kind of KINDS) results.push(await run(kind));
console.table(results);
const mqttWs = results.find((r) => r.kind === 'mqtt-ws');
if (mqttWs) {
  for (const r of results) if (r !== mqttWs) console.log(`${r.kind}: ${(r.deliveriesPerSecond / mqttWs.deliveriesPerSecond).toFixed(2)}x MQTT over WebSocket`);
}
