// The optional browser helper for JSON over WebSocket (docs/websocket-json.md, "The browser
// helper"): reconnect with bounded, jittered exponential backoff, and resume without loss — it
// remembers the last message `id` of each subscription and subscribes again with `since` after a
// reconnect, so the server replays what was missed and nothing twice (docs/history.md).
//
// Served by Switchboard at GET /client/switchboard.js and exported as `switchboard/client`.
// No dependencies and nothing from the server's tree (scripts/check-layers.mjs keeps src/client/
// an island): it runs in a browser, and in Node with a WebSocket class passed in (`ws`).
//
//   import { connect } from '/client/switchboard.js';
//   const sb = connect({ url: 'wss://example.com/ws?token=…' });
//   sb.subscribe('chat/#', (m) => console.log(m.topic, m.payload));
//   await sb.publish('chat/room1', { text: 'hi' });   // resolved on puback, rejected on error

/**
 * A handler property whose event parameter is compared both ways (method-style), so that both the
 * browser's WebSocket (Event subclasses) and `ws`'s (its own event classes) fit WebSocketLike.
 */
type Listener<E> = { listener(event: E): void }['listener'];

/** The part of the WebSocket API used here (the browser's, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Listener<unknown> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onclose: Listener<{ code: number; reason: string }> | null;
  onerror: Listener<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A message as delivered (the `message` frame of docs/websocket-json.md). */
export interface Message {
  topic: string;
  payload: unknown;
  encoding: 'json' | 'text' | 'base64';
  /** The history id (the resume cursor after this message); absent on topics not kept in history. */
  id?: string;
  retain?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: string;
  userProperties?: Record<string, string>;
}

export interface PublishOptions {
  retain?: boolean;
  encoding?: 'text' | 'base64';
  contentType?: string;
  responseTopic?: string;
  correlationData?: string;
  userProperties?: Record<string, string>;
}

export interface ConnectOptions {
  /** `ws(s)://host/ws?…` with the credentials in the query (docs/websocket-json.md). */
  url: string;
  /** Default: the global WebSocket. Node before 22 has none: pass `ws`'s WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay (default 500 ms), doubled per failed attempt up to maxDelayMs (default 30 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many reconnects in a row that never got `connected` (default: never). */
  maxAttempts?: number;
  /** History no longer reaches back to the last id on these filters: some messages were lost. */
  onreset?: (filters: string[], message: string) => void;
  /** Each time the server admits the connection (the first time and after each reconnect). */
  onconnect?: (clientId: string) => void;
  /** The socket closed; `willRetry` false when the helper gives up (refused, taken over, closed). */
  ondisconnect?: (info: { code: number; reason: string; willRetry: boolean }) => void;
  /** An `error` frame that answers no request of the helper's. */
  onerror?: (error: SwitchboardError) => void;
}

/** A refusal from the server (`code` as in docs/websocket-json.md "Errors"), or a lost connection. */
export class SwitchboardError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}

export interface Subscription {
  readonly filter: string;
  /** Resolved when the server accepted the filter; rejected with the reason when it refused. */
  readonly ready: Promise<void>;
  /** The id of the last message received on it (what a reconnect resumes from). */
  readonly lastId: string | undefined;
  unsubscribe(): void;
}

export interface Client {
  readonly clientId: string | undefined;
  subscribe(filter: string, onmessage: (message: Message) => void): Subscription;
  publish(topic: string, payload?: unknown, options?: PublishOptions): Promise<void>;
  close(): void;
}

const OPEN = 1;
/** Close codes after which reconnecting cannot help: policy refusal (1008). */
const FINAL_CLOSE = new Set([1008]);
/** `disconnect` codes after which the helper stops: another connection took the client ID. */
const FINAL_DISCONNECT = new Set(['session-taken-over']);
/** Requests written while the socket is down are kept, up to this many, until it is back. */
const MAX_QUEUED = 1000;

interface Pending {
  resolve: () => void;
  reject: (error: SwitchboardError) => void;
}

class SubscriptionState implements Subscription {
  lastId: string | undefined;
  ready: Promise<void>;
  settle: Pending | null = null;
  active = true;
  constructor(
    readonly filter: string,
    readonly onmessage: (message: Message) => void,
    private readonly owner: SwitchboardClient,
  ) {
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // Not everyone awaits `ready`; a refusal must not become an unhandled rejection.
    this.ready.catch(() => undefined);
  }
  unsubscribe(): void {
    this.owner.drop(this);
  }
}

class SwitchboardClient implements Client {
  clientId: string | undefined;
  private socket: WebSocketLike | null = null;
  private readonly subscriptions = new Set<SubscriptionState>();
  private readonly requests = new Map<string, Pending>();
  private readonly subscribing = new Map<string, SubscriptionState>();
  private readonly queue: string[] = [];
  private nextId = 1;
  private attempts = 0;
  private closed = false;
  private connected = false;
  /** The newest cursor received on this client: the resume point of a subscription that saw nothing yet. */
  private lastCursor: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly WebSocketClass: WebSocketConstructor;

  constructor(private options: ConnectOptions) {
    const ctor = options.WebSocket ?? globalWebSocket();
    if (ctor === undefined) throw new TypeError('no WebSocket class: pass options.WebSocket (Node before 22: the ws package)');
    this.WebSocketClass = ctor;
    this.open();
  }

  subscribe(filter: string, onmessage: (message: Message) => void): Subscription {
    const sub = new SubscriptionState(filter, onmessage, this);
    if (this.closed) {
      sub.settle?.reject(new SwitchboardError('closed', 'the client is closed'));
      return sub;
    }
    this.subscriptions.add(sub);
    if (this.connected) this.sendSubscribe(sub);
    return sub;
  }

  publish(topic: string, payload?: unknown, options: PublishOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new SwitchboardError('closed', 'the client is closed'));
    const id = `p${this.nextId++}`;
    const frame: Record<string, unknown> = { type: 'publish', topic, id, ...options };
    if (payload !== undefined) frame.payload = payload;
    return new Promise<void>((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      this.write(JSON.stringify(frame), id);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.failPending('closed', 'the client is closed');
    for (const sub of this.subscriptions) sub.settle?.reject(new SwitchboardError('closed', 'the client is closed'));
    this.subscriptions.clear();
    this.socket?.close(1000);
  }

  /** Subscription.unsubscribe(): forget it, and unsubscribe on the server unless another subscription has the same filter. */
  drop(sub: SubscriptionState): void {
    if (!this.subscriptions.delete(sub)) return;
    sub.active = false;
    for (const other of this.subscriptions) if (other.filter === sub.filter) return;
    if (this.connected) this.socket?.send(JSON.stringify({ type: 'unsubscribe', filters: [sub.filter], id: `u${this.nextId++}` }));
  }

  private open(): void {
    const socket = new this.WebSocketClass(this.options.url);
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket === socket) this.onFrame(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.onClose(event.code, event.reason);
    };
    // A failed connection is followed by close, which decides what to do.
    socket.onerror = () => undefined;
  }

  private onFrame(data: unknown): void {
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(typeof data === 'string' ? data : String(data));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return;
      frame = { ...parsed };
    } catch {
      return;
    }
    switch (frame.type) {
      case 'connected':
        return this.onConnected(String(frame.clientId));
      case 'message':
        return this.onMessage(frame);
      case 'subscribed':
        return this.onSubscribed(frame);
      case 'puback':
        return this.settle(frame.id, null);
      case 'error':
        return this.onError(frame);
      case 'reset':
        return this.options.onreset?.(Array.isArray(frame.filters) ? frame.filters.map(String) : [], String(frame.message ?? ''));
      case 'disconnect':
        if (FINAL_DISCONNECT.has(String(frame.code))) this.giveUp = true;
        return;
    }
  }

  private giveUp = false;

  private onConnected(clientId: string): void {
    // Keep the client ID the server assigned, so a reconnect is the same client (and takes over
    // a half-open old connection instead of living beside it).
    if (this.clientId === undefined && !/[?&]clientId=/.test(this.options.url)) {
      this.options = { ...this.options, url: this.options.url + (this.options.url.includes('?') ? '&' : '?') + 'clientId=' + encodeURIComponent(clientId) };
    }
    this.clientId = clientId;
    this.connected = true;
    this.attempts = 0;
    for (const sub of this.subscriptions) this.sendSubscribe(sub);
    for (const text of this.queue.splice(0)) this.socket?.send(text);
    this.options.onconnect?.(clientId);
  }

  private sendSubscribe(sub: SubscriptionState): void {
    const id = `s${this.nextId++}`;
    this.subscribing.set(id, sub);
    const since = sub.lastId ?? this.lastCursor;
    const frame: Record<string, unknown> = { type: 'subscribe', filters: [sub.filter], id };
    if (since !== undefined) frame.since = since;
    this.socket?.send(JSON.stringify(frame));
  }

  private onSubscribed(frame: Record<string, unknown>): void {
    const id = String(frame.id);
    const sub = this.subscribing.get(id);
    if (sub === undefined) return;
    this.subscribing.delete(id);
    const result: unknown = Array.isArray(frame.results) ? frame.results[0] : undefined;
    const ok = typeof result === 'object' && result !== null && Reflect.get(result, 'ok') === true;
    if (ok) return sub.settle?.resolve();
    const code = typeof result === 'object' && result !== null ? String(Reflect.get(result, 'code')) : 'refused';
    const reason = typeof result === 'object' && result !== null ? String(Reflect.get(result, 'reason')) : 'subscribe refused';
    sub.settle?.reject(new SwitchboardError(code, reason));
    this.subscriptions.delete(sub);
  }

  private onMessage(frame: Record<string, unknown>): void {
    if (typeof frame.topic !== 'string') return;
    const { type: _type, ...rest } = frame;
    const message: Message = { ...rest, topic: frame.topic, payload: frame.payload, encoding: frame.encoding === 'json' || frame.encoding === 'base64' ? frame.encoding : 'text' };
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    if (id !== undefined) this.lastCursor = id;
    for (const sub of this.subscriptions) {
      if (!matches(sub.filter, frame.topic)) continue;
      if (id !== undefined) sub.lastId = id;
      try {
        sub.onmessage(message);
      } catch (err) {
        // One handler's bug must not stop the others or the connection.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  private onError(frame: Record<string, unknown>): void {
    const error = new SwitchboardError(String(frame.code ?? 'error'), String(frame.message ?? 'error'));
    const id = frame.id === undefined ? undefined : String(frame.id);
    if (id !== undefined && this.requests.has(id)) return this.settle(id, error);
    if (id !== undefined && this.subscribing.has(id)) {
      const sub = this.subscribing.get(id);
      this.subscribing.delete(id);
      sub?.settle?.reject(error);
      if (sub !== undefined) this.subscriptions.delete(sub);
      return;
    }
    this.options.onerror?.(error);
  }

  private settle(id: unknown, error: SwitchboardError | null): void {
    const key = String(id);
    const pending = this.requests.get(key);
    if (pending === undefined) return;
    this.requests.delete(key);
    if (error === null) pending.resolve();
    else pending.reject(error);
  }

  private write(text: string, id: string): void {
    if (this.connected && this.socket?.readyState === OPEN) return this.socket.send(text);
    if (this.queue.length >= MAX_QUEUED) return this.settle(id, new SwitchboardError('limit', 'too many requests waiting for the connection'));
    this.queue.push(text);
  }

  /** Publishes in flight when the socket dropped: whether the server got them is unknown, so they fail and the caller decides. */
  private failPending(code: string, message: string): void {
    const error = new SwitchboardError(code, message);
    const pending = [...this.requests.values()];
    this.requests.clear();
    this.queue.length = 0;
    for (const p of pending) p.reject(error);
  }

  private onClose(code: number, reason: string): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.socket = null;
    this.subscribing.clear();
    if (this.closed) return;
    if (wasConnected) this.failPending('connection-lost', 'the connection was lost before the server answered');
    this.attempts += 1;
    const max = this.options.maxAttempts ?? Infinity;
    const willRetry = !this.giveUp && !FINAL_CLOSE.has(code) && this.attempts <= max;
    this.options.ondisconnect?.({ code, reason, willRetry });
    if (!willRetry) {
      this.closed = true;
      this.failPending('closed', reason || 'the connection closed');
      for (const sub of this.subscriptions) sub.settle?.reject(new SwitchboardError('closed', reason || 'the connection closed'));
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.open();
    }, backoff(this.attempts, this.options.initialDelayMs ?? 500, this.options.maxDelayMs ?? 30_000));
  }
}

function globalWebSocket(): WebSocketConstructor | undefined {
  const ctor: unknown = Reflect.get(globalThis, 'WebSocket');
  return isConstructor(ctor) ? ctor : undefined;
}

function isConstructor(value: unknown): value is WebSocketConstructor {
  return typeof value === 'function';
}

/** Exponential backoff with "equal jitter": half the capped delay fixed, half random, so reconnecting tabs spread out. */
export function backoff(attempt: number, initialMs: number, maxMs: number): number {
  const capped = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return capped / 2 + Math.random() * (capped / 2);
}

/** MQTT topic matching ([MQTT-4.7]): `+` one level, `#` the rest; `$` topics only by filters that name them; `$share/g/` is stripped. */
export function matches(filter: string, topic: string): boolean {
  let f = filter;
  if (f.startsWith('$share/')) {
    const slash = f.indexOf('/', 7);
    if (slash < 0) return false;
    f = f.slice(slash + 1);
  }
  const fl = f.split('/');
  const tl = topic.split('/');
  if (topic.startsWith('$') && (fl[0] === '+' || fl[0] === '#')) return false;
  for (let i = 0; i < fl.length; i++) {
    if (fl[i] === '#') return true;
    if (i >= tl.length) return false;
    if (fl[i] !== '+' && fl[i] !== tl[i]) return false;
  }
  return fl.length === tl.length;
}

/** Opens a client; it connects at once and reconnects by itself until close(). */
export function connect(options: ConnectOptions): Client {
  return new SwitchboardClient(options);
}
