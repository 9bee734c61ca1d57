// Enforcement of compiled policy documents for one connection: every publish, subscribe and
// delivery is a cached verdict lookup. Refresh (refreshAfterInSeconds) swaps the policy in place;
// disconnectAfterInSeconds ends the connection.
import type { ClientPermissions, ConnectionControl } from './authorization.js';
import { RC } from '../protocol/reason-codes.js';
import { arnPrefix, describeVerdict, IotAction, VerdictCache, type ArnScope, type CompiledPolicy } from '../policy/index.js';
import { systemClock, type Clock, type Timer } from '../shared/clock.js';

export interface Lifetime {
  /** Re-run the authorizer; resolves to the new policy, or rejects / resolves null to disconnect. */
  refresh?: {
    afterMs: number;
    run: () => Promise<{ policy: CompiledPolicy; refreshAfterMs: number } | { denied: string }>;
    /** Called once a refreshed policy is in force (counted for /metrics; tests wait on it). */
    applied?: () => void;
  };
  disconnectAfterMs?: number;
  /** What the disconnect at disconnectAfterMs says; default: the authorizer's disconnectAfterInSeconds. */
  disconnect?: { reason: string; why: string };
  /** Where the refresh and disconnect deadlines are kept; default the system clock. */
  clock?: Clock;
}

const RECEIVE_CACHE_SIZE = 1000;
const NO_LIFETIME: Lifetime = Object.freeze({});

/** The topic and topic-filter ARN prefixes of a scope, built once for all its connections. */
const prefixes = new WeakMap<ArnScope, { topic: string; filter: string }>();
function prefixesOf(scope: ArnScope): { topic: string; filter: string } {
  let p = prefixes.get(scope);
  if (p === undefined) {
    const prefix = arnPrefix(scope);
    p = { topic: prefix + 'topic/', filter: prefix + 'topicfilter/' };
    prefixes.set(scope, p);
  }
  return p;
}

export class PolicyPermissions implements ClientPermissions {
  private readonly cache: VerdictCache;
  private readonly topicArn: string;
  private readonly filterArn: string;
  private readonly lifetime: Lifetime;
  private disconnectTimer: Timer | null = null;
  private refreshTimer: Timer | null = null;
  // Allocated on first use: an idle connection keeps none.
  private receive: Map<string, boolean> | null = null;
  private publish: Map<string, boolean> | null = null;
  private released = false;

  constructor(policy: CompiledPolicy, scope: ArnScope, lifetime: Lifetime = NO_LIFETIME) {
    this.cache = new VerdictCache(policy);
    const p = prefixesOf(scope);
    this.topicArn = p.topic;
    this.filterArn = p.filter;
    this.lifetime = lifetime;
  }

  /**
   * Called on every PUBLISH: iot:Publish is answered from a map keyed by the topic itself, as
   * canReceive is, so a hit builds no ARN string (hashing a fresh ARN was an eighth of the CPU of
   * a delivery with one subscriber per topic). iot:RetainPublish, rarer, goes to the verdict cache.
   */
  canPublish(topic: string, retain: boolean): boolean {
    const publish = (this.publish ??= new Map());
    let allowed = publish.get(topic);
    if (allowed === undefined) {
      allowed = this.cache.allows(IotAction.Publish, this.topicArn + topic);
      if (publish.size >= RECEIVE_CACHE_SIZE) publish.clear();
      publish.set(topic, allowed);
    }
    if (!allowed) return false;
    return !retain || this.cache.allows(IotAction.RetainPublish, this.topicArn + topic);
  }

  canSubscribe(filter: string): boolean {
    return this.cache.allows(IotAction.Subscribe, this.filterArn + filter);
  }

  /**
   * Called once per subscriber per delivery: keyed by the topic itself, so a hit costs one Map
   * lookup and no ARN string is built (the verdict cache is keyed by ARN). Bounded; cleared with
   * the policy on refresh.
   */
  canReceive(topic: string): boolean {
    const receive = (this.receive ??= new Map());
    const hit = receive.get(topic);
    if (hit !== undefined) return hit;
    const allowed = this.cache.allows(IotAction.Receive, this.topicArn + topic);
    if (receive.size >= RECEIVE_CACHE_SIZE) receive.clear();
    receive.set(topic, allowed);
    return allowed;
  }

  explain(action: 'publish' | 'retain' | 'subscribe' | 'receive', name: string): string {
    const [iotAction, arn] =
      action === 'subscribe'
        ? [IotAction.Subscribe, this.filterArn + name]
        : [action === 'publish' ? IotAction.Publish : action === 'retain' ? IotAction.RetainPublish : IotAction.Receive, this.topicArn + name];
    return `${iotAction} on ${arn}: ${describeVerdict(this.cache.evaluate(iotAction, arn))}`;
  }

  start(control: ConnectionControl): void {
    const { refresh, disconnectAfterMs } = this.lifetime;
    if (disconnectAfterMs !== undefined) {
      const expire = () =>
        control.disconnect(
          RC.maximumConnectTime,
          this.lifetime.disconnect?.reason ?? 'the authorizer\'s disconnectAfterInSeconds has passed',
          this.lifetime.disconnect?.why ?? 'customauth-ttl-expiration',
        );
      this.disconnectTimer = this.clock().setTimeout(expire, disconnectAfterMs);
    }
    if (refresh !== undefined) this.scheduleRefresh(refresh.afterMs, control);
  }

  private scheduleRefresh(afterMs: number, control: ConnectionControl): void {
    const refresh = this.lifetime.refresh!;
    this.refreshTimer = this.clock().setTimeout(async () => {
      let outcome;
      try {
        outcome = await refresh.run();
      } catch (err) {
        outcome = { denied: `authorizer refresh failed: ${(err as Error).message}` };
      }
      if (this.released) return;
      if ('denied' in outcome) {
        control.disconnect(RC.notAuthorized, outcome.denied, 'auth-refresh-denied');
        return;
      }
      this.cache.reset(outcome.policy);
      this.receive = null;
      this.publish = null;
      this.scheduleRefresh(outcome.refreshAfterMs, control);
      refresh.applied?.();
    }, afterMs);
  }

  /** The system clock's timers are unref'd: a deadline never keeps a stopping process alive. */
  private clock(): Clock {
    return this.lifetime.clock ?? systemClock;
  }

  release(): void {
    this.released = true;
    this.disconnectTimer?.cancel();
    this.refreshTimer?.cancel();
    this.disconnectTimer = this.refreshTimer = null;
  }
}

/** Every right, for anonymous clients admitted by `auth.anonymous`. */
export const allowEverything: ClientPermissions = {
  canPublish: () => true,
  canSubscribe: () => true,
  canReceive: () => true,
};
