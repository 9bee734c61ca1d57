// MQTT.js clients for integration tests: connect and await CONNACK, record everything the
// client receives from the moment it is created (so messages that arrive in the same read as
// the CONNACK are not lost), and close every client in `afterEach(closeAllClients)`.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import type { TestServer } from './server.js';

/** Where MQTT clients connect: a TestServer, or an in-process server's endpoints (in-process.ts). */
export type MqttEndpoints = Pick<TestServer, 'wsUrl' | 'mqttUrl'>;

export type Transport = 'tcp' | 'ws';
export type ProtocolVersion = 4 | 5;

/** The four transport x protocol combinations, for loops over "where it matters". */
export const COMBOS: ReadonlyArray<{ transport: Transport; version: ProtocolVersion; name: string }> = [
  { transport: 'tcp', version: 4, name: 'mqtt:// v3.1.1' },
  { transport: 'tcp', version: 5, name: 'mqtt:// v5' },
  { transport: 'ws', version: 4, name: 'ws:// v3.1.1' },
  { transport: 'ws', version: 5, name: 'ws:// v5' },
];

export function urlFor(server: MqttEndpoints, transport: Transport): string {
  return transport === 'ws' ? server.wsUrl : server.mqttUrl;
}

let counter = 0;
/** A name unique within this run: client ids and topic roots, so tests sharing a server never cross. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Polls `cond` every 20 ms until it is true; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Races `p` against a timer. */
export function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface Received {
  topic: string;
  payload: Buffer;
  text: string;
  packet: IPublishPacket;
  at: number;
}

/** Everything a client received: messages, server DISCONNECTs, errors, close. */
export class Inbox {
  readonly messages: Received[] = [];
  readonly disconnects: IDisconnectPacket[] = [];
  readonly errors: Error[] = [];
  closed = false;
  closedAt = 0;

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, text: payload.toString(), packet, at: Date.now() });
    });
    client.on('disconnect', (packet) => this.disconnects.push(packet));
    client.on('error', (err) => this.errors.push(err));
    client.on('close', () => {
      if (!this.closed) {
        this.closed = true;
        this.closedAt = Date.now();
      }
    });
  }

  texts(filter?: (m: Received) => boolean): string[] {
    return (filter ? this.messages.filter(filter) : this.messages).map((m) => m.text);
  }

  /** Waits until at least `n` messages (matching `filter`) have arrived; returns them. */
  async waitFor(n: number, timeoutMs = 3_000, filter?: (m: Received) => boolean): Promise<Received[]> {
    const matching = () => (filter ? this.messages.filter(filter) : this.messages);
    try {
      await waitUntil(() => matching().length >= n, timeoutMs, `${n} message(s)`);
    } catch {
      throw new Error(
        `expected ${n} message(s) within ${timeoutMs} ms, got ${matching().length}: ` +
          JSON.stringify(matching().slice(0, 20).map((m) => `${m.topic}:${m.text.slice(0, 40)}`)),
      );
    }
    return matching();
  }

  async waitForDisconnect(timeoutMs = 3_000): Promise<IDisconnectPacket> {
    await waitUntil(() => this.disconnects.length > 0, timeoutMs, 'a DISCONNECT from the server');
    return this.disconnects[0]!;
  }

  async waitForClose(timeoutMs = 3_000): Promise<void> {
    await waitUntil(() => this.closed, timeoutMs, 'the connection to close');
  }
}

export interface Connected {
  client: MqttClient;
  inbox: Inbox;
  connack: IConnackPacket;
}

const openClients = new Set<MqttClient>();

export interface ConnectOptions extends IClientOptions {
  transport?: Transport;
  /** Overrides the server's URL for `transport`, e.g. a /mqtt URL with a query string. */
  url?: string;
}

/** Registers a client made outside `connectClient` so `closeAllClients` ends it too. */
export function trackClient(client: MqttClient): void {
  openClients.add(client);
  client.on('end', () => openClients.delete(client));
}

/**
 * Connects an MQTT.js client (no automatic reconnect) and resolves once CONNACK arrived.
 * Rejects if the connection fails or is refused, or after `connectTimeout` (default 5 s).
 */
export async function connectClient(server: MqttEndpoints, opts: ConnectOptions = {}): Promise<Connected> {
  const { transport = 'tcp', url, ...rest } = opts;
  const options: IClientOptions = {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    keepalive: 30,
    clientId: uid('c'),
    ...rest,
  };
  const client = mqtt.connect(url ?? urlFor(server, transport), options);
  openClients.add(client);
  client.on('end', () => openClients.delete(client));
  const inbox = new Inbox(client);
  const connack = await new Promise<IConnackPacket>((res, rej) => {
    const timer = setTimeout(() => fail(new Error('no CONNACK within 6 s')), 6_000);
    const onConnect = (p: IConnackPacket) => {
      cleanup();
      res(p);
    };
    const fail = (err: Error) => {
      cleanup();
      client.end(true);
      rej(err);
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => fail(new Error('connection closed before CONNACK'));
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
  return { client, inbox, connack };
}

/** Connects a subscriber, subscribes to `topics` and returns once SUBACK arrived. */
export async function subscriber(
  server: MqttEndpoints,
  topics: string | string[],
  qos: 0 | 1 | 2,
  opts: ConnectOptions = {},
): Promise<Connected> {
  const c = await connectClient(server, opts);
  const granted = await c.client.subscribeAsync(topics, { qos });
  for (const g of granted) {
    if (g.qos > 2) throw new Error(`subscription to ${g.topic} refused: ${g.qos}`);
  }
  return c;
}

/** Graceful DISCONNECT (optionally with v5 reason code / properties), bounded. */
export async function disconnect(client: MqttClient, packet?: Partial<IDisconnectPacket>): Promise<void> {
  await withTimeout(
    new Promise<void>((res) => client.end(false, packet ?? {}, () => res())),
    3_000,
    'client.end',
  );
}

export async function closeAllClients(): Promise<void> {
  const all = [...openClients];
  openClients.clear();
  await Promise.all(
    all.map((c) =>
      withTimeout(
        new Promise<void>((res) => c.end(true, {}, () => res())),
        2_000,
        'force end',
      ).catch(() => undefined),
    ),
  );
}

/** Publishes `count` messages `${prefix}${i}` in order, awaiting each acknowledgement for QoS > 0. */
export async function publishMany(
  client: MqttClient,
  topic: string,
  count: number,
  qos: 0 | 1 | 2,
  prefix = 'm',
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await client.publishAsync(topic, `${prefix}${i}`, { qos });
  }
}

/**
 * The server still runs and still routes: a fresh v5 TCP subscriber receives a QoS 1
 * message from a fresh publisher.
 */
export async function assertServes(server: TestServer): Promise<void> {
  if (!server.isAlive()) throw new Error(`server process exited; stderr:\n${server.stderr()}`);
  const topic = uid('health');
  const sub = await subscriber(server, topic, 1);
  const pub = await connectClient(server, { protocolVersion: 4, transport: 'ws' });
  await pub.client.publishAsync(topic, 'ping', { qos: 1 });
  await sub.inbox.waitFor(1, 3_000);
  await disconnect(sub.client);
  await disconnect(pub.client);
}
