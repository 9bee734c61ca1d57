// Counters and gauges shared by logs, /metrics and the console. Plain fields: the publish path
// increments them without a function call or a label look-up.
import { Histogram } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';

export class Counters {
  /** Time broker.publish takes to route a message and write it to every subscriber, seconds. */
  readonly publishToDeliver = new BucketHistogram({
    name: 'switchboard_publish_to_deliver_seconds',
    help: 'Time from a message entering broker.publish to its PUBLISH written to every connected subscriber',
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  });
  /** Custom authorizer invocations, seconds (function or HTTP, validation included). */
  readonly authorizerDuration = new Histogram({
    name: 'switchboard_authorizer_duration_seconds',
    help: 'Custom authorizer invocation time, including validation of the answer',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [],
  });

  connectionsAccepted = 0;
  connectionsRefused = 0;
  connectionsClosed = 0;
  /** Refused CONNECTs by reason code name (bounded: reason codes are a fixed set). */
  readonly connectFailures = new Map<string, number>();
  protocolErrors = 0;
  messagesReceived = 0;
  messagesPublished = 0;
  messagesDelivered = 0;
  /** The share of messagesReceived / messagesDelivered of the browser front-ends (MQTT has the rest). */
  jsonMessagesReceived = 0;
  jsonMessagesDelivered = 0;
  sseMessagesDelivered = 0;
  bytesReceived = 0;
  bytesSent = 0;
  /** QoS 0 messages dropped because a subscriber's outbound buffer was full. */
  qos0Dropped = 0;
  /** QoS 1/2 messages dropped because a session queue was full (oldest first). */
  queueDropped = 0;
  /** Connections closed because they did not read what was queued for them (transport/flow.ts). */
  slowConsumerDisconnects = 0;
  /** Messages not sent because they exceed the client's Maximum Packet Size [MQTT-3.1.2-25]. */
  oversizeDropped = 0;
  /** Messages refused by broker.publish because they cannot be encoded as a PUBLISH (never stored). */
  unencodableDropped = 0;
  /** Deliveries to one subscriber that failed (an internal error, logged); the others went on. */
  deliveryFailures = 0;
  expiredDropped = 0;
  /** Messages a shared group matched but no member could take: none connected and allowed to receive the topic, nor (QoS 1/2) a permitted persistent one. */
  sharedDropped = 0;
  /** Shared-group messages a cluster node passed on to the next candidate node: none of its connected members might receive them. */
  sharedPassedOn = 0;
  authorizerInvocations = 0;
  authorizerFailures = 0;
  /** Authorizer refreshes (refreshAfterInSeconds) whose new policy replaced the old on a live connection. */
  authorizerRefreshes = 0;
  deniedConnect = 0;
  deniedPublish = 0;
  deniedSubscribe = 0;
  deniedReceive = 0;
  /** Throttles (limits.max*PerSecond): PUBLISHes discarded, SUBSCRIBE filters and CONNECTs refused, reads delayed. */
  throttledPublishes = 0;
  throttledSubscriptions = 0;
  throttledConnects = 0;
  throttledReads = 0;
  /** QoS 2 PUBLISH or SUBSCRIBE refused under limits.maxQos 1. */
  qosNotSupported = 0;
  ruleExecutions = 0;
  ruleFailures = 0;
  /** Messages the rules engine could not queue (its queue was full). */
  ruleQueueDropped = 0;
  /** Cluster: messages received from other nodes. */
  messagesFromCluster = 0;
  /** Cluster: message frames sent to other nodes (one per target node). */
  clusterFramesSent = 0;
  /** Cluster: QoS 0 frames not sent because Redis was unreachable. */
  clusterFramesDropped = 0;
  /** Cluster: QoS 1/2 frames sent again (lost on the way, or not yet acknowledged). */
  clusterFramesResent = 0;
  /** Cluster: QoS 1/2 frames given up (a node far behind, or dead). */
  clusterFramesLost = 0;
  /** Cluster: times the Redis backplane was lost (a restart, a network cut, a failover). */
  clusterRedisOutages = 0;
  /** Cluster: milliseconds spent without the Redis backplane, summed over completed outages. */
  clusterRedisOutageMs = 0;
  /** Cluster: outages that ended on another Redis master than before (Sentinel failovers). */
  clusterRedisFailovers = 0;
  /** Cluster: QoS 1/2 frames given up because the outbox to one node exceeded cluster.outboxBytes. */
  clusterOutboxBytesDropped = 0;
  /** Cluster: QoS 1/2 frames a dead node had not acknowledged, sent on to the node adopting its sessions. */
  clusterFramesAdopted = 0;
  /** Cluster: CONNECTs whose claim of the client ID lost a race with another node's (they took it over after). */
  clusterClaimRaces = 0;
  /** Publishes refused instead of acknowledged because a copy for another node was given up. */
  publishesRefusedUndelivered = 0;
  /** Cluster: 1 while the Redis backplane is reachable, 0 during an outage; null on a single node. */
  clusterConnected: number | null = null;

  connectFailed(reason: string): void {
    this.connectionsRefused++;
    this.connectFailures.set(reason, (this.connectFailures.get(reason) ?? 0) + 1);
  }
}
