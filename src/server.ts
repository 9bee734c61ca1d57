// Composition root: config -> logger -> store -> authorization -> broker -> listeners. Stops in
// reverse. Nothing is global, so a test can run several servers in one process.
import type http from 'node:http';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './logger.js';
import { Counters } from './metrics/counters.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { HistoryRecorder } from './history/recorder.js';
import { LifecycleEvents } from './events/lifecycle-events.js';
import { RulesEngine } from './rules/engine.js';
import { registerRuleRoutes } from './api/rules.js';
import { seedAuthorizers } from './auth/authorizer-records.js';
import { CustomAuthorization } from './auth/custom-authorization.js';
import { FunctionPool } from './functions/function-pool.js';
import { configuredPaths, FunctionDirectory } from './functions/function-directory.js';
import { ResultCache } from './auth/result-cache.js';
import { registerAuthorizerRoutes } from './api/authorizers.js';
import { AuthorizerOperations } from './api/authorizer-operations.js';
import { RuleOperations } from './api/rule-operations.js';
import { registerControlPlane } from './api/control-plane/index.js';
import { createAdminSigV4Verifier } from './api/admin-sigv4.js';
import { createHttpServer, routeRegistry } from './api/http-server.js';
import { assertAccessDeclared, type RegisteredRoute } from './api/route-access.js';
import { registerConsoleRoutes } from './api/console.js';
import { registerClientScript } from './api/client-script.js';
import { AdminSessions } from './api/admin-sessions.js';
import { ConsoleCredentials } from './auth/console-credentials.js';
import { resolveClientAddress, TrustedProxies } from './auth/client-address.js';
import { MetricsHistory } from './metrics/history.js';
import { createPrometheusRegistry } from './metrics/prometheus.js';
import { registerDataPlaneRoutes } from './api/data-plane.js';
import { registerAdminConnectionRoutes } from './api/admin-connections.js';
import { createHttpAuthenticator } from './api/authenticate.js';
import { createSignedUrlVerifier, createSigV4Verifier, registerAccessKeyRoutes } from './api/access-keys.js';
import { registerCognitoIdentityRoutes } from './api/cognito-identity.js';
import { IdentityPools } from './auth/identity-pools.js';
import { sweepExpiredAccessKeysEvery } from './store/temporary-access-key.js';
import type { Authorization } from './auth/authorization.js';
import { Broker } from './broker/broker.js';
import { BrokerHooks } from './broker/hooks.js';
import type { LifecycleListener } from './broker/lifecycle.js';
// Loaded only for a cluster: it brings ioredis (about 20 MB of RSS at start) that a single node never uses.
import type { Cluster } from './cluster/cluster.js';
import { registerClusterForwarding } from './api/cluster-forward.js';
import { ConfigReloader, registerConfigReloadRoute, type ReloadOutcome } from './api/config-reload.js';
import { Client } from './mqtt/client.js';
import { ClientRegistry } from './mqtt/client-registry.js';
import { JsonClient, jsonMessageLimit } from './web/json-client.js';
import { JSON_WS_PATH } from './web/paths.js';
import { registerEventsRoute } from './api/events-route.js';
import { RC } from './protocol/reason-codes.js';
import type { Connection } from './transport/connection.js';
import { listenTcp } from './transport/tcp.js';
import { createWebSocketEndpoint } from './transport/websocket.js';
import { outboundFlow } from './transport/flow.js';
import { systemClock, type Clock } from './shared/clock.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function httpPortOf(app: { server: { address(): unknown } } | undefined): number | undefined {
  const address = app?.server.address();
  return address && typeof address === 'object' ? (address as AddressInfo).port : undefined;
}

export interface RunningServer {
  readonly broker: Broker;
  readonly clients: ClientRegistry;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Per-topic history (docs/history.md); null when no `history` rule is configured. */
  readonly history: HistoryRecorder | null;
  /** Actual ports (useful when the config asked for port 0); undefined when the listener is off. */
  readonly httpPort: number | undefined;
  readonly mqttPort: number | undefined;
  /** The HTTP routes with the access each declares (empty when the HTTP listener is off). */
  readonly httpRoutes: readonly RegisteredRoute[];
  /** Reads the configuration again and applies its authorizers, rules and limits (SIGHUP). */
  reloadConfig(): ReloadOutcome;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  authorization?: Authorization;
  /** Directory that relative paths in the config (authorizer handlers, keys) are resolved against. */
  baseDir?: string;
  /** Called after the server stopped itself because it can no longer keep its promises (store failure). */
  onFatal?: (error: Error) => void;
  /** Time for keep-alive, session and message expiry, will delays, authorizer TTLs, slow consumers, sign-in throttle, events and rules; tests pass a ManualClock. */
  clock?: Clock;
  /** Reads the configuration again for a reload (the CLI: the same file, environment and flags). */
  loadConfig?: () => Config;
  /**
   * Called after POST /api/config/reload applied the file here. A member of `--workers` passes it
   * on to its siblings: they read the same file, and the API request reached only one of them.
   */
  onApiReload?: () => void;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const baseDir = options.baseDir ?? process.cwd();
  const counters = new Counters();
  const clock = options.clock ?? systemClock;
  // A cluster keeps its shared state in the Redis it routes through.
  const storeConfig = config.cluster
    ? {
        type: 'redis' as const,
        url: config.cluster.redis.url,
        sentinel: config.cluster.redis.sentinel,
        waitForReplicas: config.cluster.redis.waitForReplicas,
        waitTimeoutMs: config.cluster.redis.waitTimeoutMs,
        keyPrefix: config.cluster.redis.keyPrefix,
        sealingKey: config.store.sealingKey,
      }
    : config.store;
  const store = await openStore(storeConfig, logger, { maxRetainedMessages: config.limits.maxRetainedMessages });
  const retained = store.retained;
  // A failed commit means acknowledgements can no longer be honoured: stop rather than lie.
  store.onError = (error) => {
    logger.fatal({ err: error }, 'the store failed to commit; stopping');
    void stop().then(() => options.onFatal?.(error));
  };
  const authorizers = store.authorizers;
  seedAuthorizers(authorizers, config.auth, baseDir);
  const functions = new FunctionDirectory(config.functions.dir, baseDir);
  const pool = new FunctionPool({ size: config.auth.functionWorkers, functions, allowedPaths: configuredPaths(config, baseDir) });
  // The console's MQTT test client connects with a one-time credential from the admin API.
  const consoleCredentials = new ConsoleCredentials(store.sealingKey, { clock });
  // Cognito identity pools (unauthenticated role): credentials signed, not stored.
  const identityPools = new IdentityPools(config.auth, store.sealingKey, () => clock.now());
  const custom = new CustomAuthorization({
    config: config.auth,
    authorizers,
    pool,
    cache: config.auth.resultCacheSize > 0 ? new ResultCache({ maxEntries: config.auth.resultCacheSize, clock }) : null,
    logger,
    counters,
    consoleCredentials,
    // SigV4-presigned WebSocket URLs are checked against the same access keys as the HTTP API.
    verifySignedUrl: createSignedUrlVerifier(store.accessKeys, store.sealingKey, identityPools, () => clock.now()),
    clock,
  });
  const authorization = options.authorization ?? custom;
  // Per-topic history (docs/history.md): none, and no cost per publish, without `history` rules.
  const topicHistory =
    config.history.length === 0
      ? null
      : new HistoryRecorder({
          store: store.openHistory({ maxMessages: config.limits.maxHistoryMessages, maxBytes: config.limits.maxHistoryBytes }),
          rules: config.history,
          clock,
          logger,
        });
  if (topicHistory !== null && !topicHistory.store.durable) logger.warn('history is kept in memory (store.type memory): it is lost at restart, and clients resuming from before are told to reset');
  topicHistory?.start();
  // Lifecycle events, Basic Ingest and the cluster need the broker: each is bound once it exists.
  const hooks = new BrokerHooks();
  const broker = new Broker({
    limits: config.limits,
    retained,
    counters,
    logger,
    authorization,
    sessionStore: store.capabilities.durable ? store.sessions : null,
    // Nothing to wait for in memory: acknowledge at once, in order with everything else.
    afterCommit: store.capabilities.durable ? (callback) => store.afterCommit(callback) : (callback) => callback(),
    hooks,
    clock,
    topics: config.topics,
    history: topicHistory,
  });
  const events = new LifecycleEvents(broker, config.events, clock);
  let cluster: Cluster | null = null;
  if (config.cluster) {
    counters.clusterConnected = 0;
    const { Cluster } = await import('./cluster/cluster.js');
    cluster = new Cluster({
      redis: { url: config.cluster.redis.url, sentinel: config.cluster.redis.sentinel },
      // As the store's commits: 1 with Sentinel unless configured (docs/cluster.md).
      waitForReplicas: config.cluster.redis.waitForReplicas ?? (config.cluster.redis.sentinel !== undefined ? 1 : 0),
      waitTimeoutMs: config.cluster.redis.waitTimeoutMs,
      keyPrefix: config.cluster.redis.keyPrefix,
      nodeId: config.cluster.nodeId,
      nodeTimeoutMs: config.cluster.nodeTimeoutSeconds * 1000,
      outboxLimit: config.cluster.outboxLimit,
      outboxBytes: config.cluster.outboxBytes,
      routing: config.cluster.routing,
      broker,
      store,
      counters,
      logger,
    });
    cluster.events = events;
  }
  hooks.bindLifecycle(cluster === null ? events : teeLifecycle(events, cluster.presence));
  const rules = new RulesEngine({ broker, store: store.rules, pool, counters, logger, accountId: config.auth.accountId, queueLimit: config.rulesQueueLimit, clock });
  try {
    rules.load();
    for (const definition of config.rules) rules.put(definition, { replace: true });
  } catch (err) {
    await pool.close();
    await closeStore(store);
    throw err;
  }
  broker.onPublish(rules.onPublish);
  const reloader = options.loadConfig ? new ConfigReloader({ load: options.loadConfig, running: config, limits: broker.limits, authorizers, baseDir, rules, logger }) : null;
  if (store.onChange !== undefined) {
    // Rules created, changed or deleted on another node take effect here too.
    store.onChange((kind, key, origin) => {
      if (kind === 'rule' && origin === 'remote') rules.reload(key);
    });
  }
  hooks.bindBasicIngest((message) => {
    if (!rules.ingest(message)) logger.debug({ topic: message.topic }, 'basic ingest for an unknown rule; dropped');
  });
  // In a store shared across nodes, sessions belong to the node their client is on; a node that
  // starts adopts only those of dead nodes (cluster/reaper.ts).
  if (store.capabilities.durable && !store.capabilities.sharedAcrossNodes) {
    const restored = broker.restoreSessions(await store.sessions.loadSessions(), clock.now());
    logger.info({ sessions: restored, retained: retained.size }, 'restored persistent sessions and retained messages');
  }
  if (cluster !== null) {
    try {
      await cluster.start();
      hooks.joinCluster(cluster);
    } catch (err) {
      await pool.close();
      await closeStore(store);
      throw err;
    }
  }
  const clients = new ClientRegistry(config.limits.connectTimeoutMs, clock);
  const sessions = new AdminSessions(clock);
  const history = new MetricsHistory(counters, () => clients.connected);
  history.start();
  // Expired temporary access keys are refused at once, and deleted here once a minute.
  const keySweep = sweepExpiredAccessKeysEvery(store.accessKeys, 60_000, clock);

  const accept = (connection: Connection) => {
    // Far above the limit, refuse before spending anything on parsing (CONNECT refusal happens
    // with a proper CONNACK below this bound).
    if (clients.size >= config.limits.maxConnections * 2 + 100) {
      connection.destroy();
      return;
    }
    const client = new Client(connection, broker, clients, logger);
    clients.add(client);
  };

  let app: ReturnType<typeof createHttpServer> | undefined;
  let wsEndpoint: ReturnType<typeof createWebSocketEndpoint> | undefined;
  let mqttServer: net.Server | undefined;
  const http_ = config.listeners.http;
  const mqtt_ = config.listeners.mqtt;
  try {
    if (http_ !== false) {
      app = createHttpServer({ listener: http_, logger, admin: config.admin, sessions, verifySignedAdmin: createAdminSigV4Verifier(store.accessKeys, store.sealingKey) });
      if (cluster !== null) registerClusterForwarding(app, broker, cluster);
      registerClientScript(app);
      registerConsoleRoutes(app, {
        admin: config.admin,
        sessions,
        consoleCredentials,
        clock,
        secure: !!http_.tls,
        counters,
        history,
        prometheus: createPrometheusRegistry(counters, {
          connected: () => clients.connected,
          connectedByProtocol: () => clients.connectedByProtocol(),
          sessions: () => broker.sessions.size,
          retained: () => retained.size,
          subscriptions: () => broker.subscriptionCount,
          storeBacklog: () => store.backlog ?? 0,
        }),
        connected: () => clients.connected,
        connectedByProtocol: () => clients.connectedByProtocol(),
        scope: custom.scope,
        overview: () => ({
          version: VERSION,
          anonymous: custom.anonymousMode,
          authorizers: authorizers.list().map((a: { name: string }) => a.name),
          defaultAuthorizer: authorizers.getDefault() ?? null,
          listeners: {
            http: http_ ? { host: http_.host, port: httpPortOf(app), tls: !!http_.tls } : false,
            mqtt: mqtt_ ? { host: mqtt_.host, port: mqttServer ? (mqttServer.address() as AddressInfo).port : mqtt_.port, tls: !!mqtt_.tls } : false,
          },
          store: store.kind,
        }),
      });
      const authorizerOperations = new AuthorizerOperations({
        store: authorizers,
        scope: custom.scope,
        pool,
        baseDir,
        functions,
        testingMinimumTtlSeconds: config.auth.testingMinimumTtlSeconds,
      });
      const ruleOperations = new RuleOperations(rules, functions);
      registerAuthorizerRoutes(app, authorizerOperations);
      registerAdminConnectionRoutes(app, broker, clients, cluster);
      registerAccessKeyRoutes(app, store.accessKeys, store.sealingKey, () => clock.now());
      registerCognitoIdentityRoutes(app, { pools: identityPools, logger, allowedOrigins: http_.allowedOrigins, clock });
      registerRuleRoutes(app, ruleOperations);
      registerControlPlane(app, { authorizers: authorizerOperations, rules: ruleOperations, functions, scope: custom.scope });
      registerConfigReloadRoute(app, reloader, options.onApiReload);
      const sseTrusted = new TrustedProxies(http_.trustedProxies ?? []);
      registerEventsRoute(app, {
        broker,
        history: topicHistory?.store ?? null,
        clients,
        logger,
        flow: outboundFlow(config.limits, clock),
        secure: !!http_.tls,
        allowedOrigins: http_.allowedOrigins,
        clientOrigin: (peer, req) => resolveClientAddress(peer, req.headers, sseTrusted, http_.clientAddressHeader),
        hardConnectionLimit: config.limits.maxConnections * 2 + 100,
      });
      registerDataPlaneRoutes(app, {
        broker,
        scope: custom.scope,
        authenticate: createHttpAuthenticator(custom, createSigV4Verifier(store.accessKeys, store.sealingKey, identityPools, () => clock.now()), config.admin.token),
        secure: !!http_.tls,
        clock,
        history: topicHistory,
      });
      await app.ready();
      assertAccessDeclared(routeRegistry(app));
      const trusted = new TrustedProxies(http_.trustedProxies ?? []);
      const endpoint = (wsEndpoint = createWebSocketEndpoint(
        {
          secure: !!http_.tls,
          maxPacketBytes: config.limits.maxPacketBytes,
          allowedOrigins: http_.allowedOrigins,
          flow: outboundFlow(config.limits, clock),
          clientOrigin: (peer, req) => resolveClientAddress(peer, req.headers, trusted, http_.clientAddressHeader),
          // JSON over WebSocket (src/web/): same listener, TLS, Origin rule and authorizers as /mqtt.
          json: {
            path: JSON_WS_PATH,
            maxMessageBytes: jsonMessageLimit(config.limits),
            accept: (connection) => {
              if (clients.size >= config.limits.maxConnections * 2 + 100) return connection.destroy();
              const client = new JsonClient(connection, broker, clients, logger, topicHistory?.store ?? null);
              clients.add(client);
              client.begin();
            },
          },
        },
        accept,
      ));
      app.server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head));
      app.server.on('clientError', (_err, socket) => socket.destroy());
      // Fastify names the scheme from its own `https` option, which the serverFactory bypasses.
      const tlsText = http_.tls ? (address: string) => `Server listening at ${address.replace(/^http:/, 'https:')}` : undefined;
      await app.listen({ port: http_.port, host: http_.host, ...(tlsText ? { listenTextResolver: tlsText } : {}) });
    }
    if (mqtt_ !== false) {
      const proxyProtocol = mqtt_.proxyProtocol ? new TrustedProxies(mqtt_.proxyProtocol.trustedProxies) : undefined;
      mqttServer = await listenTcp(
        { ...mqtt_, proxyProtocol: proxyProtocol && { trusted: (a) => proxyProtocol.contains(a), timeoutMs: config.limits.connectTimeoutMs } },
        accept,
        outboundFlow(config.limits, clock),
      );
    }
  } catch (err) {
    await app?.close();
    await pool.close();
    await closeStore(store);
    throw err;
  }

  const httpPort = app ? (app.server.address() as AddressInfo).port : undefined;
  const mqttPort = mqttServer ? (mqttServer.address() as AddressInfo).port : undefined;

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: closing listeners and disconnecting clients');
      const closed: Promise<unknown>[] = [];
      if (mqttServer) closed.push(new Promise<void>((r) => mqttServer!.close(() => r())));
      wsEndpoint?.close();
      // Each front-end says why where its protocol can; wills are published as for any server-side close.
      for (const client of [...clients.all()]) client.shutdown();
      clients.stop();
      history.stop();
      topicHistory?.stop();
      keySweep.cancel();
      if (app) {
        (app.server as http.Server).closeAllConnections?.();
        closed.push(app.close());
      }
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3000).unref())]);
      if (cluster !== null) {
        // The node that adopts this one's sessions reads them from Redis: commit first.
        await Promise.race([new Promise<void>((r) => store.afterCommit(r)), new Promise((r) => setTimeout(r, 3000).unref())]);
        hooks.leaveCluster();
        await cluster.stop();
      }
      await pool.close();
      await closeStore(store);
      logger.info('stopped');
    })());

  logger.info(
    {
      httpPort,
      mqttPort,
      websocket: httpPort !== undefined ? `${http_ && http_.tls ? 'wss' : 'ws'}://${http_ ? http_.host : ''}:${httpPort}/mqtt` : undefined,
      store: store.kind === 'sqlite' ? `sqlite (${config.store.path})` : store.kind,
      ...(cluster !== null ? { node: cluster.nodeId, clusterNodes: cluster.liveNodes().length } : {}),
      authorizers: authorizers.list().map((a: { name: string }) => a.name),
      defaultAuthorizer: authorizers.getDefault(),
      anonymous: custom.anonymousMode,
    },
    'switchboard ready',
  );
  if (custom.anonymousMode === 'loopback') {
    logger.info('anonymous clients (no authorizer, no unauthenticated policy) are accepted from loopback addresses only');
  } else if (custom.anonymousMode === 'everyone') {
    logger.warn('anonymous clients are accepted from every address with every right (auth.anonymous: everyone)');
  }
  const httpRoutes = app ? routeRegistry(app).list() : [];
  const reloadConfig = (): ReloadOutcome => reloader?.reload() ?? { ok: false, error: 'this server was started without a configuration to reload' };
  return { broker, clients, counters, logger, history: topicHistory, httpPort, mqttPort, httpRoutes, reloadConfig, stop };
}

/** Closes the store once what it holds is committed (bounded by the store). */
async function closeStore(store: Store): Promise<void> {
  if (store.closeAsync !== undefined) await store.closeAsync();
  else store.close();
}

/** Lifecycle events go to the AWS event publisher and to the cluster's presence records. */
function teeLifecycle(a: LifecycleListener, b: LifecycleListener): LifecycleListener {
  return {
    connected: (info) => (a.connected(info), b.connected(info)),
    disconnected: (info, reason, clientInitiated) => (a.disconnected(info, reason, clientInitiated), b.disconnected(info, reason, clientInitiated)),
    connectFailed: (clientId, principal, ip, reason) => (a.connectFailed(clientId, principal, ip, reason), b.connectFailed(clientId, principal, ip, reason)),
    subscribed: (info, topics) => (a.subscribed(info, topics), b.subscribed(info, topics)),
    unsubscribed: (info, topics) => (a.unsubscribed(info, topics), b.unsubscribed(info, topics)),
  };
}
