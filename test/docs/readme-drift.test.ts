// The README and docs/configuration.md show only what exists: every `switchboard <command>` (and
// its sub-command and flags) is in the CLI, every `npm run <script>` is in package.json, every
// config key is in the schema (src/config/schema.ts), every SWITCHBOARD_ variable names a field,
// and the README's example configuration validates.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import YAML from 'yaml';
import type { z } from 'zod';
import { HELP } from '../../src/cli/main.js';
import { configSchema } from '../../src/config/schema.js';
import { ENV_ALIASES, validateConfig } from '../../src/config/load.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const README = read('README.md');
const CONFIGURATION = read('docs/configuration.md');
const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);

/** Fenced code blocks with their info string. */
function codeBlocks(markdown: string): { lang: string; text: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

/** `inline code` spans. */
const inlineCode = (markdown: string) => [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);

/** Lines of shell and inline code: what a reader would type. */
const shown = [...codeBlocks(README).filter((b) => b.lang === 'sh' || b.lang === '').flatMap((b) => b.text.split('\n')), ...inlineCode(README)];

/** The CLI's command table: "  name   description" lines under "Commands:". */
const helpCommands = new Map<string, string>();
for (const line of HELP.slice(HELP.indexOf('Commands:'), HELP.indexOf('Options')).split('\n')) {
  const m = /^ {2}([a-z][a-z-]*)\s+(.*)$/.exec(line);
  if (m) helpCommands.set(m[1]!, line);
}

/** Flags a sub-command defines (parseArgs options in src/cli/), and those HELP lists for start/config. */
const cliSource = readdirSync(new URL('src/cli/', root)).map((f) => read(`src/cli/${f}`)).join('\n');
const flagDefined = (flag: string) => HELP.includes(`--${flag}`) || new RegExp(`['"]?${flag}['"]?\\s*:\\s*\\{\\s*type:`).test(cliSource);

describe('README and docs drift', () => {
  it('every `switchboard <command>` shown exists, with its sub-command and flags', () => {
    const uses = shown.flatMap((line) => [...line.matchAll(/(?:^|[\s(])(?:npx )?switchboard ([a-z][a-z-]*)((?: [^#|]*)?)/g)].map((m) => ({ line, command: m[1]!, rest: m[2] ?? '' })));
    assert.ok(uses.length >= 8, `found only ${uses.length} commands in the README`);
    for (const { line, command, rest } of uses) {
      const entry = helpCommands.get(command);
      assert.ok(entry !== undefined, `README shows 'switchboard ${command}', which the CLI does not have: ${line}`);
      // A sub-command word ("authorizers create", "policy check") is named on the command's help line.
      const sub = /^ ([a-z][a-z-]*(?:\|[a-z-]+)*)(?=\s|$)/.exec(rest)?.[1];
      if (sub !== undefined && !['same'].includes(sub)) {
        for (const word of sub.split('|')) assert.ok(entry.includes(word), `'switchboard ${command} ${word}' is not in the CLI's help: ${entry.trim()}`);
      }
      for (const flag of rest.matchAll(/--([a-z][a-z-]*)/g)) assert.ok(flagDefined(flag[1]!), `flag --${flag[1]} of 'switchboard ${command}' is not defined: ${line}`);
    }
  });

  it('`npm start -- <flags>` shows flags that start has', () => {
    for (const line of shown) {
      const m = /npm start -- (.*)/.exec(line);
      if (m === null) continue;
      for (const flag of m[1]!.matchAll(/--([a-z][a-z-]*)/g)) assert.ok(HELP.includes(`--${flag[1]}`), `npm start -- --${flag[1]}: not a flag of start`);
    }
  });

  it('every `npm run <script>` (and npm start/test) shown is a package.json script', () => {
    const used = new Set<string>();
    for (const text of [README, CONFIGURATION]) {
      for (const m of text.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)) used.add(m[1]!);
      for (const m of text.matchAll(/npm (start|test)\b/g)) used.add(m[1]!);
      // A script named on its own in backticks, e.g. `test:node-versions`.
      for (const code of inlineCode(text)) if (/^test:[a-z0-9-]+$/.test(code)) used.add(code);
    }
    assert.ok(used.size >= 5, [...used].join(', '));
    for (const script of used) assert.ok(scripts.includes(script), `npm run ${script}: no such script in package.json`);
  });

  it('every config key shown in the README and docs/configuration.md is in the schema', () => {
    const top = Object.keys(configSchema.shape);
    const keys = new Set<string>();
    for (const text of [README, CONFIGURATION]) {
      for (const code of inlineCode(text)) {
        for (const m of code.matchAll(/(?:^|[\s=])((?:[a-z][A-Za-z]*)(?:\.[a-z][A-Za-z]*)+)/g)) if (top.includes(m[1]!.split('.')[0]!)) keys.add(m[1]!);
      }
      for (const m of text.matchAll(/--set ([a-z][a-zA-Z]*(?:\.[a-zA-Z]+)+)=/g)) keys.add(m[1]!);
    }
    assert.ok(keys.size > 50, `found only ${keys.size} keys`);
    for (const key of keys) assert.ok(hasPath(configSchema, key.split('.')), `${key} is shown in the docs but is not a config field`);
  });

  it('every SWITCHBOARD_ variable shown names a config field', () => {
    const names = new Set([...README.matchAll(/SWITCHBOARD_[A-Z_]+/g), ...CONFIGURATION.matchAll(/SWITCHBOARD_[A-Z_]+/g)].map((m) => m[0].replace(/_+$/, '')));
    assert.ok(names.size > 10);
    for (const name of names) {
      if (name === 'SWITCHBOARD_CONFIG' || name === 'SWITCHBOARD_') continue;
      const path =
        ENV_ALIASES[name] ??
        name
          .slice('SWITCHBOARD_'.length)
          .split('__')
          .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
          .join('.');
      assert.ok(hasPath(configSchema, path.split('.')), `${name} (${path}) is not a config field`);
    }
  });

  it("the README's example configuration validates", () => {
    const yamlBlocks = codeBlocks(README).filter((b) => b.lang === 'yaml');
    assert.ok(yamlBlocks.length >= 2);
    for (const block of yamlBlocks) assert.doesNotThrow(() => validateConfig(YAML.parse(block.text)), block.text);
  });
});

type Schema = z.ZodType;
interface Def {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  options?: Schema[];
  element?: Schema;
  in?: Schema;
  out?: Schema;
}
const defOf = (schema: Schema) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Whether a dotted path names a field of the schema (through defaults, optionals, unions, arrays). */
function hasPath(schema: Schema, path: string[]): boolean {
  const def = defOf(schema);
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
      return hasPath(def.innerType!, path);
    case 'pipe':
      return hasPath(def.in!, path);
    case 'union':
      return def.options!.some((o) => hasPath(o, path));
    case 'array':
      return hasPath(def.element!, path);
    case 'record':
      return true;
    case 'object': {
      if (path.length === 0) return true;
      const child = def.shape![path[0]!];
      return child !== undefined && hasPath(child, path.slice(1));
    }
    default:
      return path.length === 0;
  }
}
