// The MQTT test client's state, apart from its view: one MQTT.js connection over WebSocket to
// this server's /mqtt, the subscriptions made through it, the messages received (bounded), and
// an activity log of what the server answered (CONNACK, SUBACK, PUBACK, DISCONNECT with their
// reason codes and reason strings). It outlives page changes, as AWS's test client does, so
// messages keep arriving while the user looks at the Monitor.
//
// Longer than our usual file: connection, subscriptions, the bounded message list and the activity
// log are one state machine driven by MQTT.js events, and the view reads all of it together.
//
// Under heavy traffic (1,000 messages a second and more) nothing is announced per message: the
// messages are kept in a bounded list and 'messages' is emitted at most MESSAGE_FLUSH_MS apart,
// so the view redraws a few times a second whatever the rate.
//
// MQTT.js is most of the console's weight, so it is imported when the first connect happens:
// pages other than the test client load without it.
import type { IClientOptions, IClientPublishOptions, IClientSubscribeOptions, MqttClient, Packet } from 'mqtt';
import { Signal } from '../signal.js';
import { reasonName } from './reason-codes.js';
import { matches } from './topic-match.js';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected';
export type ProtocolVersion = 4 | 5;
export type QoS = 0 | 1 | 2;

export interface ConnectSettings {
  /** 'console': as the console user, with a one-time credential from the admin API. */
  identity: 'console' | 'authorizer';
  authorizerName: string;
  tokenKeyName: string;
  token: string;
  tokenSignature: string;
  username: string;
  password: string;
  clientId: string;
  protocolVersion: ProtocolVersion;
  keepalive: number;
  clean: boolean;
}

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

export interface Subscription {
  id: number;
  filter: string;
  options: SubscriptionOptions;
  /** inactive: kept while disconnected, subscribed again on the next connect. */
  state: 'pending' | 'active' | 'refused' | 'inactive';
  grantedQos?: number;
  /** The refusal, e.g. "0x87 Not authorized", and the server's reason string (v5). */
  refusal?: string;
  reasonString?: string;
  count: number;
  color: string;
}

export interface MessageProperties {
  contentType?: string;
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: string;
  userProperties?: Record<string, string | string[]>;
}

export interface ReceivedMessage {
  seq: number;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  properties: MessageProperties;
  receivedAt: number;
  subscriptionIds: number[];
  /** The payload as UTF-8 text (null: not UTF-8), decoded once on first use (messageText). */
  text?: string | null;
}

/** A refused connect, as the connection card shows it. */
export interface Refusal {
  /** e.g. "CONNACK 0x86 Bad user name or password". */
  text: string;
  code: number;
  reasonString?: string;
  /** What the code usually means with this server (authorizers and policies). */
  hint?: string;
}

export interface ActivityEntry {
  seq: number;
  at: number;
  level: 'info' | 'ok' | 'error';
  text: string;
}

export interface PublishInput {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  contentType: string;
  userProperties: { key: string; value: string }[];
}

export interface PublishOutcome {
  ok: boolean;
  /** False for QoS 0 (no acknowledgement exists) and for refusals made before sending. */
  acknowledged: boolean;
  text: string;
}

export type Change = 'connection' | 'subscriptions' | 'messages' | 'activity';

/** The most messages kept (and exported); older ones are let go. Stated on the page. */
export const MESSAGE_CAP = 5000;
/** At most this often the view hears about new messages. */
export const MESSAGE_FLUSH_MS = 250;
const MAX_ACTIVITY = 200;
const COLORS = ['#3b82f6', '#14b8a6', '#8b5cf6', '#f59e0b', '#ec4899', '#22c55e', '#06b6d4', '#f97316'];

/** Reason codes in a CONNACK/SUBACK/PUBACK/DISCONNECT, as MQTT.js parses them. */
interface AckLike {
  cmd?: string;
  reasonCode?: number;
  returnCode?: number;
  granted?: (number | { qos: number })[];
  properties?: { reasonString?: string };
}

function randomId(): string {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return `console-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export function defaultSettings(): ConnectSettings {
  return {
    identity: 'console',
    authorizerName: '',
    tokenKeyName: '',
    token: '',
    tokenSignature: '',
    username: '',
    password: '',
    clientId: randomId(),
    protocolVersion: 5,
    keepalive: 60,
    clean: true,
  };
}

/**
 * The WebSocket URL for these settings: /mqtt on this origin, with the authorizer's name, the
 * token under its key name and the signature as AWS's query parameters when going through an
 * authorizer. `mask` hides the token and signature for display.
 */
export function websocketUrl(settings: ConnectSettings, origin: Location = location, mask = false, credential?: ConsoleCredential): string {
  const scheme = origin.protocol === 'https:' ? 'wss' : 'ws';
  const base = `${scheme}://${origin.host}/mqtt`;
  if (settings.identity === 'console') {
    // The server admits the console's client only with a credential it issued for this connect.
    if (credential === undefined) return mask ? `${base}?x-switchboard-console-credential=…` : base;
    return `${base}?${new URLSearchParams({ [credential.parameter]: mask ? '…' : credential.credential }).toString()}`;
  }
  if (!settings.authorizerName) return base;
  const q = new URLSearchParams();
  q.set('x-amz-customauthorizer-name', settings.authorizerName);
  if (settings.tokenSignature) q.set('x-amz-customauthorizer-signature', mask ? '…' : settings.tokenSignature);
  if (settings.tokenKeyName && settings.token) q.set(settings.tokenKeyName, mask ? '…' : settings.token);
  return `${base}?${q.toString()}`;
}

function toBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The payload as text when it is valid UTF-8, else undefined. */
export function payloadText(payload: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return undefined;
  }
}

/** The payload's text, decoded once and remembered on the message. */
export function messageText(m: ReceivedMessage): string | undefined {
  if (m.text === undefined) m.text = payloadText(m.payload) ?? null;
  return m.text ?? undefined;
}

/**
 * Why a topic name cannot be published to, or undefined when it can: MQTT forbids the wildcards
 * '+' and '#' in a PUBLISH topic [MQTT-3.3.2-2] and an empty one [MQTT-4.7.3-1]; a server answers
 * such a PUBLISH by closing the connection, so the test client says so before sending.
 */
export function publishTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'a topic name is required';
  if (/[+#]/.test(topic)) return `a topic name cannot contain the wildcards + or # (they belong in subscription filters): ${topic}`;
  if (topic.includes('\u0000')) return 'a topic name cannot contain the null character';
  return undefined;
}

/** What a CONNACK refusal usually means here: the authorizer, or the policy it returned. */
function refusalHint(code: number, version: ProtocolVersion): string | undefined {
  if (code === 0x86 || (version === 4 && code === 4)) return 'The authorizer did not accept the credentials: check the token, its key name and the signature.';
  if (code === 0x87 || (version === 4 && code === 5)) return 'Not authorized: the returned policy does not allow iot:Connect for this client ID.';
  if (code === 0x85) return 'The client ID was refused.';
  if (code === 0x8c) return 'The authorizer failed or timed out.';
  return undefined;
}

/** Detaches a client being let go; an 'error' with no listener would throw. */
function quiet(client: MqttClient): void {
  client.removeAllListeners();
  client.on('error', () => undefined);
}

/** A one-time credential for the console's own connection, and the query parameter it goes in. */
export interface ConsoleCredential {
  credential: string;
  parameter: string;
}

export class TestSession {
  readonly changed = new Signal<Change>();
  state: ConnectionState = 'disconnected';
  settings: ConnectSettings = defaultSettings();
  /** The settings of the live (or last) connection, as used. */
  connectedWith: ConnectSettings | null = null;
  subscriptions: Subscription[] = [];
  /** Oldest first, at most MESSAGE_CAP (briefly more between flushes). */
  messages: ReceivedMessage[] = [];
  /** Messages received since the last clear, kept or not; each subscription counts its own. */
  totalReceived = 0;
  /** The last connect's refusal, until the next connect. */
  refusal: Refusal | null = null;
  /** Received while paused; shown on resume. */
  held: ReceivedMessage[] = [];
  paused = false;
  activity: ActivityEntry[] = [];
  /** Set once connect() was called: the page connects by itself only the first time. */
  started = false;
  private client: MqttClient | null = null;
  /** Bumped by every connect/disconnect, so a credential fetched for an abandoned connect is dropped. */
  private attempt = 0;
  private seq = 0;
  private subscriptionSeq = 0;
  private pendingPublishes = new Set<(outcome: PublishOutcome) => void>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  /** @param credential asks the admin API for a one-time credential (identity 'console'). */
  constructor(private readonly credential: () => Promise<ConsoleCredential> = () => Promise.reject(new Error('no console credential source'))) {}

  get version(): ProtocolVersion {
    return (this.connectedWith ?? this.settings).protocolVersion;
  }

  log(level: ActivityEntry['level'], text: string): void {
    this.activity.push({ seq: ++this.seq, at: Date.now(), level, text });
    if (this.activity.length > MAX_ACTIVITY) this.activity.splice(0, this.activity.length - MAX_ACTIVITY);
    this.changed.emit('activity');
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.changed.emit('connection');
  }

  connect(settings: ConnectSettings = this.settings): void {
    this.started = true;
    this.drop();
    this.settings = { ...settings };
    const s = (this.connectedWith = { ...settings });
    const attempt = ++this.attempt;
    this.refusal = null;
    if (s.identity !== 'console') {
      this.setState('connecting');
      void this.open(s, attempt);
      return;
    }
    // A fresh credential for every connect: each is good for one connection only.
    this.setState('connecting');
    this.credential().then(
      (credential) => {
        if (attempt === this.attempt) void this.open(s, attempt, credential);
      },
      (err: unknown) => {
        if (attempt !== this.attempt) return;
        this.log('error', `Cannot get a console credential: ${err instanceof Error ? err.message : String(err)}`);
        this.setState('disconnected');
      },
    );
  }

  private async open(s: ConnectSettings, attempt: number, credential?: ConsoleCredential): Promise<void> {
    let mqtt: typeof import('mqtt').default;
    try {
      mqtt = (await import('mqtt')).default;
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.log('error', `Cannot load the MQTT client: ${err instanceof Error ? err.message : String(err)}`);
      this.setState('disconnected');
      return;
    }
    if (attempt !== this.attempt) return;
    const options: IClientOptions = {
      clientId: s.clientId,
      protocolVersion: s.protocolVersion,
      keepalive: s.keepalive,
      clean: s.clean,
      // The test client shows what the server answers; it never retries behind the user's back.
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: 10_000,
    };
    if (s.identity === 'authorizer' && s.username) options.username = s.username;
    if (s.identity === 'authorizer' && s.password) options.password = s.password;
    const url = websocketUrl(s, location, false, credential);
    this.log('info', `Connecting to ${websocketUrl(s, location, true)} as ${s.clientId} (MQTT ${s.protocolVersion === 5 ? '5' : '3.1.1'})`);
    this.setState('connecting');

    const client = mqtt.connect(url, options);
    this.client = client;
    let refused = false;
    let wasConnected = false;
    const mine = () => this.client === client;

    client.on('packetreceive', (packet: Packet) => {
      if (!mine()) return;
      const p = packet as AckLike;
      if (p.cmd === 'connack') {
        const code = p.reasonCode ?? p.returnCode ?? 0;
        if (code !== 0) {
          refused = true;
          const reasonString = p.properties?.reasonString;
          const hint = refusalHint(code, s.protocolVersion);
          this.refusal = { text: `CONNACK ${reasonName(code, s.protocolVersion, 'connack')}`, code, ...(reasonString ? { reasonString } : {}), ...(hint ? { hint } : {}) };
          this.log('error', `${this.refusal.text}${reasonString ? ` — ${reasonString}` : ''}`);
        }
      }
    });
    client.on('connect', (connack) => {
      if (!mine()) return;
      wasConnected = true;
      this.log('ok', `Connected: CONNACK 0x00${connack.sessionPresent ? ' (session present)' : ''}`);
      this.setState('connected');
      for (const sub of this.subscriptions) this.sendSubscribe(sub);
    });
    client.on('message', (topic, payload, packet) => {
      if (!mine()) return;
      const props = packet.properties ?? {};
      const properties: MessageProperties = {};
      if (props.contentType !== undefined) properties.contentType = props.contentType;
      if (props.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = props.payloadFormatIndicator;
      if (props.messageExpiryInterval !== undefined) properties.messageExpiryInterval = props.messageExpiryInterval;
      if (props.responseTopic !== undefined) properties.responseTopic = props.responseTopic;
      if (props.correlationData !== undefined) properties.correlationData = base64(toBytes(props.correlationData));
      if (props.userProperties !== undefined) properties.userProperties = props.userProperties as Record<string, string | string[]>;
      this.receive({
        seq: ++this.seq,
        topic,
        payload: toBytes(payload),
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
        properties,
        receivedAt: Date.now(),
        subscriptionIds: [],
      });
    });
    client.on('disconnect', (packet) => {
      if (!mine()) return;
      const code = packet.reasonCode ?? 0;
      this.log('error', `Server sent DISCONNECT ${reasonName(code, 5, 'disconnect')}${packet.properties?.reasonString ? ` — ${packet.properties.reasonString}` : ''}`);
    });
    client.on('error', (err) => {
      if (!mine() || refused) return;
      this.log('error', err.message || 'connection error');
    });
    client.on('close', () => {
      if (!mine()) return;
      this.client = null;
      quiet(client);
      client.end(true);
      this.closed(wasConnected ? 'Connection closed' : refused ? 'Connection refused' : 'Connection closed before CONNACK');
    });
  }

  /** Ends the connection gracefully (DISCONNECT). */
  disconnect(): void {
    this.attempt++;
    const client = this.client;
    if (client === null) {
      // Still fetching the credential: the connect is abandoned.
      if (this.state === 'connecting') this.setState('disconnected');
      return;
    }
    this.client = null;
    quiet(client);
    client.end(false, {}, () => undefined);
    this.closed('Disconnected');
  }

  /** Forgets the current client without a word (before reconnecting with other settings). */
  private drop(): void {
    const client = this.client;
    if (client === null) return;
    this.client = null;
    quiet(client);
    client.end(true);
  }

  private closed(text: string): void {
    for (const resolve of this.pendingPublishes) {
      resolve({
        ok: false,
        acknowledged: false,
        text:
          this.version === 4
            ? 'connection closed before PUBACK (an MQTT 3.1.1 server closes the connection when a PUBLISH is not authorized)'
            : 'connection closed before PUBACK',
      });
    }
    this.pendingPublishes.clear();
    for (const sub of this.subscriptions) sub.state = 'inactive';
    this.changed.emit('subscriptions');
    this.log(text === 'Disconnected' ? 'info' : 'error', text);
    this.setState('disconnected');
  }

  subscribe(filter: string, options: SubscriptionOptions): Subscription {
    const existing = this.subscriptions.find((x) => x.filter === filter);
    const sub: Subscription = existing ?? {
      id: ++this.subscriptionSeq,
      filter,
      options,
      state: 'inactive',
      count: 0,
      color: COLORS[this.subscriptionSeq % COLORS.length]!,
    };
    sub.options = options;
    if (!existing) this.subscriptions.push(sub);
    this.changed.emit('subscriptions');
    if (this.state === 'connected') this.sendSubscribe(sub);
    return sub;
  }

  private sendSubscribe(sub: Subscription): void {
    const client = this.client;
    if (client === null) return;
    const version = this.version;
    sub.state = 'pending';
    delete sub.refusal;
    delete sub.reasonString;
    delete sub.grantedQos;
    this.changed.emit('subscriptions');
    const o = sub.options;
    const opts: IClientSubscribeOptions = version === 5 ? { qos: o.qos, nl: o.noLocal, rap: o.retainAsPublished, rh: o.retainHandling } : { qos: o.qos };
    client.subscribe(sub.filter, opts, (err, _granted, packet) => {
      if (this.client !== client) return;
      const ack = packet as AckLike | undefined;
      const first = ack?.granted?.[0];
      const code = typeof first === 'number' ? first : first?.qos;
      const reasonString = ack?.properties?.reasonString;
      if (code === undefined) {
        sub.state = 'refused';
        sub.refusal = err?.message ?? 'no SUBACK';
        this.log('error', `SUBSCRIBE ${sub.filter}: ${sub.refusal}`);
      } else if (code >= 0x80) {
        sub.state = 'refused';
        sub.refusal = `SUBACK ${reasonName(code, version, 'suback')}`;
        if (reasonString) sub.reasonString = reasonString;
        this.log('error', `SUBSCRIBE ${sub.filter} refused: ${sub.refusal}${reasonString ? ` — ${reasonString}` : ''}`);
      } else {
        sub.state = 'active';
        sub.grantedQos = code;
        this.log('ok', `Subscribed to ${sub.filter}: SUBACK granted QoS ${code}`);
      }
      this.changed.emit('subscriptions');
    });
  }

  unsubscribe(id: number): void {
    const sub = this.subscriptions.find((x) => x.id === id);
    if (!sub) return;
    this.subscriptions = this.subscriptions.filter((x) => x !== sub);
    if (this.client !== null && sub.state === 'active') {
      this.client.unsubscribe(sub.filter, (err) => {
        this.log(err ? 'error' : 'info', err ? `UNSUBSCRIBE ${sub.filter}: ${err.message}` : `Unsubscribed from ${sub.filter}`);
      });
    }
    this.changed.emit('subscriptions');
  }

  private receive(message: ReceivedMessage): void {
    this.totalReceived++;
    for (const sub of this.subscriptions) {
      if (sub.state !== 'refused' && matches(sub.filter, message.topic)) {
        message.subscriptionIds.push(sub.id);
        sub.count++;
      }
    }
    if (this.paused) this.held.push(message);
    else this.messages.push(message);
    // Trimming is done in bulk, not per message: a splice of a 5,000-long array per message
    // would be the page's busiest work at 1,000 messages a second.
    if (this.messages.length > MESSAGE_CAP * 1.2) this.trim();
    if (this.held.length > MESSAGE_CAP * 1.2) this.held.splice(0, this.held.length - MESSAGE_CAP);
    this.flushSoon();
  }

  private trim(): void {
    if (this.messages.length > MESSAGE_CAP) this.messages.splice(0, this.messages.length - MESSAGE_CAP);
    if (this.held.length > MESSAGE_CAP) this.held.splice(0, this.held.length - MESSAGE_CAP);
  }

  /** Announces new messages once per MESSAGE_FLUSH_MS, however many arrived meanwhile. */
  private flushSoon(): void {
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.trim();
      this.changed.emit('messages');
      this.changed.emit('subscriptions');
    }, MESSAGE_FLUSH_MS);
  }

  private keep(list: ReceivedMessage[]): void {
    this.messages.push(...list);
    this.trim();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused && this.held.length > 0) {
      this.keep(this.held);
      this.held = [];
    }
    this.changed.emit('messages');
  }

  clearMessages(): void {
    this.messages = [];
    this.held = [];
    this.totalReceived = 0;
    for (const sub of this.subscriptions) sub.count = 0;
    this.changed.emit('messages');
    this.changed.emit('subscriptions');
  }

  /** The kept messages as a JSON document (payload as text when UTF-8, else base64). */
  exportJson(): string {
    const out = this.messages.map((m) => {
      const text = messageText(m);
      return {
        topic: m.topic,
        receivedAt: new Date(m.receivedAt).toISOString(),
        qos: m.qos,
        retain: m.retain,
        ...(Object.keys(m.properties).length ? { properties: m.properties } : {}),
        ...(text !== undefined ? { payload: text } : { payloadBase64: base64(m.payload) }),
      };
    });
    return JSON.stringify({ exportedAt: new Date().toISOString(), clientId: this.connectedWith?.clientId ?? null, messages: out }, null, 2);
  }

  publish(input: PublishInput): Promise<PublishOutcome> {
    const client = this.client;
    if (client === null || this.state !== 'connected') return Promise.resolve({ ok: false, acknowledged: false, text: 'not connected: connect first' });
    const problem = publishTopicProblem(input.topic);
    if (problem !== undefined) return Promise.resolve({ ok: false, acknowledged: false, text: `not sent: ${problem}` });
    const version = this.version;
    const opts: IClientPublishOptions = { qos: input.qos, retain: input.retain };
    if (version === 5) {
      const properties: NonNullable<IClientPublishOptions['properties']> = {};
      if (input.contentType) properties.contentType = input.contentType;
      const user: Record<string, string | string[]> = {};
      for (const { key, value } of input.userProperties) {
        if (!key) continue;
        const prev = user[key];
        user[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      if (Object.keys(user).length) properties.userProperties = user;
      if (Object.keys(properties).length) opts.properties = properties;
    }
    const what = `PUBLISH ${input.topic} (QoS ${input.qos}${input.retain ? ', retain' : ''})`;
    return new Promise<PublishOutcome>((resolve) => {
      const settle = (outcome: PublishOutcome) => {
        if (!this.pendingPublishes.delete(settle)) return;
        this.log(outcome.ok ? 'ok' : 'error', `${what}: ${outcome.text}`);
        resolve(outcome);
      };
      this.pendingPublishes.add(settle);
      client.publish(input.topic, input.payload, opts, (err, packet) => {
        const ack = packet as AckLike | undefined;
        const code = ack?.reasonCode ?? (err as { code?: number } | undefined)?.code;
        const reasonString = ack?.properties?.reasonString;
        const suffix = reasonString ? ` — ${reasonString}` : '';
        if (input.qos === 0) {
          // QoS 0 has no PUBACK [MQTT-4.3.1]: written to the socket is all anyone can know.
          settle(err ? { ok: false, acknowledged: false, text: err.message } : { ok: true, acknowledged: false, text: 'sent (no acknowledgement: QoS 0)' });
        } else if (err) {
          settle({ ok: false, acknowledged: code !== undefined, text: code !== undefined ? `PUBACK ${reasonName(code, version, 'puback')}${suffix}` : err.message });
        } else {
          settle({ ok: true, acknowledged: true, text: `${input.qos === 2 ? 'PUBCOMP' : 'PUBACK'} ${reasonName(code ?? 0, version, 'puback')}${suffix}` });
        }
      });
    });
  }
}
