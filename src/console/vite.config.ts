// Builds the web console (vanilla TypeScript + DOM, MQTT.js bundled) into dist/console/, which the
// server serves itself at / (index.html) and /assets/ (src/api/console.ts): no CDN, no external
// fonts, so the console works on a machine without internet access.
//
//   vite build --config src/console/vite.config.ts
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export default defineConfig({
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
    // MQTT.js's browser bundle is most of the weight; one chunk keeps the first load one request.
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
