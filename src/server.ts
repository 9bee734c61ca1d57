// Composition root: config -> logger -> store -> authorization -> broker -> listeners. Stops in
// reverse. Nothing is global, so a test can run several servers in one process.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './logger.js';
import { Counters } from './metrics/counters.js';
import { MemoryRetainedStore } from './store/retained-memory.js';
import { anonymousAuthorization } from './auth/anonymous.js';
import type { Authorization } from './broker/authorization.js';
import { Broker } from './broker/broker.js';
import { Client } from './broker/client.js';
import { ClientRegistry } from './broker/client-registry.js';
import { RC } from './protocol/reason-codes.js';
import type { Connection } from './transport/connection.js';
import { listenTcp } from './transport/tcp.js';
import { createWebSocketEndpoint } from './transport/websocket.js';

export interface RunningServer {
  readonly broker: Broker;
  readonly clients: ClientRegistry;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Actual ports (useful when the config asked for port 0); undefined when the listener is off. */
  readonly httpPort: number | undefined;
  readonly mqttPort: number | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  authorization?: Authorization;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.log.level);
  const counters = new Counters();
  if (config.store.type !== 'memory') {
    logger.warn({ store: config.store.type }, 'only the memory store is available in this version; using memory');
  }
  const retained = new MemoryRetainedStore();
  const authorization = options.authorization ?? anonymousAuthorization(config.auth.anonymous);
  const broker = new Broker({ limits: config.limits, retained, counters, logger, authorization });
  const clients = new ClientRegistry(config.limits.connectTimeoutMs);

  const accept = (connection: Connection) => {
    // Far above the limit, refuse before spending anything on parsing (CONNECT refusal happens
    // with a proper CONNACK below this bound).
    if (clients.size >= config.limits.maxConnections * 2 + 100) {
      connection.destroy();
      return;
    }
    const client = new Client(connection, broker, clients, logger.child({ remoteAddress: connection.remoteAddress }));
    clients.add(client);
  };

  let httpServer: http.Server | https.Server | undefined;
  let wsEndpoint: ReturnType<typeof createWebSocketEndpoint> | undefined;
  const http_ = config.listeners.http;
  if (http_ !== false) {
    const handler: http.RequestListener = (req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }));
    };
    httpServer = http_.tls
      ? https.createServer({ cert: readFileSync(http_.tls.cert), key: readFileSync(http_.tls.key) }, handler)
      : http.createServer(handler);
    wsEndpoint = createWebSocketEndpoint({ secure: !!http_.tls, maxPacketBytes: config.limits.maxPacketBytes }, accept);
    const endpoint = wsEndpoint;
    httpServer.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head));
    httpServer.on('clientError', (_err, socket) => socket.destroy());
    const server = httpServer;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(http_.port, http_.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  let mqttServer: net.Server | undefined;
  const mqtt_ = config.listeners.mqtt;
  if (mqtt_ !== false) {
    try {
      mqttServer = await listenTcp(mqtt_, accept);
    } catch (err) {
      httpServer?.close();
      throw err;
    }
  }

  const httpPort = httpServer ? (httpServer.address() as AddressInfo).port : undefined;
  const mqttPort = mqttServer ? (mqttServer.address() as AddressInfo).port : undefined;

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: closing listeners and disconnecting clients');
      const closed: Promise<void>[] = [];
      if (mqttServer) closed.push(new Promise((r) => mqttServer!.close(() => r())));
      if (httpServer) {
        closed.push(new Promise((r) => httpServer!.close(() => r())));
      }
      wsEndpoint?.close();
      // v5 clients are told why [MQTT-4.13]; wills are published as for any server-side close.
      for (const client of [...clients.all()]) {
        if (client.state === 'connected') client.disconnect(RC.serverShuttingDown, 'server shutting down', 'server-shutdown');
        else client.finish('server-shutdown', true);
      }
      clients.stop();
      (httpServer as http.Server | undefined)?.closeAllConnections?.();
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3000).unref())]);
      logger.info('stopped');
    })());

  logger.info(
    {
      httpPort,
      mqttPort,
      websocket: httpPort !== undefined ? `${http_ && http_.tls ? 'wss' : 'ws'}://${http_ ? http_.host : ''}:${httpPort}/mqtt` : undefined,
      store: 'memory',
      anonymous: config.auth.anonymous,
    },
    'switchboard ready',
  );
  if (config.auth.anonymous === 'loopback') {
    logger.info('anonymous clients are accepted from loopback addresses only (auth.anonymous: loopback)');
  }
  return { broker, clients, counters, logger, httpPort, mqttPort, stop };
}
