// A Switchboard started inside the test process (src/server.ts), for tests that read its
// registered routes, need no child process, or move its time with a ManualClock: HTTP on
// 127.0.0.1 (or `httpHost`) at a free port, MQTT/TCP too when asked, the memory store, no logs.
// Clients still reach it over real sockets. Stop it from after().
import { validateConfig } from '../../src/config/load.js';
import type { Limits } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Clock } from '../../src/shared/clock.js';
import type { MqttEndpoints } from './clients.js';
import type { AuthInput } from './server.js';

export interface InProcessOptions {
  admin?: { username?: string; password?: string; token?: string };
  /** Default 127.0.0.1; 0.0.0.0 for callers in a network namespace. */
  httpHost?: string;
  /** Also listen for MQTT/TCP on 127.0.0.1 at a free port. */
  mqtt?: boolean;
  /** The config file's `auth` section. */
  auth?: AuthInput;
  limits?: Partial<Limits>;
  /** The config file's `history` rules (docs/history.md). */
  history?: { filter: string; maxMessages: number; maxAgeSeconds: number }[];
  /**
   * The server's clock: a ManualClock makes authorizer refresh and disconnect deadlines, slow
   * consumers, the sign-in window and event times move only when the test advances it.
   */
  clock?: Clock;
}

export function startInProcessServer(options: InProcessOptions = {}): Promise<RunningServer> {
  return startServer(
    validateConfig({
      listeners: {
        http: { host: options.httpHost ?? '127.0.0.1', port: 0 },
        mqtt: options.mqtt ? { host: '127.0.0.1', port: 0 } : false,
      },
      store: { type: 'memory' },
      log: { level: 'silent' },
      ...(options.admin !== undefined ? { admin: options.admin } : {}),
      ...(options.auth !== undefined ? { auth: options.auth } : {}),
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.history !== undefined ? { history: options.history } : {}),
    }),
    options.clock !== undefined ? { clock: options.clock } : {},
  );
}

/** The URLs MQTT clients of test/helpers/clients.ts and auth.ts connect to. */
export function endpointsOf(server: RunningServer): MqttEndpoints & { httpUrl: string } {
  if (server.httpPort === undefined) throw new Error('the in-process server has no HTTP listener');
  const mqttPort = server.mqttPort;
  return {
    wsUrl: `ws://127.0.0.1:${server.httpPort}/mqtt`,
    get mqttUrl(): string {
      if (mqttPort === undefined) throw new Error('the in-process server was started without `mqtt: true`');
      return `mqtt://127.0.0.1:${mqttPort}`;
    },
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
  };
}
