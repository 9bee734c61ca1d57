// Configuration from, in increasing precedence: defaults, a JSON or YAML file, environment
// variables, command-line flags. Validation names the offending field and the process exits.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import { configSchema, type Config } from './schema.js';
import { applyProfile } from './profiles.js';

// The YAML parser is required on first use: a node started without a YAML file never loads it.
const require = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;
function parseYaml(text: string): unknown {
  yaml ??= require('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;

/** `limits.maxPayloadBytes` <-> `SWITCHBOARD_LIMITS__MAX_PAYLOAD_BYTES`. */
export function envName(path: string): string {
  return 'SWITCHBOARD_' + path.split('.').map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** Short names for the settings people change most. */
export const ENV_ALIASES: Record<string, string> = {
  SWITCHBOARD_HTTP_PORT: 'listeners.http.port',
  SWITCHBOARD_HTTP_HOST: 'listeners.http.host',
  SWITCHBOARD_MQTT_PORT: 'listeners.mqtt.port',
  SWITCHBOARD_MQTT_HOST: 'listeners.mqtt.host',
  SWITCHBOARD_LOG_LEVEL: 'log.level',
  SWITCHBOARD_STORE: 'store.type',
  SWITCHBOARD_DATA_DIR: 'store.path',
  SWITCHBOARD_ANONYMOUS: 'auth.anonymous',
  SWITCHBOARD_REDIS_URL: 'cluster.redis.url',
  SWITCHBOARD_SEALING_KEY: 'store.sealingKey',
  SWITCHBOARD_WORKERS: 'workers',
};

function parseValue(raw: string): unknown {
  const t = raw.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function readFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const data = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
    if (data === null || data === undefined) return {};
    if (typeof data !== 'object' || Array.isArray(data)) throw new Error('the top level must be an object');
    return data as Tree;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

/** Collects SWITCHBOARD_* variables; an unknown SWITCHBOARD_ name is reported by the schema. */
function fromEnv(env: NodeJS.ProcessEnv, tree: Tree): void {
  const known = new Set(Object.keys(ENV_ALIASES));
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('SWITCHBOARD_') || name === 'SWITCHBOARD_CONFIG') continue;
    let path = ENV_ALIASES[name];
    if (path === undefined && !known.has(name)) {
      path = name
        .slice('SWITCHBOARD_'.length)
        .split('__')
        .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
        .join('.');
    }
    if (path !== undefined) setPath(tree, path, parseValue(raw));
  }
}

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Dotted paths from flags, e.g. { 'listeners.http.port': 0 }. */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.SWITCHBOARD_CONFIG;
  const tree: Tree = file ? readFile(file) : {};
  fromEnv(env, tree);
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    setPath(tree, path, typeof value === 'string' ? parseValue(value) : value);
  }
  return validateConfig(tree);
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: Issue[][];
}

/**
 * One line per problem, naming the field. For a union (a listener is an object or `false`), the
 * object branch's own problems are what the user needs to see, not "invalid input".
 */
function describeIssue(issue: Issue, prefix: PropertyKey[]): string[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
    const branch = issue.errors.find((e) => e.some((i) => i.path.length > 0 || i.code === 'invalid_union'));
    if (branch !== undefined) return branch.flatMap((i) => describeIssue(i, path));
    return [`  ${path.join('.') || '(top level)'}: has the wrong type (see docs/configuration.md)`];
  }
  const where = path.length > 0 ? path.join('.') : '(top level)';
  const extra = issue.code === 'unrecognized_keys' && issue.keys ? ` (${issue.keys.map((k) => [...path, k].join('.')).join(', ')})` : '';
  return [`  ${where}: ${issue.message}${extra}`];
}

export function validateConfig(tree: unknown): Config {
  // The profile's values fill what the file, environment and flags left unset (profiles.ts).
  const result = configSchema.safeParse(applyProfile(tree));
  if (!result.success) {
    const lines = result.error.issues.flatMap((issue) => describeIssue(issue, []));
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const names = new Set<string>();
  for (const a of config.auth.authorizers) {
    if (names.has(a.name)) throw new ConfigError(`invalid configuration:\n  auth.authorizers: the name ${a.name} is used twice`);
    names.add(a.name);
  }
  if (config.auth.defaultAuthorizer !== undefined && !names.has(config.auth.defaultAuthorizer)) {
    throw new ConfigError(`invalid configuration:\n  auth.defaultAuthorizer: no authorizer is named ${config.auth.defaultAuthorizer}`);
  }
  return config;
}
