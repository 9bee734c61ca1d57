// Starts the brokers under test, each pinned with taskset to the broker core, on loopback only,
// on free ports, and stops them. Every broker gets the same treatment: its default settings,
// except what 10,000 connections need (connection caps lifted).
//
//   switchboard         memory store; clients get policy.json as the unauthenticated policy
//                       (or every right with --switchboard-access anonymous)
//   switchboard-sqlite  the same with the SQLite store (a fresh directory per start)
//   switchboard-auth    every CONNECT goes through a function authorizer (authorizer.js) that
//                       returns policy.json
//   switchboard-base    the baseline build (--baseline-dir), set up as `switchboard`
//   mosquitto           Debian's /usr/sbin/mosquitto with a TCP and a websockets listener
//   aedes               aedes + aedes-server-factory (aedes-server.js), TCP and WebSocket servers
//   nats                Debian's /usr/sbin/nats-server with its MQTT listener, which needs JetStream
//                       (a store directory in the broker's temp folder) and a server name; TCP
//                       only (it has no MQTT over WebSocket), so its wsPort is null
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function switchboardDirOf(kind, options) {
  return kind === 'switchboard-base' ? options.baselineDir : options.switchboardDir;
}

function switchboardArgs(kind, options, tcpPort, wsPort, dir) {
  const args = [
    ...(options.switchboardNodeArgs ?? []),
    path.join(switchboardDirOf(kind, options), 'bin', 'switchboard.js'),
    'start',
    '--http-port', String(wsPort), '--mqtt-port', String(tcpPort),
    '--http-host', '127.0.0.1', '--mqtt-host', '127.0.0.1',
    '--log-level', 'warn',
    '--set', 'limits.maxConnections=200000',
    '--set', 'limits.maxSubscriptionsPerConnection=50',
  ];
  const policy = JSON.parse(readFileSync(path.join(here, 'policy.json'), 'utf8'));
  const config = path.join(dir, 'config.json');
  if (kind === 'switchboard-auth') {
    // Every CONNECT runs the function authorizer, which returns policy.json. The result cache is
    // off (the default since issue 13; explicit here), and the distinct tokens keep every CONNECT
    // a miss if it were on. Results recorded before then ran with a 10,000-entry cache that never
    // hit: the same invocations, plus a hash per CONNECT.
    writeFileSync(config, JSON.stringify({
      auth: {
        resultCacheSize: 0,
        defaultAuthorizer: 'Bench',
        authorizers: [{ name: 'Bench', type: 'function', handler: path.join(here, 'authorizer.js'), signingDisabled: true, tokenKeyName: 'token', status: 'ACTIVE' }],
      },
    }));
  } else if (options.switchboardAccess === 'anonymous') {
    // Every right, no policy to evaluate: Switchboard's fastest and least realistic setting.
    writeFileSync(config, JSON.stringify({ auth: { anonymous: 'everyone' } }));
  } else {
    // As deployed: clients get a compiled policy (policy.json) that allows the benchmark's traffic
    // and is checked on every CONNECT, SUBSCRIBE, PUBLISH and delivery (verdicts cached per topic).
    writeFileSync(config, JSON.stringify({ auth: { unauthenticatedPolicy: policy } }));
  }
  args.push('--config', config);
  if (kind === 'switchboard-sqlite') args.push('--set', 'store.type=sqlite', '--set', `store.path=${path.join(dir, 'store')}`);
  else args.push('--set', 'store.type=memory');
  // "switchboard ready" is an info line and --log-level warn hides it (info would log every
  // connect, a cost the peers do not pay): readiness is both ports accepting.
  return { cmd: process.execPath, args, readyText: null };
}

function mosquittoArgs(tcpPort, wsPort, dir) {
  const config = path.join(dir, 'mosquitto.conf');
  writeFileSync(config, [
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    `listener ${tcpPort} 127.0.0.1`,
    'protocol mqtt',
    'max_connections -1',
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
    'max_connections -1',
    '',
  ].join('\n'));
  return { cmd: MOSQUITTO, args: ['-c', config], readyText: null };
}

async function natsArgs(tcpPort, dir) {
  const config = path.join(dir, 'nats.conf');
  const clientPort = await freePort();
  // Defaults otherwise. max_connections is already 64k; the MQTT listener admits anonymous clients
  // when no authorization block is set. QoS 1 goes through JetStream (file store in `dir`).
  writeFileSync(config, [
    'server_name: bench',
    `listen: 127.0.0.1:${clientPort}`,
    `jetstream { store_dir: "${path.join(dir, 'jetstream')}" }`,
    `mqtt { listen: 127.0.0.1:${tcpPort} }`,
    '',
  ].join('\n'));
  return { cmd: NATS_SERVER, args: ['-c', config], readyText: null };
}

/**
 * Starts `kind` pinned to `options.cores`. Resolves { kind, pid, tcpPort, wsPort, wsPath, stop,
 * logTail } once both ports accept connections (and, for Node brokers, the ready line is out).
 */
export async function startBroker(kind, options) {
  const tcpPort = await freePort();
  const wsPort = kind === 'nats' ? null : await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), `bench-${kind}-`));
  let spec;
  if (kind.startsWith('switchboard')) spec = switchboardArgs(kind, options, tcpPort, wsPort, dir);
  else if (kind === 'mosquitto') spec = mosquittoArgs(tcpPort, wsPort, dir);
  else if (kind === 'nats') spec = await natsArgs(tcpPort, dir);
  else if (kind === 'aedes') spec = { cmd: process.execPath, args: [path.join(here, 'aedes-server.js'), String(tcpPort), String(wsPort)], readyText: 'aedes ready' };
  else throw new Error(`unknown broker ${kind}`);

  // taskset execs the broker, so the pid we get is the broker's own and /proc/<pid> describes it.
  const child = spawn('taskset', ['-c', String(options.cores), spec.cmd, ...spec.args], {
    cwd: kind.startsWith('switchboard') ? switchboardDirOf(kind, options) : dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const tail = [];
  let ready = spec.readyText === null;
  const onLine = (chunk) => {
    for (const line of String(chunk).split('\n')) {
      if (!line) continue;
      if (spec.readyText && line.includes(spec.readyText)) ready = true;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.on('data', onLine);
  child.stderr.on('data', onLine);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));

  const deadline = performance.now() + 20000;
  while (performance.now() < deadline && exited === null) {
    if (ready && (await canConnect(tcpPort)) && (wsPort === null || (await canConnect(wsPort)))) break;
    await sleep(50);
  }
  const logTail = () => tail.join('\n');
  if (exited !== null || performance.now() >= deadline) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${kind} did not start (${exited ? `exit ${exited.code ?? exited.signal}` : 'timed out'}):\n${logTail()}`);
  }

  async function stop() {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const exitText = () => (exited ? `exit code ${exited.code}, signal ${exited.signal}` : 'running');
  return { kind, pid: child.pid, cores: options.cores, tcpPort, wsPort, wsPath: '/mqtt', stop, logTail, exitText, alive: () => exited === null };
}
