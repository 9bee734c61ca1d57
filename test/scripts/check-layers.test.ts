// The import-direction check (scripts/check-layers.mjs) run on small trees written here: one that
// keeps the layer order must pass, one that breaks it in every way the checker knows must fail
// naming each import, so the check cannot pass silently. Also: the repository itself passes, and
// docs/architecture.md draws the same layer order as the script.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALLOWED, LAYERS, checkLayers, findImports } from '../../scripts/check-layers.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repo, 'scripts/check-layers.mjs');

function writeTree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'check-layers-'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

// Imports that only look like imports: in comments, strings, templates and regular expressions.
const DECOYS = [
  "// import { x } from '../api/server.js';",
  "/* export * from '../cli/main.js'; */",
  "export const s = \"import y from '../api/a.js'\";",
  'export const t = `${1} import z from \'../api/b.js\' ${`import(\'../cli/c.js\')`}`;',
  "export const r = /import w from '..\\/api\\/d.js'/;",
  "export const half = 4 / 2; export const q = '/'; // import v from '../api/e.js'",
].join('\n');

const CLEAN: Record<string, string> = {
  'src/logger.ts': "export const log = 1;\n",
  'src/shared/clock.ts': "import { log } from '../logger.js';\nexport const now = log;\n",
  'src/shared/decoys.ts': DECOYS + '\n',
  'src/protocol/codec.ts': "import mqttPacket from 'mqtt-packet';\nimport { now } from '../shared/clock.js';\nexport { mqttPacket, now };\n",
  'src/protocol/topic.ts': "export const topic = 1;\n",
  'src/transport/tcp.ts': "import { topic } from '../protocol/topic.js';\nimport { createServer } from 'node:net';\nexport { topic, createServer };\n",
  'src/broker/router.ts': "import { topic } from '../protocol/topic.js';\nimport type { now } from '../shared/clock.js';\nexport const route = topic;\n",
  'src/mqtt/client.ts': "import { route } from '../broker/router.js';\nimport { mqttPacket } from '../protocol/codec.js';\nexport { route, mqttPacket };\n",
  'src/rules/engine.ts': "export async function load() { return import('../broker/router.js'); }\n",
  'src/api/http.ts': "export * from '../mqtt/client.js';\nexport { load } from '../rules/engine.js';\n",
  'src/server.ts': "import { route } from './broker/router.js';\nimport './api/http.js';\nexport { route };\n",
  'src/console/main.ts': "import { a } from './api.js';\nexport { a };\n",
  'src/console/api.ts': "export const a = 1;\n",
};

describe('check-layers on a tree that keeps the order', () => {
  let root: string;
  before(() => {
    root = writeTree(CLEAN);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('passes, counting every real import and none of the decoys', async () => {
    const result = checkLayers({ root, allowed: [] });
    assert.deepEqual(result.violations, []);
    assert.equal(result.files, Object.keys(CLEAN).length);
    // Every non-builtin import in CLEAN: clock 1, codec 2, tcp 1, router 2, client 2, engine 1, http 2, server 2, console 1.
    assert.equal(result.imports, 14);
    const cli = await run(['--root', root, '--no-allow-list']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /layer order kept/);
  });

  test('finds no import in comments, strings, templates or regular expressions', () => {
    assert.deepEqual(findImports(DECOYS), []);
  });

  test('tells type-only imports from the others', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B, type C } from './b.js';",
      "import { type D, e } from './d.js';",
      "export type { F } from './f.js';",
      "import g, { type H } from './g.js';",
    ].join('\n');
    assert.deepEqual(
      findImports(text).map((i) => [i.specifier, i.typeOnly]),
      [['./a.js', true], ['./b.js', true], ['./d.js', false], ['./f.js', true], ['./g.js', false]],
    );
  });
});

describe('check-layers on a tree that breaks the order', () => {
  let root: string;
  const BROKEN: Record<string, string> = {
    ...CLEAN,
    // line 2: a lower layer imports a higher one (type-only imports count too).
    'src/shared/message.ts': "export type QoS = 0;\nimport type { route } from '../broker/router.js';\n",
    // line 1: a peer at layer 7 imports another.
    'src/rules/actions.ts': "import { route } from '../mqtt/client.js';\nexport { route };\n",
    // lines 1 and 2: the core imports the MQTT codec and mqtt-packet.
    'src/broker/session.ts': "import { mqttPacket } from '../protocol/codec.js';\nimport generate from 'mqtt-packet';\nexport { mqttPacket, generate };\n",
    // line 3: a dynamic import of a higher layer, after a multi-line import list.
    'src/store/open.ts': "import {\n  now,\n} from '../shared/clock.js';\nexport const open = () => import('../cluster/redis.js');\nexport { now };\n",
    'src/cluster/redis.ts': "export const r = 1;\n",
    // line 1: a re-export from a higher layer.
    'src/auth/index.ts': "export { route } from '../broker/router.js';\n",
    // line 1: the browser app reaches into the server.
    'src/console/pages.ts': "import { now } from '../shared/clock.js';\nexport { now };\n",
    // line 1: a server module imports the browser app.
    'src/api/console.ts': "import { a } from '../console/api.js';\nexport { a };\n",
    // A folder nobody placed.
    'src/gadgets/thing.ts': "export const thing = 1;\n",
  };
  before(() => {
    root = writeTree(BROKEN);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('fails and names every offending import with its line', async () => {
    const cli = await run(['--root', root, '--no-allow-list']);
    assert.equal(cli.code, 1);
    const lines = cli.stderr.trim().split('\n');
    const expected: Array<[string, RegExp]> = [
      ['src/shared/message.ts:2', /1 src\/shared\/ -> 6 src\/broker\/: imports a higher layer \[type-only import\]/],
      ['src/rules/actions.ts:1', /7 src\/rules\/ -> 7 src\/mqtt\/: peers at layer 7/],
      ['src/broker/session.ts:1', /-> src\/protocol\/codec\.ts: forbidden/],
      ['src/broker/session.ts:2', /-> mqtt-packet: forbidden/],
      ['src/store/open.ts:4', /4 src\/store\/ -> 7 src\/cluster\/: imports a higher layer/],
      ['src/auth/index.ts:1', /5 src\/auth\/ -> 6 src\/broker\/: imports a higher layer/],
      ['src/console/pages.ts:1', /island/],
      ['src/api/console.ts:1', /island/],
      ['src/gadgets/thing.ts:1', /in no layer/],
    ];
    for (const [where, problem] of expected) {
      const line = lines.find((l) => l.startsWith(where + ' '));
      assert.ok(line !== undefined, `no report for ${where} in:\n${cli.stderr}`);
      assert.match(line, problem);
    }
    assert.equal(lines.length, expected.length + 1, cli.stderr);
    assert.match(lines.at(-1)!, /9 import\(s\) against the layer order/);
  });

  test('an allow-list entry excuses exactly its import; one that excuses nothing is stale', () => {
    const allowed = [
      { from: 'src/shared/message.ts', to: 'src/broker/router.ts', reason: 'test' },
      { from: 'src/shared/message.ts', to: 'src/api/http.ts', reason: 'test: nothing imports this' },
    ];
    const result = checkLayers({ root, allowed });
    assert.ok(!result.violations.some((v) => v.file === 'src/shared/message.ts'));
    assert.equal(result.violations.length, 8);
    assert.deepEqual(result.stale, [allowed[1]]);
  });
});

describe('check-layers on this repository', () => {
  test('passes with its allow-list, and every entry gives a reason', async () => {
    const cli = await run([]);
    assert.equal(cli.code, 0, cli.stderr);
    for (const entry of ALLOWED) assert.match(entry.reason, /^issue \d+: \S.{20,}$/, `${entry.from} -> ${entry.to}`);
  });

  test('docs/architecture.md draws the same layer order', () => {
    const doc = readFileSync(path.join(repo, 'docs/architecture.md'), 'utf8');
    const block = /<!-- layers -->\n```\n([\s\S]*?)```/.exec(doc);
    assert.ok(block !== null, 'docs/architecture.md has no ```-block after <!-- layers -->');
    const drawn = new Map<number, string>();
    for (const line of block[1]!.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m !== null) drawn.set(Number(m[1]), m[2]!);
    }
    assert.deepEqual([...drawn.keys()].sort((a, b) => a - b), LAYERS.map((l) => l.level));
    for (const layer of LAYERS) {
      const modules = (drawn.get(layer.level)!.match(/[\w-]+(?:\/|\.ts)/g) ?? []).map((m) => 'src/' + m);
      assert.deepEqual(modules.sort(), [...layer.modules].sort(), `layer ${layer.level}`);
    }
  });
});
