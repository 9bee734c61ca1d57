// The `switchboard` command line.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.js';
import { startServer } from '../server.js';
import { authorizersCommand, testInvokeCommand } from './authorizers.js';
import { policyCommand } from './policy-check.js';
import { keysCommand } from './keys.js';
import { rulesCommand } from './rules.js';
import { connectionsCommand, publishCommand, retainedCommand } from './data-commands.js';
import { dirname, resolve } from 'node:path';
import { followPrimary, isWorker, superviseWorkers, WORKER_READY, WORKER_RELOADED, workerCount } from './workers.js';

export const HELP = `Usage: switchboard <command> [options]

Commands:
  start                   start a Switchboard node (MQTT over WebSocket on /mqtt and over TCP)
  config                  print the effective configuration (after file, environment and flags) and exit
  authorizers ...         create|list|describe|update|delete|set-default authorizers on a running node
  test-invoke-authorizer  run an authorizer with given credentials, print AWS TestInvokeAuthorizer's output
  policy check            decide an action on a resource against policy documents
  publish                 publish a message through the HTTP API (POST /topics/...)
  connections ...         list|get|disconnect connected clients
  retained ...            list|get retained messages
  keys ...                create|list|update|delete access keys for SigV4 (AWS SDK) callers
  rules ...               create|list|get|update|enable|disable|delete|test rules (AWS IoT SQL)
  help               show this help
  version            print the version

Options for start and config:
  -c, --config FILE        configuration file (JSON or YAML); also SWITCHBOARD_CONFIG
      --http-host HOST     HTTP/WebSocket listener address (default 0.0.0.0)
      --http-port PORT     HTTP/WebSocket listener port (default 8080; 0 = any free port)
      --mqtt-host HOST     MQTT/TCP listener address (default 0.0.0.0)
      --mqtt-port PORT     MQTT/TCP listener port (default 1883; 0 = any free port)
      --no-http            do not open the HTTP/WebSocket listener
      --no-mqtt            do not open the MQTT/TCP listener
      --anonymous MODE     loopback (default) | everyone | nobody
      --profile NAME       default | aws (AWS IoT Core's limits and behaviours; see docs/compatibility.md)
      --log-level LEVEL    fatal | error | warn | info | debug | trace | silent
      --log-format FORMAT  auto (default: pretty on a terminal, JSON lines otherwise) | pretty | json
      --redis URL          join the cluster sharing this Redis (cluster.redis.url); see docs/cluster.md
      --workers N          run N member processes sharing the ports (needs --redis); auto = one per core
      --set PATH=VALUE     set any configuration field, e.g. --set limits.maxPayloadBytes=65536
                           (repeatable)

Every field can also be set by environment variable: limits.maxPayloadBytes is
SWITCHBOARD_LIMITS__MAX_PAYLOAD_BYTES; see docs/configuration.md.
`;

async function reportErrors(command: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`switchboard ${command}: ${e.code && !String(e.message).startsWith(e.code) ? `${e.code}: ` : ''}${e.message}\n`);
    process.exitCode = 1;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<void> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : argv.includes('--version') ? 'version' : 'help';
  const rest = argv[0] === command ? argv.slice(1) : argv;
  switch (command) {
    case 'help':
      process.stdout.write(HELP);
      return;
    case 'version':
      process.stdout.write(version() + '\n');
      return;
    case 'start':
    case 'config':
      return runWithConfig(command, rest);
    case 'authorizers':
      return reportErrors(command, () => authorizersCommand(rest));
    case 'test-invoke-authorizer':
      return reportErrors(command, () => testInvokeCommand(rest));
    case 'policy':
      return reportErrors(command, async () => policyCommand(rest));
    case 'publish':
      return reportErrors(command, () => publishCommand(rest));
    case 'connections':
      return reportErrors(command, () => connectionsCommand(rest));
    case 'retained':
      return reportErrors(command, () => retainedCommand(rest));
    case 'keys':
      return reportErrors(command, () => keysCommand(rest));
    case 'rules':
      return reportErrors(command, () => rulesCommand(rest));
    default:
      process.stderr.write(`switchboard: unknown command '${command}'\n\n${HELP}`);
      process.exitCode = 2;
  }
}

async function runWithConfig(command: 'start' | 'config', args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        'http-host': { type: 'string' },
        'http-port': { type: 'string' },
        'mqtt-host': { type: 'string' },
        'mqtt-port': { type: 'string' },
        'no-http': { type: 'boolean' },
        'no-mqtt': { type: 'boolean' },
        anonymous: { type: 'string' },
        profile: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        redis: { type: 'string' },
        workers: { type: 'string' },
        set: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`switchboard ${command}: ${(err as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const overrides: Record<string, unknown> = {};
  if (v['http-host'] !== undefined) overrides['listeners.http.host'] = v['http-host'];
  if (v['http-port'] !== undefined) overrides['listeners.http.port'] = v['http-port'];
  if (v['mqtt-host'] !== undefined) overrides['listeners.mqtt.host'] = v['mqtt-host'];
  if (v['mqtt-port'] !== undefined) overrides['listeners.mqtt.port'] = v['mqtt-port'];
  if (v['no-http']) overrides['listeners.http'] = false;
  if (v['no-mqtt']) overrides['listeners.mqtt'] = false;
  if (v.anonymous !== undefined) overrides['auth.anonymous'] = v.anonymous;
  if (v.profile !== undefined) overrides.profile = v.profile;
  if (v['log-level'] !== undefined) overrides['log.level'] = v['log-level'];
  if (v['log-format'] !== undefined) overrides['log.format'] = v['log-format'];
  if (v.redis !== undefined) overrides['cluster.redis.url'] = v.redis;
  if (v.workers !== undefined) overrides.workers = v.workers;
  for (const item of v.set ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      process.stderr.write(`switchboard ${command}: --set expects PATH=VALUE, got '${item}'\n`);
      process.exitCode = 2;
      return;
    }
    overrides[item.slice(0, eq)] = item.slice(eq + 1);
  }
  let config;
  try {
    config = loadConfig({ file: v.config, overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  if (command === 'config') {
    process.stdout.write(JSON.stringify(config, null, 2) + '\n');
    return;
  }
  const workers = workerCount(config.workers);
  if (workers > 1 && !isWorker()) {
    if (!config.cluster) {
      process.stderr.write('switchboard: --workers above 1 needs a cluster: the members share state through Redis (--redis URL, see docs/cluster.md)\n');
      process.exitCode = 1;
      return;
    }
    process.exitCode = await superviseWorkers(workers, (line) => process.stderr.write(line + '\n'));
    return;
  }
  // A member of --workers takes its stop from the primary, not from signals (see workers.ts).
  const primary = isWorker() ? followPrimary() : null;
  let server;
  try {
    server = await startServer(config, {
      baseDir: v.config ? dirname(resolve(v.config)) : process.cwd(),
      onFatal: () => process.exit(1),
      // SIGHUP and POST /api/config/reload read the same file, environment and flags again.
      loadConfig: () => loadConfig({ file: v.config, overrides }),
      onApiReload: primary === null ? undefined : () => process.send?.(WORKER_RELOADED),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`switchboard: cannot start: ${e.code === 'EADDRINUSE' ? `address in use (${e.message})` : e.message}\n`);
    process.exitCode = 1;
    primary?.close();
    return;
  }
  // The conventional "reload your configuration" (the reloader logs the outcome).
  const running = server;
  process.on('SIGHUP', () => void running.reloadConfig());
  if (primary !== null) {
    if (process.connected) process.send?.(WORKER_READY);
    const s = server;
    void primary.stop.then((reason) => {
      s.logger.info({ reason }, 'shutting down');
      s.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    return;
  }
  // One process: the first signal stops gracefully, a second exits at once.
  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (signals > 1) {
      server.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    server.logger.info({ signal }, 'shutting down');
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
