// Reloading the config file while the server runs (SIGHUP, or POST /api/config/reload): its
// authorizers, rules and the reloadable limits (config/reload.ts) take effect without dropping a
// connection, and the log says what changed.
//
// All or nothing: the file is read and validated, and every new or changed authorizer and rule is
// built, before anything is applied; a file that does not parse, an unknown field, a rule whose SQL
// does not compile or a key file that cannot be read refuses the reload with the reason, and the
// running configuration stays. Connected clients keep the policies their authorizer returned at
// CONNECT (as on AWS, until their refresh); the next CONNECT uses the new authorizers.
import type { Config, Limits } from '../config/schema.js';
import { applyReloadable, diffConfig, isEmpty, setLimit, RELOADABLE_LIMITS, type ConfigChanges } from '../config/reload.js';
import { toRecord } from '../auth/authorizer-records.js';
import type { AuthorizerRecord, AuthorizerStore } from '../store/authorizer-store.js';
import type { RulesEngine } from '../rules/engine.js';
import type { Logger } from '../logger.js';
import type { HttpApp } from './http-server.js';
import { adminRoute } from './route-access.js';
import { ApiError } from './errors.js';

export interface ConfigReloaderOptions {
  /** Reads the configuration again: the same file, environment and command-line flags as at start. */
  load: () => Config;
  /** The configuration the server started with. */
  running: Config;
  /** The live limits object the broker reads (changed in place). */
  limits: Limits;
  authorizers: AuthorizerStore;
  /** Relative handler and key paths in the file are resolved against this directory. */
  baseDir: string;
  rules: RulesEngine;
  logger: Logger;
}

export type ReloadOutcome = { ok: true; changes: ConfigChanges } | { ok: false; error: string };

export class ConfigReloader {
  private running: Config;
  private readonly options: ConfigReloaderOptions;

  constructor(options: ConfigReloaderOptions) {
    this.options = options;
    this.running = options.running;
  }

  reload(): ReloadOutcome {
    const { logger } = this.options;
    let next: Config;
    let changes: ConfigChanges;
    let records: AuthorizerRecord[];
    try {
      next = this.options.load();
      changes = diffConfig(this.running, next);
      records = this.prepare(next, changes);
    } catch (err) {
      const error = (err as Error).message;
      logger.error({ error }, 'configuration reload refused; the running configuration stays');
      return { ok: false, error };
    }
    try {
      this.apply(next, changes, records);
    } catch (err) {
      // A store write failed part-way (disk full, database busy). Every step of apply() is an
      // idempotent put or delete, and `running` still describes the old file, so the next reload
      // computes the same changes and finishes the job.
      const error = `applying failed part-way (${(err as Error).message}); some changes may be in effect, reload again once the cause is fixed`;
      logger.error({ error }, 'configuration reload failed');
      return { ok: false, error };
    }
    const { needsRestart, ...applied } = changes;
    if (isEmpty(changes)) logger.info('configuration reloaded: no authorizer, rule or limit changed');
    else logger.info({ ...applied }, 'configuration reloaded');
    if (needsRestart.length > 0) logger.warn({ needsRestart }, 'configuration reload: these settings change only on restart and were left as they were');
    return { ok: true, changes };
  }

  /** Builds everything that can fail before anything is applied. */
  private prepare(next: Config, changes: ConfigChanges): AuthorizerRecord[] {
    const { authorizers, baseDir, rules } = this.options;
    const touched = new Set([...changes.authorizers.added, ...changes.authorizers.changed]);
    const records = next.auth.authorizers.filter((a) => touched.has(a.name)).map((a) => toRecord(a, baseDir, authorizers.get(a.name)));
    const changedRules = new Set([...changes.rules.added, ...changes.rules.changed]);
    for (const rule of next.rules) if (changedRules.has(String(rule.name))) rules.check(rule);
    return records;
  }

  private apply(next: Config, changes: ConfigChanges, records: AuthorizerRecord[]): void {
    const { authorizers, rules, limits } = this.options;
    for (const record of records) authorizers.put(record);
    if (changes.defaultAuthorizer !== undefined) authorizers.setDefault(changes.defaultAuthorizer.to ?? undefined);
    for (const name of changes.authorizers.removed) authorizers.delete(name);
    const changedRules = new Set([...changes.rules.added, ...changes.rules.changed]);
    for (const rule of next.rules) if (changedRules.has(String(rule.name))) rules.put(rule, { replace: true });
    for (const name of changes.rules.removed) rules.delete(name);
    for (const key of RELOADABLE_LIMITS) setLimit(limits, key, next.limits[key]);
    this.running = applyReloadable(this.running, next);
  }
}

/** POST /api/config/reload: the same as SIGHUP; 200 with what changed, 400 with why it was refused. */
export function registerConfigReloadRoute(app: HttpApp, reloader: ConfigReloader | null, onReloaded?: () => void): void {
  app.post('/api/config/reload', adminRoute, async () => {
    if (reloader === null) throw new ApiError('InvalidRequestException', 400, 'this server was started without a configuration to reload');
    const outcome = reloader.reload();
    if (!outcome.ok) throw new ApiError('InvalidRequestException', 400, `configuration reload refused: ${outcome.error}`);
    onReloaded?.();
    return outcome.changes;
  });
}
