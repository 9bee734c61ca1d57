// A Switchboard started inside the test process (src/server.ts), for tests that read its
// registered routes or need no child process: HTTP only on 127.0.0.1 (or `httpHost`) at a free
// port, the memory store, no logs, and the admin settings given. Stop it from after().
import { validateConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface InProcessOptions {
  admin: { username?: string; password?: string; token?: string };
  /** Default 127.0.0.1; 0.0.0.0 for callers in a network namespace. */
  httpHost?: string;
}

export function startInProcessServer(options: InProcessOptions): Promise<RunningServer> {
  return startServer(
    validateConfig({
      listeners: { http: { host: options.httpHost ?? '127.0.0.1', port: 0 }, mqtt: false },
      store: { type: 'memory' },
      log: { level: 'silent' },
      admin: options.admin,
    }),
  );
}
