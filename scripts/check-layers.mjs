#!/usr/bin/env node
// The import direction of src/, checked (issue 14). The layer order is written here and only here;
// docs/architecture.md draws it and test/scripts/check-layers.test.ts holds the drawing to it.
//
//   node scripts/check-layers.mjs [--root DIR] [--no-allow-list]
//
// A module may import from its own layer or a lower one, never from a higher one. Every import
// counts, `import type` too: a lower layer that names a higher layer's type already depends on
// its shape (and is one cast away from calling it). Peers at layer 7 are separate front-ends and
// consumers of the core and import none of each other. Prints each violation as
// `file:line  from-layer -> to-layer` and exits 1; exits 0 with one summary line when clean.
// Plain Node on purpose: no parser dependency; the scanner below skips comments, strings and
// regular expression literals well enough for import statements, which it only has to find.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layers, low to high. `modules` are paths relative to the repository root: a folder ends
 * with '/', anything else is one file; the longest match places a file. `separatePeers`: the
 * modules of this layer may not import each other (each is its own consumer of the layers below).
 */
export const LAYERS = [
  { level: 1, name: 'shared', modules: ['src/shared/', 'src/logger.ts'] },
  { level: 2, name: 'building blocks', modules: ['src/policy/', 'src/protocol/', 'src/metrics/', 'src/transport/'] },
  { level: 3, name: 'config', modules: ['src/config/'] },
  { level: 4, name: 'storage and functions', modules: ['src/store/', 'src/functions/', 'src/history/'] },
  { level: 5, name: 'auth', modules: ['src/auth/'] },
  { level: 6, name: 'core', modules: ['src/broker/'] },
  { level: 7, name: 'front-ends and consumers', modules: ['src/mqtt/', 'src/web/', 'src/events/', 'src/rules/', 'src/cluster/'], separatePeers: true },
  { level: 8, name: 'api', modules: ['src/api/'] },
  { level: 9, name: 'composition', modules: ['src/cli/', 'src/server.ts'] },
];

/** Modules outside the layer order that may import only themselves. */
export const ISLANDS = [
  { module: 'src/console/', why: 'the browser app, bundled by Vite on its own; it talks to the server over HTTP only' },
  { module: 'src/client/', why: 'the browser helper for /ws (served at /client/switchboard.js, exported as switchboard/client); no dependencies' },
];

/** Imports that the layer order would allow but that are refused all the same. */
export const FORBIDDEN = [
  {
    from: 'src/broker/',
    to: ['src/protocol/codec.ts', 'src/protocol/wire-check.ts', 'mqtt-packet'],
    why: 'the core is protocol-neutral: MQTT packets are the MQTT front-end\'s business (src/mqtt/)',
  },
  {
    from: 'src/',
    except: ['src/protocol/'],
    to: ['mqtt-packet'],
    why: 'mqtt-packet is pinned and its internals are tested in one place (src/protocol/codec.ts)',
  },
];

/**
 * Temporary exceptions: violations on main while issue 14's split is in progress, each with the
 * step that removes it. `from` and `to` are exact files. An entry that matches nothing any more
 * is reported as stale and fails the check, so the list only shrinks.
 */
export const ALLOWED = [
];

const SOURCE = /\.(ts|mts|cts|tsx)$/;
const NOT_SOURCE = /\.d\.ts$/;

/** Every TypeScript source file under `dir`, as paths relative to `root` with '/' separators. */
function listSources(root, dir) {
  const out = [];
  const walk = (abs) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const child = path.join(abs, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (SOURCE.test(entry.name) && !NOT_SOURCE.test(entry.name)) out.push(path.relative(root, child).split(path.sep).join('/'));
    }
  };
  if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return out.sort();
}

// Characters after which a '/' starts a regular expression rather than a division.
const BEFORE_REGEX = new Set(['', '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);
const KEYWORDS_BEFORE_REGEX = /(?:^|[^\w$])(?:return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/;

/**
 * The source with comments blanked out (newlines kept, so offsets and line numbers stay true)
 * and the insides of template literals and regular expressions blanked too. Ordinary string
 * literals are kept, because import specifiers are ordinary strings, unless `strings` is true.
 */
export function blankNonCode(text, strings = false) {
  const out = text.split('');
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  let last = ''; // last significant character outside comments
  const n = text.length;
  // Template literal nesting: each entry counts the braces open inside one `${ }`.
  const templateBraces = [];
  const skipTemplate = (start) => {
    // From just after a '`' (or a closing '}' of a substitution) to the next '`' or '${'.
    let j = start;
    while (j < n) {
      const c = text[j];
      if (c === '\\') j += 2;
      else if (c === '`') {
        blank(start, j);
        return { end: j + 1, substitution: false };
      } else if (c === '$' && text[j + 1] === '{') {
        blank(start, j);
        return { end: j + 2, substitution: true };
      } else j++;
    }
    blank(start, n);
    return { end: n, substitution: false };
  };
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (strings) blank(i + 1, j);
      i = j + 1;
      last = c;
      continue;
    }
    if (c === '`') {
      const r = skipTemplate(i + 1);
      if (r.substitution) templateBraces.push(0);
      i = r.end;
      last = r.substitution ? '{' : '`';
      continue;
    }
    if (c === '{' && templateBraces.length > 0) templateBraces[templateBraces.length - 1]++;
    if (c === '}' && templateBraces.length > 0) {
      if (templateBraces[templateBraces.length - 1] === 0) {
        templateBraces.pop();
        const r = skipTemplate(i + 1);
        if (r.substitution) templateBraces.push(0);
        i = r.end;
        last = r.substitution ? '{' : '`';
        continue;
      }
      templateBraces[templateBraces.length - 1]--;
    }
    if (c === '/') {
      const before = text.slice(Math.max(0, i - 12), i).trimEnd();
      if (BEFORE_REGEX.has(last) || KEYWORDS_BEFORE_REGEX.test(before)) {
        let j = i + 1;
        let inClass = false;
        while (j < n && text[j] !== '\n') {
          const d = text[j];
          if (d === '\\') j += 2;
          else if (d === '[') (inClass = true), j++;
          else if (d === ']') (inClass = false), j++;
          else if (d === '/' && !inClass) break;
          else j++;
        }
        blank(i + 1, j);
        i = j + 1;
        last = '/';
        continue;
      }
    }
    if (!/\s/.test(c)) last = c;
    i++;
  }
  return out.join('');
}

// Import forms, on blanked source. Each captures the keyword position and the specifier.
const IMPORT_FORMS = [
  // import x from '…'; import { a, type b } from '…'; import * as ns from '…'; import type …
  /(?<![\w$.])import\s+(type\s+)?([\w$]+\s*,\s*)?(\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)\s*from\s*(['"])([^'"\n]+)\4/g,
  // export { a } from '…'; export * from '…'; export * as ns from '…'; export type { … } from '…'
  /(?<![\w$.])export\s+(type\s+)?()(\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)\s*from\s*(['"])([^'"\n]+)\4/g,
  // import '…' (side effects only)
  /(?<![\w$.])import\s*()()()(['"])([^'"\n]+)\4/g,
  // import('…'), also in type positions: typeof import('…')
  /(?<![\w$.])import\s*\(\s*()()()(['"])([^'"\n]+)\4/g,
];

/** The import specifiers of one file: `{ specifier, line, typeOnly }`. */
export function findImports(text) {
  const code = blankNonCode(text);
  // The same with string contents blanked: a match whose keyword is blank there is inside a string.
  const skeleton = blankNonCode(text, true);
  const found = [];
  for (const form of IMPORT_FORMS) {
    form.lastIndex = 0;
    for (let m = form.exec(code); m !== null; m = form.exec(code)) {
      if (skeleton[m.index] !== m[0][0]) continue;
      const [, typeKeyword, defaultPart, names] = m;
      const typeOnly =
        typeKeyword !== undefined && typeKeyword !== '' ? true : !defaultPart && names?.startsWith('{') === true && allTypeNames(names);
      const line = code.slice(0, m.index).split('\n').length;
      found.push({ specifier: m[5], line, typeOnly });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

function allTypeNames(braces) {
  const names = braces.slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((s) => s.startsWith('type '));
}

/** Where a specifier points: a repository-relative file for relative imports, else the package name. */
function resolve(root, fromFile, specifier) {
  if (!specifier.startsWith('.')) {
    if (specifier.startsWith('node:')) return { builtin: true };
    const parts = specifier.split('/');
    return { pkg: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] };
  }
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), specifier));
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base.replace(/\.cjs$/, '.cts'),
    base,
    base + '.ts',
    base + '/index.ts',
  ];
  for (const c of candidates) {
    const abs = path.join(root, c);
    if (existsSync(abs) && statSync(abs).isFile()) return { file: c };
  }
  return { file: base.replace(/\.js$/, '.ts'), missing: true };
}

const matches = (file, module) => (module.endsWith('/') ? file.startsWith(module) : file === module);

/** The layer (or island) of a repository-relative file: `{ level, module }`, or null if it has none. */
export function placeOf(file, layers = LAYERS, islands = ISLANDS) {
  let best = null;
  for (const layer of layers) {
    for (const module of layer.modules) {
      if (matches(file, module) && (best === null || module.length > best.module.length)) best = { level: layer.level, module, layer };
    }
  }
  for (const island of islands) {
    if (matches(file, island.module) && (best === null || island.module.length > best.module.length)) best = { level: null, module: island.module, island };
  }
  return best;
}

const describe = (place) => (place === null ? 'no layer' : place.level === null ? `${place.module} (island)` : `${place.level} ${place.module}`);

/**
 * Checks every source file under `root`/src. Returns `{ files, imports, violations, stale }`;
 * each violation is `{ file, line, specifier, target, problem, typeOnly }`.
 * @param {{ root?: string, allowed?: any[], layers?: any, islands?: any, forbidden?: any }} [options]
 */
export function checkLayers({ root, allowed = ALLOWED, layers = LAYERS, islands = ISLANDS, forbidden = FORBIDDEN } = {}) {
  const files = listSources(root, 'src');
  const violations = [];
  const used = new Set();
  let imports = 0;
  for (const file of files) {
    const from = placeOf(file, layers, islands);
    if (from === null) {
      violations.push({ file, line: 1, specifier: '', target: '', problem: `${file} is in no layer: add its folder to LAYERS in scripts/check-layers.mjs` });
      continue;
    }
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const imp of findImports(text)) {
      const where = resolve(root, file, imp.specifier);
      if (where.builtin) continue;
      imports++;
      const target = where.file ?? where.pkg;
      let problem = null;
      for (const rule of forbidden) {
        if (!matches(file, rule.from) || (rule.except ?? []).some((m) => matches(file, m))) continue;
        if (rule.to.some((t) => (where.pkg !== undefined ? t === where.pkg : matches(where.file, t)))) {
          problem = `${describe(from)} -> ${target}: forbidden (${rule.why})`;
          break;
        }
      }
      if (problem === null && where.file !== undefined) {
        const to = placeOf(where.file, layers, islands);
        if (!where.file.startsWith('src/')) {
          problem = `${describe(from)} -> ${where.file}: imports from outside src/`;
        } else if (to === null) {
          problem = `${describe(from)} -> ${where.file}: target is in no layer`;
        } else if (from.level === null || to.level === null) {
          if (from.module !== to.module) problem = `${describe(from)} -> ${describe(to)}: an island imports only itself and is imported by nobody`;
        } else if (to.level > from.level) {
          problem = `${describe(from)} -> ${describe(to)}: imports a higher layer`;
        } else if (to.level === from.level && from.module !== to.module && from.layer.separatePeers) {
          problem = `${describe(from)} -> ${describe(to)}: peers at layer ${from.level} import none of each other`;
        }
      }
      if (problem === null) continue;
      const allowance = allowed.find((a) => a.from === file && a.to === target);
      if (allowance !== undefined) {
        used.add(allowance);
        continue;
      }
      // Said, because a type-only import is often the easier one to move (to the lower layer).
      if (imp.typeOnly) problem += ' [type-only import]';
      violations.push({ file, line: imp.line, specifier: imp.specifier, target, problem, typeOnly: imp.typeOnly });
    }
  }
  const stale = allowed.filter((a) => !used.has(a));
  return { files: files.length, imports, violations, stale };
}

function main(argv) {
  let root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  let allowed = ALLOWED;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = path.resolve(argv[++i] ?? '.');
    else if (argv[i] === '--no-allow-list') allowed = [];
    else {
      console.error(`check-layers: unknown argument ${argv[i]}`);
      return 2;
    }
  }
  const { files, imports, violations, stale } = checkLayers({ root, allowed });
  for (const v of violations) console.error(`${v.file}:${v.line}  ${v.problem}`);
  for (const a of stale) console.error(`stale allow-list entry (nothing imports it any more; remove it): ${a.from} -> ${a.to}`);
  if (violations.length > 0 || stale.length > 0) {
    console.error(`check-layers: ${violations.length} import(s) against the layer order, ${stale.length} stale allow-list entr${stale.length === 1 ? 'y' : 'ies'} (order: scripts/check-layers.mjs, map: docs/architecture.md)`);
    return 1;
  }
  console.log(`check-layers: ${files} files, ${imports} imports, layer order kept (${allowed.length} allowed exception${allowed.length === 1 ? '' : 's'})`);
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
