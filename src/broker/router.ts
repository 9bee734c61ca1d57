// The router: the subscription index, retained messages and `publish`, the single entry point for
// every message (MQTT clients, the HTTP API, lifecycle events, rules, wills, and the cluster
// backplane, whose messages are delivered here and never forwarded again). It delivers to a
// session's connection through the ClientConnection interface, or into an offline persistent
// session's queue; it knows no wire protocol. Session lifecycle is session-manager.ts's job.
import type { Logger } from 'pino';
import type { Limits, TopicsConfig } from '../config/schema.js';
import type { Counters } from '../metrics/counters.js';
import { parseSharedFilter } from '../protocol/topic.js';
import type { RetainedStore } from '../store/retained-store.js';
import type { Clock } from '../shared/clock.js';
import type { Message, Origin, QoS } from '../shared/message.js';
import { isExpired, messageProblem } from '../shared/message.js';
import { TopicTrie } from '../shared/topic-trie.js';
import { Broadcast } from './broadcast.js';
import type { BrokerHooks } from './hooks.js';
import type { Delivery, Session, SharedGroup, Subscription } from './session.js';

type IndexEntry = Subscription | SharedGroup;

export interface SubscribeOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
}

/**
 * Gives a message its history id and keeps it, before it is stored or routed, when its topic is
 * kept (src/history/recorder.ts implements it); the same message otherwise.
 */
export interface HistoryStamper {
  stamp(message: Message): Message;
}

/** Called for every published message after delivery is arranged (rules engine, metrics...). */
export type PublishListener = (message: Message, origin: Origin) => void;

export interface RouterOptions {
  limits: Limits;
  retained: RetainedStore;
  counters: Counters;
  logger: Logger;
  hooks: BrokerHooks;
  clock: Clock;
  /** Where AWS IoT's topic semantics are asked for (the aws profile); the spec's by default. */
  topics?: TopicsConfig;
  /** Per-topic history (docs/history.md); null or absent when no `history` rule is configured. */
  history?: HistoryStamper | null;
}

export class Router {
  private readonly limits: Limits;
  private readonly retained: RetainedStore;
  private readonly counters: Counters;
  private readonly logger: Logger;
  private readonly hooks: BrokerHooks;
  private readonly clock: Clock;
  private readonly index: TopicTrie<IndexEntry>;
  private readonly topics: TopicsConfig;
  private readonly history: HistoryStamper | null;
  private readonly groups = new Map<string, SharedGroup>();
  private listeners: PublishListener[] | null = null;
  private seq = 0;

  constructor(options: RouterOptions) {
    this.limits = options.limits;
    this.retained = options.retained;
    this.counters = options.counters;
    this.logger = options.logger;
    this.hooks = options.hooks;
    this.clock = options.clock;
    this.topics = options.topics ?? { multiLevelWildcardMatchesParent: true, retainedForWildcardFilters: true };
    this.index = new TopicTrie<IndexEntry>({ multiLevelWildcardMatchesParent: this.topics.multiLevelWildcardMatchesParent });
    this.history = options.history ?? null;
  }

  onPublish(listener: PublishListener): void {
    (this.listeners ??= []).push(listener);
  }

  /**
   * The single publish entry point. Synchronous: delivery is arranged before it returns.
   * A message from another node (origin 'cluster') was already stored, forwarded and shown to the
   * rules engine where it was published; `groups` names the shared groups this node delivers it to,
   * and `sharedOnly` says it comes for them alone (another node passed it on for its groups: the
   * plain subscriptions here had their copy from the publisher's node).
   */
  publish(message: Message, origin: Origin, groups: ReadonlySet<string> | null = null, sharedOnly = false): void {
    const started = performance.now();
    if (origin === 'cluster') {
      this.counters.messagesFromCluster++;
      this.route(message, groups, sharedOnly);
      this.counters.publishToDeliver.observe((performance.now() - started) / 1000);
      return;
    }
    // A message that cannot be encoded would fail every delivery, for as long as it is retained
    // or queued: it is never stored or routed.
    const problem = messageProblem(message);
    if (problem !== null) {
      this.counters.unencodableDropped++;
      this.logger.warn({ topic: String(message.topic), origin, problem }, 'message dropped: it cannot be encoded as a PUBLISH');
      return;
    }
    this.counters.messagesPublished++;
    // Stamped before anything else sees it, so the retained copy, every delivery (here and on
    // other nodes) and the rules engine all carry the history id.
    if (this.history !== null) message = this.history.stamp(message);
    if (message.retain) this.storeRetained(message);
    const cluster = this.hooks.cluster;
    this.route(message, cluster === null ? null : cluster.forward(message));
    this.counters.publishToDeliver.observe((performance.now() - started) / 1000);
    const listeners = this.listeners;
    if (listeners !== null) for (let i = 0; i < listeners.length; i++) listeners[i]!(message, origin);
  }

  private storeRetained(message: Message): void {
    // An empty retained payload clears the topic and is not stored [MQTT-3.3.1-10, 3.3.1-11].
    if (message.payload.length === 0) {
      this.retained.delete(message.topic);
      return;
    }
    if (this.retained.size >= this.limits.maxRetainedMessages && this.retained.get(message.topic) === undefined) {
      this.logger.warn({ topic: message.topic, limit: this.limits.maxRetainedMessages }, 'retained message limit reached; not stored');
      return;
    }
    this.retained.set(message);
  }

  /** `groups`: the shared groups to deliver to (a cluster picked them); null = every matching one. */
  private route(message: Message, groups: ReadonlySet<string> | null, sharedOnly = false): void {
    const entries = this.index.match(message.topic);
    if (entries.length === 0) return;
    // The clock is read only when something needs it (an expiry, a shared encoding): on this
    // machine's paravirtual clock a read costs a noticeable share of a one-subscriber delivery.
    let now = 0;
    if (message.expiresAt !== 0) {
      now = this.clock.now();
      if (isExpired(message, now)) {
        this.counters.expiredDropped++;
        return;
      }
    }
    const seq = ++this.seq;
    const targets: Session[] = [];
    let shared: Subscription[] | null = null;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.kind === 'shared') {
        // Each shared subscription delivers on its own, apart from the session's other
        // subscriptions [MQTT-4.8.2].
        if (groups !== null && !groups.has(entry.name + '\u0000' + entry.filter)) continue;
        const member = pickMember(entry, message);
        // No connected member here may receive it: a connected one on another node may, which a
        // single node would pick before any persistent member (the cluster passes it on).
        if ((member === undefined || member.session.client === null) && groups !== null) {
          const cluster = this.hooks.cluster;
          if (cluster !== null && cluster.passOn(message, entry.name + '\u0000' + entry.filter, member !== undefined)) continue;
        }
        if (member !== undefined) (shared ??= []).push(member);
        else this.counters.sharedDropped++;
        continue;
      }
      if (sharedOnly) continue;
      const sub = entry;
      // No Local: not delivered back to the connection that published it [MQTT-3.8.3-3].
      if (sub.noLocal && message.publisherId === sub.session.clientId) continue;
      const session = sub.session;
      if (session.mark !== seq) {
        session.mark = seq;
        session.markQos = sub.qos;
        session.markRetain = sub.retainAsPublished;
        session.markIds = sub.subscriptionId === undefined ? undefined : [sub.subscriptionId];
        targets.push(session);
      } else {
        // Overlapping subscriptions: one copy at the highest QoS, with every subscription id
        // [MQTT-3.3.4-2, 3.3.4-3].
        if (sub.qos > session.markQos) session.markQos = sub.qos;
        if (sub.retainAsPublished) session.markRetain = true;
        if (sub.subscriptionId !== undefined) (session.markIds ??= []).push(sub.subscriptionId);
      }
    }
    const broadcast = targets.length > 1 ? new Broadcast(message, now === 0 ? this.clock.now() : now) : null;
    for (let i = 0; i < targets.length; i++) {
      const session = targets[i]!;
      // Live forwards carry RETAIN=0 unless Retain As Published [MQTT-3.3.1-12, 3.3.1-13].
      this.deliverChecked(session, message, session.markQos, session.markRetain, session.markIds, broadcast);
    }
    if (shared !== null) {
      // pickMember chose among members allowed to receive the topic: no second check here.
      for (const sub of shared) {
        this.deliverTo(sub.session, message, sub.qos, sub.retainAsPublished, sub.subscriptionId === undefined ? undefined : [sub.subscriptionId], null);
      }
    }
  }

  private deliverChecked(
    session: Session,
    message: Message,
    subQos: QoS,
    retainAsPublished: boolean,
    subscriptionIds: number[] | undefined,
    broadcast: Broadcast | null,
  ): void {
    const permissions = session.client?.permissions ?? session.permissions;
    if (permissions !== null && !permissions.canReceive(message.topic)) {
      this.counters.deniedReceive++;
      return;
    }
    this.deliverTo(session, message, subQos, retainAsPublished, subscriptionIds, broadcast);
  }

  private deliverTo(
    session: Session,
    message: Message,
    subQos: QoS,
    retainAsPublished: boolean,
    subscriptionIds: number[] | undefined,
    broadcast: Broadcast | null,
  ): void {
    const delivery: Delivery = {
      message,
      qos: (message.qos < subQos ? message.qos : subQos) as QoS,
      retain: message.retain && retainAsPublished,
      subscriptionIds,
    };
    try {
      this.deliver(session, delivery, broadcast);
    } catch (err) {
      // One subscriber's failure must not stop the others, nor the publisher.
      this.counters.deliveryFailures++;
      this.logger.error({ err, clientId: session.clientId, topic: message.topic }, 'delivery failed');
    }
  }

  /** One delivery to one session: to its connection, to the node it is moving to, or its queue. */
  deliver(session: Session, delivery: Delivery, broadcast: Broadcast | null): void {
    const client = session.client;
    if (client !== null) {
      client.deliver(delivery, broadcast);
      return;
    }
    // A session moving to another node: what arrives meanwhile follows it there.
    const cluster = this.hooks.cluster;
    if (cluster !== null && cluster.divert(session.clientId, delivery)) return;
    // Offline persistent session: keep QoS 1/2 [MQTT-3.1.2-5]; QoS 0 is not kept.
    if (delivery.qos > 0 && session.persistent) {
      if (session.enqueue(delivery)) this.counters.queueDropped++;
    }
  }

  // ---- subscriptions --------------------------------------------------------------------------

  /**
   * Adds or replaces a subscription [MQTT-3.8.4-3]. Returns whether it already existed (for
   * Retain Handling 1). The caller has validated the filter and checked the limits.
   */
  subscribe(session: Session, key: string, options: SubscribeOptions, record = true): { subscription: Subscription; existed: boolean } {
    const existing = session.subscriptions.get(key);
    if (existing !== undefined) {
      existing.qos = options.qos;
      existing.noLocal = options.noLocal;
      existing.retainAsPublished = options.retainAsPublished;
      existing.retainHandling = options.retainHandling;
      existing.subscriptionId = options.subscriptionId;
      if (record) session.recordSubscription(existing);
      return { subscription: existing, existed: true };
    }
    const shared = parseSharedFilter(key);
    const filter = shared ? shared.filter : key;
    let group: SharedGroup | undefined;
    if (shared) {
      const groupKey = shared.group + '\u0000' + shared.filter;
      group = this.groups.get(groupKey);
      if (group === undefined) {
        group = { kind: 'shared', name: shared.group, filter: shared.filter, members: [], next: 0, connected: 0, live: false };
        this.groups.set(groupKey, group);
        this.index.add(filter, group);
        this.hooks.cluster?.interestAdded(`$share/${shared.group}/${shared.filter}`);
      }
    }
    const subscription: Subscription = {
      kind: 'direct',
      session,
      key,
      filter,
      qos: options.qos,
      noLocal: options.noLocal,
      retainAsPublished: options.retainAsPublished,
      retainHandling: options.retainHandling,
      subscriptionId: options.subscriptionId,
      group,
    };
    session.subscriptions.set(key, subscription);
    if (group !== undefined) {
      group.members.push(subscription);
      if (session.client !== null) group.connected++;
      this.refreshLive(group);
    } else {
      this.index.add(filter, subscription);
      this.hooks.cluster?.interestAdded(filter);
    }
    if (record) session.recordSubscription(subscription);
    return { subscription, existed: false };
  }

  unsubscribe(session: Session, key: string): boolean {
    const sub = session.subscriptions.get(key);
    if (sub === undefined) return false;
    session.subscriptions.delete(key);
    this.removeFromIndex(sub);
    session.forgetSubscription(key);
    return true;
  }

  /** Takes all of a session's subscriptions out of the index (it ends, or another node takes it). */
  removeAll(session: Session): void {
    for (const sub of session.subscriptions.values()) this.removeFromIndex(sub);
    session.subscriptions.clear();
  }

  private removeFromIndex(sub: Subscription): void {
    const group = sub.group;
    const cluster = this.hooks.cluster;
    if (group === undefined) {
      if (this.index.remove(sub.filter, sub)) cluster?.interestRemoved(sub.filter);
      return;
    }
    const i = group.members.indexOf(sub);
    if (i >= 0) {
      group.members.splice(i, 1);
      if (sub.session.client !== null) group.connected--;
    }
    this.refreshLive(group);
    if (group.members.length === 0) {
      this.index.remove(group.filter, group);
      this.groups.delete(group.name + '\u0000' + group.filter);
      cluster?.interestRemoved(`$share/${group.name}/${group.filter}`);
    }
  }

  /**
   * A connection attached to `session` (or left it): each of its shared groups has one connected
   * member more (or fewer), and may have gained its first or lost its last.
   */
  presenceChanged(session: Session): void {
    if (session.subscriptionCount === 0) return;
    const delta = session.client !== null ? 1 : -1;
    for (const sub of session.subscriptions.values()) {
      if (sub.group === undefined) continue;
      sub.group.connected += delta;
      this.refreshLive(sub.group);
    }
  }

  /** Tells the cluster when `group` gains its first connected member or loses its last one. */
  private refreshLive(group: SharedGroup): void {
    const live = group.connected > 0;
    if (live === group.live) return;
    const cluster = this.hooks.cluster;
    if (cluster === null) return;
    group.live = live;
    cluster.sharedGroupLive(group.name, group.filter, live);
  }

  /** Retained messages for a new subscription, unless expired. */
  retainedFor(filter: string): Message[] {
    const topics = this.topics;
    // AWS IoT: "retained messages are sent only to subscriptions whose filter is the exact topic"
    // (developerguide/mqtt.html, retained messages); wildcard filters get only live messages.
    if (!topics.retainedForWildcardFilters && /(^|\/)[+#]($|\/)/.test(filter)) return [];
    const found = this.retained.match(filter);
    if (topics.multiLevelWildcardMatchesParent || !filter.endsWith('/#')) return found;
    // The store matches with the spec's semantics; 'a/#' (or 'a/+/#') must not bring back a
    // retained message on the level above the '#' ('a', 'a/b').
    const levels = levelCount(filter);
    return found.filter((m) => levelCount(m.topic) >= levels);
  }

  get subscriptionCount(): number {
    return this.index.size;
  }
}

function levelCount(s: string): number {
  let n = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x2f /* / */) n++;
  return n;
}

/**
 * Picks the member of a shared group that gets this message, among members allowed to receive
 * its topic (iot:Receive; AWS checks Receive per delivered message, and a shared subscription
 * delivers each message to one member [MQTT-4.8.2], so a member that may not receive it must not
 * be the one picked — the message would reach nobody):
 * 1. round-robin over connected members whose connection may receive the topic;
 * 2. with none, at QoS 1/2, a persistent offline member's queue [MQTT-3.1.2-5]: first one whose
 *    last connection's rights allow the topic, else one whose rights are unknown (restored from
 *    the store after a restart, not connected since) — the same rule the router applies to an
 *    offline session's direct subscriptions, so a restart does not start dropping messages;
 *    a member whose known rights deny the topic is never picked;
 * 3. otherwise undefined: the caller drops the message and counts it (sharedDropped).
 * Receive verdicts come from each connection's bounded verdict cache, so a check is a Map lookup.
 * Exported for its unit test.
 */
export function pickMember(group: SharedGroup, message: Pick<Message, 'topic' | 'qos'>): Subscription | undefined {
  const members = group.members;
  const n = members.length;
  const topic = message.topic;
  for (let i = 0; i < n; i++) {
    const sub = members[(group.next + i) % n]!;
    const client = sub.session.client;
    if (client !== null && client.permissions.canReceive(topic)) {
      group.next = (group.next + i + 1) % n;
      return sub;
    }
  }
  if (message.qos === 0) return undefined;
  let unknown = -1;
  for (let i = 0; i < n; i++) {
    const at = (group.next + i) % n;
    const session = members[at]!.session;
    if (session.client !== null || !session.persistent) continue;
    const permissions = session.permissions;
    if (permissions === null) {
      if (unknown < 0) unknown = at;
    } else if (permissions.canReceive(topic)) {
      group.next = (at + 1) % n;
      return members[at];
    }
  }
  if (unknown < 0) return undefined;
  group.next = (unknown + 1) % n;
  return members[unknown];
}
