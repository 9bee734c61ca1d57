// The optional browser helper (src/client/switchboard.ts, docs/websocket-json.md "The browser
// helper") at a stable public URL, so a page can `import { connect } from '/client/switchboard.js'`
// from the server it talks to. Read and compressed once at start-up; the path is fixed here, never
// taken from the request.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { HttpApp } from './http-server.js';
import { publicRoute } from './route-access.js';

export const CLIENT_SCRIPT_URL = '/client/switchboard.js';
export const CLIENT_TYPES_URL = '/client/switchboard.d.ts';

/**
 * dist/client/, written by `npm run build` (tsc; the .d.ts by src/client/tsconfig.json): beside
 * this module when it runs compiled, under dist/ when it runs from src/ (tests, tsx).
 */
const CLIENT_DIR = [new URL('../client/', import.meta.url), new URL('../../dist/client/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(dir + 'switchboard.js')) ?? '';

interface Asset {
  type: string;
  plain: Buffer;
  gzip: Buffer;
}

function load(file: string, type: string): Asset | null {
  if (CLIENT_DIR === '' || !existsSync(CLIENT_DIR + file)) return null;
  // The source map is not served: drop the comment that would make browsers ask for it.
  const text = readFileSync(CLIENT_DIR + file, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  const plain = Buffer.from(text);
  return { type, plain, gzip: gzipSync(plain, { level: 9 }) };
}

export function registerClientScript(app: HttpApp): void {
  const assets: [string, Asset | null][] = [
    [CLIENT_SCRIPT_URL, load('switchboard.js', 'text/javascript; charset=utf-8')],
    [CLIENT_TYPES_URL, load('switchboard.d.ts', 'application/typescript; charset=utf-8')],
  ];
  for (const [url, asset] of assets) {
    if (asset === null) continue;
    app.get(url, publicRoute, async (request, reply) => {
      const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
      reply
        .type(asset.type)
        .header('cache-control', 'public, max-age=300')
        .header('vary', 'accept-encoding')
        // A page on another origin may import it as a module script (which needs CORS).
        .header('access-control-allow-origin', '*');
      if (gzip) reply.header('content-encoding', 'gzip');
      return reply.send(gzip ? asset.gzip : asset.plain);
    });
  }
}
