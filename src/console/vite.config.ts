// Builds the web console (vanilla TypeScript + DOM, MQTT.js bundled) into dist/console/, which the
// server serves itself at / (index.html) and /assets/ (src/api/console.ts): no CDN, no external
// fonts, so the console works on a machine without internet access.
//
//   vite build --config src/console/vite.config.ts
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** Files worth compressing: text. Images and fonts are either absent or already compressed. */
const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|txt)$/;

/**
 * Writes a .br and a .gz beside every compressible file over 1 KB in the output, at the highest
 * levels (done once, at build time), so the server sends them as they are (@fastify/static
 * `preCompressed`, src/api/console.ts) without compressing per request.
 */
function precompress(dir: string): Plugin {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  return {
    name: 'switchboard-precompress',
    apply: 'build',
    closeBundle() {
      for (const file of walk(dir)) {
        if (!COMPRESSIBLE.test(file) || statSync(file).size < 1024) continue;
        const data = readFileSync(file);
        writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [precompress(outDir)],
  root,
  base: '/',
  // Nothing is copied verbatim: every asset is imported from the code.
  publicDir: false,
  build: {
    outDir,
    // outDir lies outside root, where Vite will not empty it unless told to.
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: true,
    // MQTT.js's browser bundle is most of the weight: it is its own chunk, loaded by the test
    // client's first connect (mqtt/test-session.ts), so the other pages start without it.
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `vite --config src/console/vite.config.ts` for front-end work against a local server.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/mqtt': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
