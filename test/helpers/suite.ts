// Per-file wiring for integration tests: one shared server started in `before()`, every
// client closed after each test, every server stopped after the file.
import { after, afterEach, before } from 'node:test';
import { closeAllClients } from './clients.js';
import { destroyAllRaw } from './raw-client.js';
import { startServer, stopAllServers, type StartOptions, type TestServer } from './server.js';

let cleanupInstalled = false;

/** Registers afterEach (close clients) and after (stop servers) hooks once per file. */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  afterEach(async () => {
    destroyAllRaw();
    await closeAllClients();
  });
  after(stopAllServers);
}

/** Starts one server for the enclosing file/suite in `before()`; returns an accessor. */
export function useServer(options?: StartOptions): () => TestServer {
  installCleanup();
  let server: TestServer | undefined;
  before(async () => {
    server = await startServer(options);
  });
  return () => {
    if (!server) throw new Error('server not started (did before() fail?)');
    return server;
  };
}

/**
 * Starts a server for one test (e.g. with special limits). Call `installCleanup()` at the top of
 * the file: the file's after() hook stops it if the test does not.
 */
export async function freshServer(options?: StartOptions): Promise<TestServer> {
  if (!cleanupInstalled) throw new Error('call installCleanup() at the top of the test file');
  return startServer(options);
}
