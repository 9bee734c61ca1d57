// /metrics in the Prometheus text format, read from the shared Counters at scrape time (no work
// on the publish path).
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Counters } from './counters.js';

export function createPrometheusRegistry(
  counters: Counters,
  gauges: { connected: () => number; sessions: () => number; retained: () => number; subscriptions: () => number; storeBacklog?: () => number; connectedByProtocol?: () => Map<string, number> },
): Registry {
  const registry = new Registry();
  // prom-client's registry reads any metric through get() and reset(); its type names only its own
  // classes, so our cheaper histogram (bucket-histogram.ts) is registered through this one cast.
  registry.registerMetric(counters.publishToDeliver as unknown as Metric);
  registry.registerMetric(counters.authorizerDuration);
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_process_' });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // Counters only go up; prom-client wants increments, so reset to the current total.
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('switchboard_connected_clients', 'MQTT clients connected now', gauges.connected);
  const byProtocol = gauges.connectedByProtocol;
  if (byProtocol !== undefined) {
    new Gauge({
      name: 'switchboard_connected_clients_by_protocol',
      help: 'Clients connected now, by protocol (mqtt, json: JSON over WebSocket, sse: Server-Sent Events)',
      labelNames: ['protocol'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = byProtocol();
        for (const protocol of ['mqtt', 'json', 'sse']) this.set({ protocol }, counts.get(protocol) ?? 0);
      },
    });
  }
  new Counter({
    name: 'switchboard_messages_by_protocol_total',
    help: 'Messages received from clients (direction="in") and delivered to them ("out"), by protocol',
    labelNames: ['protocol', 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      const jsonIn = counters.jsonMessagesReceived;
      const webOut = counters.jsonMessagesDelivered + counters.sseMessagesDelivered;
      this.inc({ protocol: 'mqtt', direction: 'in' }, counters.messagesReceived - jsonIn);
      this.inc({ protocol: 'mqtt', direction: 'out' }, counters.messagesDelivered - webOut);
      this.inc({ protocol: 'json', direction: 'in' }, jsonIn);
      this.inc({ protocol: 'json', direction: 'out' }, counters.jsonMessagesDelivered);
      this.inc({ protocol: 'sse', direction: 'out' }, counters.sseMessagesDelivered);
    },
  });
  gauge('switchboard_sessions', 'Sessions held, connected or persistent offline', gauges.sessions);
  gauge('switchboard_retained_messages', 'Retained messages stored', gauges.retained);
  gauge('switchboard_subscriptions', 'Subscriptions in the index', gauges.subscriptions);
  if (gauges.storeBacklog !== undefined) {
    gauge('switchboard_store_backlog', 'Store writes waiting to be committed (Redis: grows during an outage)', gauges.storeBacklog);
  }
  if (counters.clusterConnected !== null) {
    gauge('switchboard_cluster_redis_connected', '1 while the Redis backplane is reachable, 0 during an outage', () => counters.clusterConnected ?? 0);
  }
  counter('switchboard_connections_accepted_total', 'CONNECTs accepted', () => counters.connectionsAccepted);
  counter('switchboard_connections_closed_total', 'Connections closed after CONNACK', () => counters.connectionsClosed);
  new Counter({
    name: 'switchboard_connections_refused_total',
    help: 'CONNECTs refused, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of counters.connectFailures) this.inc({ reason }, n);
    },
  });
  counter('switchboard_protocol_errors_total', 'Connections closed for a protocol violation', () => counters.protocolErrors);
  counter('switchboard_messages_received_total', 'PUBLISH packets received from clients', () => counters.messagesReceived);
  counter('switchboard_messages_published_total', 'Messages through broker.publish (clients, HTTP, events, wills, rules)', () => counters.messagesPublished);
  counter('switchboard_cluster_messages_received_total', 'Messages received from other cluster nodes', () => counters.messagesFromCluster);
  counter('switchboard_cluster_frames_sent_total', 'Message frames sent to other cluster nodes (one per target node)', () => counters.clusterFramesSent);
  counter('switchboard_cluster_frames_dropped_total', 'QoS 0 frames to other nodes dropped while Redis was unreachable', () => counters.clusterFramesDropped);
  counter('switchboard_cluster_frames_resent_total', 'QoS 1/2 frames to other nodes sent again', () => counters.clusterFramesResent);
  counter('switchboard_cluster_redis_outages_total', 'Times the Redis backplane was lost (restart, network, failover)', () => counters.clusterRedisOutages);
  counter('switchboard_cluster_redis_outage_seconds_total', 'Time spent without the Redis backplane, over completed outages', () => counters.clusterRedisOutageMs / 1000);
  counter('switchboard_cluster_redis_failovers_total', 'Redis outages that ended on another master (Sentinel failover)', () => counters.clusterRedisFailovers);
  counter('switchboard_cluster_outbox_bytes_dropped_total', 'QoS 1/2 frames to another node given up because its outbox exceeded cluster.outboxBytes', () => counters.clusterOutboxBytesDropped);
  counter('switchboard_cluster_frames_lost_total', 'QoS 1/2 frames to other nodes given up (node dead or far behind)', () => counters.clusterFramesLost);
  counter('switchboard_cluster_frames_adopted_total', 'QoS 1/2 frames a dead node had not acknowledged, sent on to the node that adopted its sessions', () => counters.clusterFramesAdopted);
  counter('switchboard_cluster_claim_races_total', 'CONNECT claims of a client ID that lost a race with another node', () => counters.clusterClaimRaces);
  counter('switchboard_publishes_refused_undelivered_total', 'Publishes refused instead of acknowledged because their copy for another node was given up', () => counters.publishesRefusedUndelivered);
  counter('switchboard_messages_delivered_total', 'PUBLISH packets sent to subscribers', () => counters.messagesDelivered);
  counter('switchboard_bytes_received_total', 'Bytes received on MQTT connections', () => counters.bytesReceived);
  counter('switchboard_bytes_sent_total', 'PUBLISH bytes sent to subscribers', () => counters.bytesSent);
  counter('switchboard_qos0_dropped_total', 'QoS 0 messages dropped for slow subscribers', () => counters.qos0Dropped);
  counter('switchboard_queue_dropped_total', 'QoS 1/2 messages dropped from full session queues', () => counters.queueDropped);
  counter('switchboard_slow_consumer_disconnects_total', 'Connections closed for not reading what was queued for them (limits.slowConsumerBytes / slowConsumerSeconds)', () => counters.slowConsumerDisconnects);
  counter('switchboard_oversize_dropped_total', 'Messages not sent because they exceed the client Maximum Packet Size', () => counters.oversizeDropped);
  counter('switchboard_shared_dropped_total', 'Messages a shared subscription group matched but no member allowed to receive them could take', () => counters.sharedDropped);
  counter('switchboard_shared_passed_on_total', 'Shared-group messages passed on to another cluster node because no connected member here might receive them', () => counters.sharedPassedOn);
  counter('switchboard_unencodable_dropped_total', 'Messages refused because they cannot be encoded as a PUBLISH (never stored or delivered)', () => counters.unencodableDropped);
  counter('switchboard_delivery_failures_total', 'Deliveries to one subscriber that failed with an internal error', () => counters.deliveryFailures);
  counter('switchboard_expired_dropped_total', 'Messages dropped because their Message Expiry Interval passed', () => counters.expiredDropped);
  counter('switchboard_authorizer_invocations_total', 'Custom authorizer invocations', () => counters.authorizerInvocations);
  counter('switchboard_authorizer_failures_total', 'Authorizer invocations that failed or answered invalidly', () => counters.authorizerFailures);
  counter('switchboard_authorizer_refreshes_total', 'Authorizer refreshes whose new policy replaced the old on a live connection', () => counters.authorizerRefreshes);
  new Counter({
    name: 'switchboard_denials_total',
    help: 'Actions denied by policy, by action',
    labelNames: ['action'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ action: 'connect' }, counters.deniedConnect);
      this.inc({ action: 'publish' }, counters.deniedPublish);
      this.inc({ action: 'subscribe' }, counters.deniedSubscribe);
      this.inc({ action: 'receive' }, counters.deniedReceive);
    },
  });
  new Counter({
    name: 'switchboard_throttled_total',
    help: 'Requests over a throttle (limits.max*PerSecond): publishes discarded, subscriptions and connects refused, reads delayed',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ limit: 'publishes' }, counters.throttledPublishes);
      this.inc({ limit: 'inboundBytes' }, counters.throttledReads);
      this.inc({ limit: 'subscriptions' }, counters.throttledSubscriptions);
      this.inc({ limit: 'connects' }, counters.throttledConnects);
    },
  });
  counter('switchboard_qos_not_supported_total', 'QoS 2 PUBLISH or SUBSCRIBE refused because limits.maxQos is 1', () => counters.qosNotSupported);
  counter('switchboard_rule_executions_total', 'Rule executions', () => counters.ruleExecutions);
  counter('switchboard_rule_failures_total', 'Rule action failures', () => counters.ruleFailures);
  counter('switchboard_rule_queue_dropped_total', 'Messages the rules engine could not queue', () => counters.ruleQueueDropped);
  return registry;
}
