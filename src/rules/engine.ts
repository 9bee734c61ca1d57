// The rules engine: every published message whose topic a rule selects is queued (bounded: when
// full the overflow is counted, never absorbed as memory) and evaluated off the publish path;
// matching rules run their actions, and failures go to the rule's errorAction in AWS's shape.
// `$aws/rules/{ruleName}/...` (Basic Ingest) goes to that rule only.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Message } from '../shared/message.js';
import { BoundedQueue } from '../shared/bounded-queue.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { TopicTrie } from '../shared/topic-trie.js';
import type { FunctionPool } from '../functions/function-pool.js';
import type { Counters } from '../metrics/counters.js';
import type { RuleStore, StoredRule } from '../store/rule-store.js';
import { compileAction, type ActionFailure, type CompiledAction } from './actions.js';
import { compileRule, SqlError, type CompiledRule, type RuleInput } from './index.js';
import { ruleSchema, type RuleDefinition } from './rule-definition.js';

export class RuleDefinitionError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = 'InvalidRequestException';
  }
}

interface ActiveRule {
  definition: RuleDefinition;
  compiled: CompiledRule;
  actions: CompiledAction[];
  errorAction: CompiledAction | null;
}

interface Job {
  rule: ActiveRule | null;
  message: Message;
  /** The topic rules see: without the Basic Ingest prefix. */
  topic: string;
}

/**
 * One rule's health on this node since it started (or since the rule was created here): the
 * console shows it beside the rule, so a failing action is seen where the rule is, not only as a
 * server-wide failure count on the Monitor. Kept per name across edits; dropped with the rule.
 */
export interface RuleStats {
  /** Messages the rule matched (its WHERE held), as counters.ruleExecutions counts them. */
  executions: number;
  /** Failed actions (and failed error actions), as counters.ruleFailures counts them. */
  failures: number;
  lastError?: { at: string; action: string; resource: string; message: string };
}

export const BASIC_INGEST_PREFIX = '$aws/rules/';
const BATCH = 256;

export interface RulesEngineOptions {
  broker: Broker;
  store: RuleStore;
  pool: FunctionPool;
  counters: Counters;
  logger: Logger;
  accountId: string;
  queueLimit?: number;
  /** Rule input timestamps, republished messages' times, HTTP retry delays; default the system clock. */
  clock?: Clock;
}

export class RulesEngine {
  private readonly broker: Broker;
  private readonly store: RuleStore;
  private readonly pool: FunctionPool;
  private readonly counters: Counters;
  private readonly logger: Logger;
  private readonly accountId: string;
  private readonly clock: Clock;
  private readonly rules = new Map<string, ActiveRule>();
  private readonly index = new TopicTrie<ActiveRule>();
  /** Keyed by rule name: bounded by the rules that exist (entries go with delete). */
  private readonly ruleStats = new Map<string, RuleStats>();
  private readonly queue: BoundedQueue<Job>;
  private scheduled = false;
  private inflight = 0;

  constructor(options: RulesEngineOptions) {
    this.broker = options.broker;
    this.store = options.store;
    this.pool = options.pool;
    this.counters = options.counters;
    this.logger = options.logger.child({ component: 'rules' });
    this.accountId = options.accountId;
    this.clock = options.clock ?? systemClock;
    this.queue = new BoundedQueue(options.queueLimit ?? 10000);
  }

  /** Compiles and activates every stored rule; a stored rule that no longer compiles is logged and skipped. */
  load(): void {
    for (const stored of this.store.list()) {
      try {
        this.activate(parseDefinition(stored.definition));
      } catch (err) {
        this.logger.error({ rule: stored.name, error: (err as Error).message }, 'stored rule does not compile; skipped');
      }
    }
  }

  /** The broker's publish listener: cheap when no rule selects the topic. */
  readonly onPublish = (message: Message): void => {
    const matches = this.index.match(message.topic);
    if (matches.length === 0) return;
    for (let i = 0; i < matches.length; i++) this.enqueue({ rule: matches[i]!, message, topic: message.topic });
  };

  /** Basic Ingest: a client's publish to $aws/rules/{name}/... Returns false for an unknown rule. */
  ingest(message: Message): boolean {
    const rest = message.topic.slice(BASIC_INGEST_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash);
    const rule = this.rules.get(name);
    if (rule === undefined) return false;
    this.enqueue({ rule, message, topic: slash < 0 ? '' : rest.slice(slash + 1) });
    return true;
  }

  private enqueue(job: Job): void {
    if (job.rule!.definition.ruleDisabled) return;
    if (this.queue.push(job) !== undefined) this.counters.ruleQueueDropped++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    for (let i = 0; i < BATCH; i++) {
      const job = this.queue.shift();
      if (job === undefined) return;
      this.evaluate(job);
    }
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private evaluate(job: Job): void {
    const rule = job.rule!;
    const m = job.message;
    const input: RuleInput = {
      topic: job.topic,
      payload: m.payload,
      ...(m.publisherId !== undefined ? { clientId: m.publisherId } : {}),
      ...(m.principal !== undefined ? { principal: m.principal } : {}),
      timestamp: this.clock.now(),
      ...(m.publisherId !== undefined ? { traceId: randomUUID() } : {}),
      accountId: this.accountId,
      mqtt: {
        qos: m.qos,
        retain: m.retain,
        ...(m.properties?.userProperties ? { userProperties: m.properties.userProperties } : {}),
        ...(m.properties?.contentType !== undefined ? { contentType: m.properties.contentType } : {}),
        ...(m.properties?.responseTopic !== undefined ? { responseTopic: m.properties.responseTopic } : {}),
        ...(m.properties?.correlationData !== undefined ? { correlationData: m.properties.correlationData } : {}),
        ...(m.properties?.payloadFormatIndicator !== undefined ? { payloadFormatIndicator: m.properties.payloadFormatIndicator } : {}),
      },
    };
    const output = rule.compiled.evaluate(input);
    if (output === null) return;
    this.counters.ruleExecutions++;
    const stats = this.statsFor(rule.definition.name);
    stats.executions++;
    if (rule.actions.length === 0) return;
    this.inflight++;
    void Promise.all(rule.actions.map((a) => a.run(input, output))).then(async (results) => {
      const failures = results.filter((r): r is ActionFailure => r !== null);
      if (failures.length > 0) {
        this.counters.ruleFailures += failures.length;
        stats.failures += failures.length;
        const last = failures[failures.length - 1]!;
        stats.lastError = { at: new Date().toISOString(), action: last.failedAction, resource: last.failedResource, message: last.errorMessage };
        this.logger.warn({ rule: rule.definition.name, topic: input.topic, failures }, 'rule actions failed');
        if (rule.errorAction !== null) await this.runErrorAction(rule, input, failures);
      }
      this.inflight--;
    });
  }

  /** AWS's error message: one per (rule, message), every failed action listed. */
  private async runErrorAction(rule: ActiveRule, input: RuleInput, failures: ActionFailure[]): Promise<void> {
    const value = {
      ruleName: rule.definition.name,
      topic: input.topic,
      cloudwatchTraceId: randomUUID(),
      clientId: input.clientId ?? 'n/a',
      base64OriginalPayload: input.payload.toString('base64'),
      failures,
    };
    const failure = await rule.errorAction!.run(input, { kind: 'json', value });
    if (failure !== null) {
      this.counters.ruleFailures++;
      const stats = this.statsFor(rule.definition.name);
      stats.failures++;
      stats.lastError = { at: new Date().toISOString(), action: `errorAction ${failure.failedAction}`, resource: failure.failedResource, message: failure.errorMessage };
      this.logger.error({ rule: rule.definition.name, failure }, 'rule error action failed too');
    }
  }

  /** Parses and compiles a definition without activating or storing it; throws as put() would. */
  check(input: unknown): void {
    this.compile(parseDefinition(input));
  }

  private activate(definition: RuleDefinition): ActiveRule {
    const { compiled, actions, errorAction } = this.compile(definition);
    const previous = this.rules.get(definition.name);
    if (previous !== undefined) this.index.remove(previous.compiled.topicFilter, previous);
    const rule: ActiveRule = { definition, compiled, actions, errorAction };
    this.rules.set(definition.name, rule);
    // A Basic-Ingest-only rule may have no FROM topic.
    if (compiled.topicFilter) this.index.add(compiled.topicFilter, rule);
    return rule;
  }

  private compile(definition: RuleDefinition): { compiled: CompiledRule; actions: CompiledAction[]; errorAction: CompiledAction | null } {
    const deps = { broker: this.broker, clock: this.clock, pool: this.pool, logger: this.logger, ruleName: definition.name };
    let compiled: CompiledRule;
    let actions: CompiledAction[];
    let errorAction: CompiledAction | null;
    try {
      compiled = compileRule(definition.sql, { sqlVersion: definition.awsIotSqlVersion });
      actions = definition.actions.map((a) => compileAction(a, deps, compiled));
      errorAction = definition.errorAction ? compileAction(definition.errorAction, deps, compiled) : null;
    } catch (err) {
      if (err instanceof SqlError) throw new RuleDefinitionError(`rule ${definition.name}: ${err.message}`, err.line, err.column);
      throw err;
    }
    return { compiled, actions, errorAction };
  }

  private statsFor(name: string): RuleStats {
    let stats = this.ruleStats.get(name);
    if (stats === undefined) {
      stats = { executions: 0, failures: 0 };
      this.ruleStats.set(name, stats);
    }
    return stats;
  }

  // ---- management (config, admin API, CLI) ----------------------------------------------------

  /** A copy of the rule's health on this node (zeros for a rule that has not run). */
  stats(name: string): RuleStats {
    const s = this.ruleStats.get(name);
    return s === undefined ? { executions: 0, failures: 0 } : { ...s, ...(s.lastError ? { lastError: { ...s.lastError } } : {}) };
  }

  list(): StoredRule[] {
    return this.store.list();
  }

  get(name: string): StoredRule | undefined {
    return this.store.get(name);
  }

  /** The topic filter of an active rule's FROM clause (AWS's `topicPattern`); '' for Basic Ingest only. */
  topicPattern(name: string): string | undefined {
    return this.rules.get(name)?.compiled.topicFilter;
  }

  /** Creates or replaces a rule; throws RuleDefinitionError (with line and column for SQL). */
  put(input: unknown, options: { replace: boolean }): StoredRule {
    const definition = parseDefinition(input);
    const existing = this.store.get(definition.name);
    if (existing !== undefined && !options.replace) throw new RuleDefinitionError(`rule ${definition.name} already exists`);
    this.activate(definition);
    const now = new Date(this.clock.now()).toISOString();
    const stored: StoredRule = { name: definition.name, definition: definition as unknown as Record<string, unknown>, createdAt: existing?.createdAt ?? now, lastModifiedAt: now };
    this.store.put(stored);
    return stored;
  }

  setEnabled(name: string, enabled: boolean): StoredRule | undefined {
    const stored = this.store.get(name);
    if (stored === undefined) return undefined;
    return this.put({ ...stored.definition, ruleDisabled: !enabled }, { replace: true });
  }

  delete(name: string): boolean {
    this.ruleStats.delete(name);
    const rule = this.rules.get(name);
    if (rule !== undefined) {
      this.index.remove(rule.compiled.topicFilter, rule);
      this.rules.delete(name);
    }
    return this.store.delete(name);
  }

  /**
   * Brings one rule in line with the store after another node changed it (cluster): activated
   * as stored, or dropped when it is gone.
   */
  reload(name: string): void {
    const stored = this.store.get(name);
    if (stored === undefined) {
      this.ruleStats.delete(name);
      const rule = this.rules.get(name);
      if (rule !== undefined) {
        this.index.remove(rule.compiled.topicFilter, rule);
        this.rules.delete(name);
      }
      return;
    }
    try {
      this.activate(parseDefinition(stored.definition));
    } catch (err) {
      this.logger.error({ rule: name, error: (err as Error).message }, 'rule changed on another node does not compile here; skipped');
    }
  }

  /** Runs a rule's SQL against a sample message without running its actions (the console's test box). */
  static test(sql: string, sample: { topic: string; payload: string; clientId?: string }): unknown {
    let compiled: CompiledRule;
    try {
      compiled = compileRule(sql);
    } catch (err) {
      if (err instanceof SqlError) throw new RuleDefinitionError(err.message, err.line, err.column);
      throw err;
    }
    const output = compiled.evaluate({ topic: sample.topic, payload: Buffer.from(sample.payload), ...(sample.clientId ? { clientId: sample.clientId } : {}), timestamp: Date.now() });
    if (output === null) return { matched: false };
    return { matched: true, result: output.kind === 'binary' ? { base64: output.value.toString('base64') } : output.value };
  }

  get queued(): number {
    return this.queue.length + this.inflight;
  }
}

function parseDefinition(input: unknown): RuleDefinition {
  const result = ruleSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new RuleDefinitionError(`${issue.path.join('.') || 'rule'}: ${issue.message}`);
  }
  return result.data;
}
