// What a config reload (SIGHUP, POST /api/config/reload) may change while clients stay connected,
// and what it found changed. Pure: compares the running configuration with the file read again;
// the applier (api/config-reload.ts) acts on the result.
//
// Reloadable: the config file's authorizers and default authorizer, its rules, and the limits that
// are read afresh for every packet or connection and promise nothing to a connected client (a
// topic length checked at each PUBLISH, the connection count checked at each CONNECT). Everything
// else needs a restart and is left as it was: listeners and the store hold sockets and files,
// maxPacketBytes and the outbound budgets are fixed per connection when it is accepted, and
// maxInflightMessages and topicAliasMaximum were announced to connected v5 clients in CONNACK
// [MQTT-3.2.2.3.3, 3.2.2.3.8], so lowering them would make those clients break a promise we made.
// maxPayloadBytes also bounds the HTTP API's request bodies, fixed when its routes are registered.
import type { Config, Limits } from './schema.js';

export const RELOADABLE_LIMITS: ReadonlySet<keyof Limits> = new Set<keyof Limits>([
  'maxTopicBytes',
  'maxTopicLevels',
  'maxClientIdBytes',
  'maxSubscriptionsPerConnection',
  'maxFiltersPerSubscribe',
  'maxConnections',
  'maxKeepAliveSeconds',
  'minKeepAliveSeconds',
  'maxSessionExpirySeconds',
  'defaultSessionExpirySeconds',
  'maxMessageExpirySeconds',
  // Throttles: each check reads the current value.
  'maxPublishesPerSecond',
  'maxInboundBytesPerSecond',
  'maxSubscriptionsPerSecond',
  'maxConnectsPerClientIdPerSecond',
]);

/** Names added, removed and changed between two lists of named definitions. */
export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ConfigChanges {
  authorizers: NamedChanges;
  /** Set when auth.defaultAuthorizer differs (null: none). */
  defaultAuthorizer?: { from: string | null; to: string | null };
  rules: NamedChanges;
  /** Reloadable limits whose value changed. */
  limits: Record<string, { from: number | undefined; to: number | undefined }>;
  /** Dotted paths of settings that differ but take effect only on restart (left as they were). */
  needsRestart: string[];
}

/** True when nothing reloadable changed (settings needing a restart may still differ). */
export function isEmpty(changes: ConfigChanges): boolean {
  const named = (n: NamedChanges) => n.added.length + n.removed.length + n.changed.length === 0;
  return named(changes.authorizers) && named(changes.rules) && changes.defaultAuthorizer === undefined && Object.keys(changes.limits).length === 0;
}

/** Paths whose changes a reload applies; every other difference is reported as needing a restart. */
function reloadable(path: string[]): boolean {
  const [a, b] = path;
  if (a === 'rules') return true;
  // auth.anonymous is compared by its effect (effectiveAnonymous), not as written.
  if (a === 'auth') return b === 'authorizers' || b === 'defaultAuthorizer' || b === 'anonymous';
  if (a === 'limits') return b !== undefined && RELOADABLE_LIMITS.has(b as keyof Limits);
  return false;
}

/**
 * Who may connect without credentials, as auth/custom-authorization.ts decides it at start: unset,
 * it is 'loopback' with no authorizer and no unauthenticated policy, else 'nobody'. It is fixed at
 * start, so a reload that adds the first authorizer does not close anonymous access: that change
 * is reported as needing a restart rather than silently differing from what a restart would do.
 */
export function effectiveAnonymous(config: Config): 'loopback' | 'everyone' | 'nobody' {
  const configured = config.auth.authorizers.length > 0 || config.auth.unauthenticatedPolicy !== undefined;
  return config.auth.anonymous ?? (configured ? 'nobody' : 'loopback');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf paths (arrays compared whole) whose values differ. */
function differingPaths(a: unknown, b: unknown, path: string[], out: string[][]): void {
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) differingPaths(a[key], b[key], [...path, key], out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
}

function namedChanges(before: readonly unknown[], after: readonly unknown[]): NamedChanges {
  const byName = (list: readonly unknown[]) => new Map(list.filter(isObject).map((d) => [String(d.name), JSON.stringify(d)]));
  const a = byName(before);
  const b = byName(after);
  return {
    added: [...b.keys()].filter((n) => !a.has(n)),
    removed: [...a.keys()].filter((n) => !b.has(n)),
    changed: [...b.keys()].filter((n) => a.has(n) && a.get(n) !== b.get(n)),
  };
}

/** What differs between the running configuration and `next` (both validated). */
export function diffConfig(running: Config, next: Config): ConfigChanges {
  const paths: string[][] = [];
  differingPaths(running, next, [], paths);
  const limits: ConfigChanges['limits'] = {};
  for (const key of RELOADABLE_LIMITS) {
    if (running.limits[key] !== next.limits[key]) limits[key] = { from: running.limits[key], to: next.limits[key] };
  }
  const from = running.auth.defaultAuthorizer ?? null;
  const to = next.auth.defaultAuthorizer ?? null;
  const needsRestart = paths.filter((p) => !reloadable(p)).map((p) => p.join('.'));
  if (effectiveAnonymous(running) !== effectiveAnonymous(next)) needsRestart.push('auth.anonymous');
  return {
    authorizers: namedChanges(running.auth.authorizers, next.auth.authorizers),
    ...(from !== to ? { defaultAuthorizer: { from, to } } : {}),
    rules: namedChanges(running.rules, next.rules),
    limits,
    needsRestart,
  };
}

/**
 * The configuration in effect after a reload: the running one with the reloadable parts taken from
 * `next`. Settings that need a restart keep their running values, so the next reload reports them
 * again until the process restarts.
 */
export function applyReloadable(running: Config, next: Config): Config {
  const limits: Limits = { ...running.limits };
  for (const key of RELOADABLE_LIMITS) setLimit(limits, key, next.limits[key]);
  // The anonymous mode in effect stays the one decided at start, written out.
  const auth = { ...running.auth, authorizers: next.auth.authorizers, anonymous: effectiveAnonymous(running) };
  if (next.auth.defaultAuthorizer === undefined) delete auth.defaultAuthorizer;
  else auth.defaultAuthorizer = next.auth.defaultAuthorizer;
  return { ...running, auth, rules: next.rules, limits };
}

/** Copies one limit (undefined removes an optional one). */
export function setLimit<K extends keyof Limits>(limits: Limits, key: K, value: Limits[K]): void {
  if (value === undefined) delete limits[key];
  else limits[key] = value;
}
