// Functions (authorizer handlers, rule function actions) named over the network are names, never
// paths: a name is looked up in the one directory the operator configured (`functions.dir`), as
// `<dir>/<name>.js`, then `.mjs`, then `.cjs`, and the file found must really be inside that
// directory (symbolic links are followed first, so a link pointing elsewhere is refused). Paths are
// for the config file only: the operator wrote them.
//   names:      users, users-v2, Users_2026.01
//   not names:  /tmp/evil.js, ../x, a/b, users.js (a file name: give users), .hidden, -x, a..b
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { Config } from '../config/schema.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const EXTENSIONS = ['.js', '.mjs', '.cjs'] as const;

export class FunctionNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestException';
  }
}

/** Why `value` is not a function name, or null when it is one. */
export function functionNameProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'must be a function name';
  if (/[/\\]/.test(value) || isAbsolute(value)) return `must be a function name in functions.dir, not a path (got ${JSON.stringify(value.slice(0, 200))})`;
  if (!NAME.test(value) || value.includes('..')) {
    return `must be a function name: 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit, without '..' (got ${JSON.stringify(value.slice(0, 200))})`;
  }
  if (/\.(?:js|mjs|cjs)$/i.test(value)) return `must be a function name without its extension (${value.replace(/\.(?:js|mjs|cjs)$/i, '')}, not ${value})`;
  return null;
}

export function isFunctionName(value: string): boolean {
  return functionNameProblem(value) === null;
}

/** The configured functions directory; resolve() turns a name into the module's real path. */
export class FunctionDirectory {
  readonly dir: string;

  /** `dir` relative to `baseDir` (the config file's directory). */
  constructor(dir: string, baseDir: string) {
    this.dir = resolve(baseDir, dir);
  }

  /** The real path of function `name`'s module; throws FunctionNameError saying what is wrong (callers name the field). */
  resolve(name: string): string {
    const problem = functionNameProblem(name);
    if (problem !== null) throw new FunctionNameError(problem);
    let root: string;
    try {
      root = realpathSync(this.dir);
    } catch {
      throw new FunctionNameError(`no function named ${name}: the functions directory ${this.dir} (functions.dir) does not exist`);
    }
    for (const ext of EXTENSIONS) {
      let real: string;
      try {
        real = realpathSync(join(root, name + ext));
      } catch {
        continue;
      }
      if (!real.startsWith(root + sep)) throw new FunctionNameError(`function ${name} resolves outside the functions directory ${this.dir}; refused`);
      if (!statSync(real).isFile()) throw new FunctionNameError(`function ${name} is not a file in ${this.dir}`);
      return real;
    }
    throw new FunctionNameError(`no function named ${name} in ${this.dir} (looked for ${EXTENSIONS.map((e) => name + e).join(', ')})`);
  }
}

/**
 * The module paths the config file names (authorizer handlers against `baseDir`, as records
 * store them; rule function actions against the working directory, as the pool resolves them).
 * The pool runs a path only if it is one of these, so a path that reached a store some other way
 * (a record written by an older version's API) is refused, not run.
 */
export function configuredPaths(config: Pick<Config, 'auth' | 'rules'>, baseDir: string): Set<string> {
  const paths = new Set<string>();
  for (const a of config.auth.authorizers) {
    if (a.handler !== undefined && !isFunctionName(a.handler)) paths.add(isAbsolute(a.handler) ? a.handler : resolve(baseDir, a.handler));
  }
  for (const rule of config.rules) {
    const actions = Array.isArray(rule['actions']) ? (rule['actions'] as unknown[]) : [];
    for (const action of [...actions, rule['errorAction']]) {
      const handler = (action as { function?: { handler?: unknown } } | null | undefined)?.function?.handler;
      if (typeof handler === 'string' && !isFunctionName(handler)) paths.add(resolve(handler));
    }
  }
  return paths;
}
