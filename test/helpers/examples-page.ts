// What the browser tests of examples/browser/live.html share: a static server for examples/ (on
// another origin than Switchboard's, as a deployed page would be) and the slice of playwright's
// Page and Browser types they use.
import { readFile } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { REPO_ROOT } from './server.js';

/** Serves examples/ only, on 127.0.0.1 port 0 (another origin than Switchboard's). */
export async function serveExamples(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (req.method !== 'GET' || !path.startsWith('/examples/')) return void res.writeHead(404).end();
    readFile(join(REPO_ROOT, path), (err, data) => {
      if (err) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': extname(path) === '.html' ? 'text/html; charset=utf-8' : 'application/octet-stream' }).end(data);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((res) => server.close(() => res()));
    },
  };
}

export interface Page {
  goto(url: string, opts?: { timeout?: number }): Promise<unknown>;
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  waitForFunction<A>(fn: (arg: A) => boolean, arg: A, opts?: { timeout?: number }): Promise<unknown>;
  on(event: 'pageerror', fn: (x: { message?: string }) => void): void;
  close(): Promise<void>;
}

export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
