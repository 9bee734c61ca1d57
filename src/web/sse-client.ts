// Server-Sent Events (GET /events?topic=...): one listen-only connection of the SSE front-end. The
// `topic` parameters (repeatable, filters allowed) are subscribed at connect like JSON's
// `subscribe=`; each message is one event whose data is the same JSON object a JSON WebSocket client
// gets (message-encoding.ts), written from the broadcast's shared bytes. A refusal at connect is an
// HTTP status (EventSource then stops retrying); a refused filter is an `error` event.
//
//   event: connected              data: {"clientId":"sb-…","assigned":true}
//   (default event "message")     data: {"type":"message","topic":"a/b","payload":{…},"encoding":"json"}
//   event: subscribed             data: {"results":[{"filter":"a/#","ok":true}, …]}
//   event: disconnect             data: {"code":"session-taken-over","reason":"session taken over"}
//   : ping                        (a comment every 30 s keeps proxies from closing the stream)
import type { Logger } from '../logger.js';
import type { Broker } from '../broker/broker.js';
import type { ConnectionRegistry } from '../broker/connection-registry.js';
import type { ConnectionHandler } from '../transport/connection.js';
import type { SseConnection } from '../transport/sse.js';
import type { HistoryStore } from '../store/history-store.js';
import type { Resumption } from '../history/resume.js';
import type { MessageEncoder } from './message-encoding.js';
import { readConnectParams, WebClient, type FilterResult } from './web-client.js';
import { PING_INTERVAL_MS } from './json-client.js';

const PING = Buffer.from(': ping\n\n');

function event(name: string, data: Record<string, unknown>): Buffer {
  return Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, 'utf8');
}

export class SseClient extends WebClient implements ConnectionHandler {
  readonly protocol = 'sse';
  declare readonly connection: SseConnection;
  private lastPing: number;

  /** Last-Event-ID (a reconnecting EventSource sends it) or `lastEventId` in the URL: where to resume. */
  private since: string | null = null;

  constructor(connection: SseConnection, broker: Broker, registry: ConnectionRegistry, logger: Logger, history: HistoryStore | null = null) {
    super(connection, broker, registry, logger, history);
    this.lastPing = this.acceptedAt;
    connection.setHandler(this);
  }

  /** Starts the connect from the request URL (`clientId`, each `topic`, the authorizer's parameters). */
  begin(): void {
    const request = this.connection.request;
    const params = readConnectParams(request?.url ?? '/', 'topic');
    const header = request?.headers['last-event-id'];
    const since = (Array.isArray(header) ? header[0] : header) ?? lastEventIdParam(request?.url ?? '/');
    this.since = since === undefined || since === '' ? null : since.slice(0, 2200);
    this.start(params).catch((err: unknown) => {
      this.logger.error({ err }, 'SSE connect failed');
      this.connection.reject(500, { error: 'internal error' });
      this.finish('internal-error', true);
    });
  }

  onData(): void {}
  onDrain(): void {}
  onInputResumed(): void {}

  onClose(hadError: boolean): void {
    // EventSource.close() (or leaving the page) just closes the socket: as a Close frame on a
    // WebSocket, that is the client's own doing.
    this.finish(hadError ? 'connection-lost' : 'client-closed', true);
  }

  protected welcome(assigned: boolean): void {
    if (!this.connection.begin()) {
      this.finish('connection-lost', true);
      return;
    }
    this.connection.write(event('connected', { clientId: this.clientId, ...(assigned ? { assigned: true } : {}) }));
  }

  protected refuse(code: string, reason: string, status: number): void {
    this.connection.reject(status, { error: code, message: reason });
  }

  protected goodbye(why: string, reason: string): void {
    this.connection.write(event('disconnect', { code: why, reason }));
  }

  protected writeMessage(encoder: MessageEncoder, retain: boolean, shared: boolean, id: string | undefined): number {
    const bytes = encoder.sseFor(retain, id);
    if (shared && id === encoder.idText) this.connection.writeShared(bytes);
    else this.connection.write(bytes);
    this.broker.counters.sseMessagesDelivered++;
    return bytes.length;
  }

  protected initialSubscribed(results: FilterResult[]): void {
    this.connection.write(event('subscribed', { results }));
  }

  /**
   * `id:` with no data sets the browser's last event ID without dispatching an event (WHATWG HTML
   * §9.2.6, "dispatch the event" steps 1-2): a stream that received nothing yet still resumes from
   * where it connected, not from the moment it reconnects.
   */
  protected override afterReplay(resumption: Resumption): void {
    const id = resumption.idText;
    if (id !== '' && this.state === 'connected') this.connection.write(Buffer.from(`id: ${id}\n\n`, 'latin1'));
  }

  protected sendReset(filters: readonly string[], reason: string): void {
    this.connection.write(event('reset', { filters, message: reason }));
  }

  /**
   * Every stream resumes when history is kept: from Last-Event-ID, or (a new client) from the
   * history's head, so that the ids it gets let a later reconnect pick up exactly where it stopped.
   */
  protected override initialResume(filters: readonly string[]): { resumption: Resumption; fromCursor: boolean } | null {
    let resume = this.openResume(filters, this.since);
    if (resume === 'not-a-cursor') {
      this.sendReset(filters, 'Last-Event-ID is not a history id: starting from now');
      resume = this.openResume(filters, null);
    } else if (resume !== null) {
      return { resumption: resume, fromCursor: this.since !== null };
    }
    return resume === null || resume === 'not-a-cursor' ? null : { resumption: resume, fromCursor: false };
  }

  override sweep(now: number, connectTimeoutMs: number): void {
    super.sweep(now, connectTimeoutMs);
    if (this.state === 'connected' && now - this.lastPing >= PING_INTERVAL_MS) {
      this.lastPing = now;
      this.connection.write(PING);
    }
  }
}

/** `lastEventId` from a URL's query (for a first connection that resumes, where no header can be set). */
function lastEventIdParam(url: string): string | undefined {
  const m = /[?&]lastEventId=([^&#]*)/.exec(url);
  if (m === null) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}
