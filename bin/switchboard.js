#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (part of `npm ci` via prepare) produces dist/.
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
