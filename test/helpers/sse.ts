// Reads a Server-Sent Events stream the way EventSource does (WHATWG HTML §9.2), over node's fetch:
// events are collected in order; `next` waits (bounded) for the first unread one that matches.
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  /** The last event ID as EventSource keeps it: set by every dispatched `id:`, data or not. */
  lastId = '';
  private waiters: (() => void)[] = [];
  private readonly controller = new AbortController();
  response!: Response;

  static async open(url: string, init: RequestInit = {}): Promise<SseReader> {
    const r = new SseReader();
    r.response = await fetch(url, { ...init, signal: r.controller.signal });
    if (r.response.ok && r.response.body) void r.pump(r.response.body);
    return r;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = { event: 'message', data: [] as string[], id: undefined as string | undefined };
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (event.id !== undefined) this.lastId = event.id;
            if (event.data.length > 0) this.events.push({ event: event.event, data: event.data.join('\n'), id: event.id });
            event = { event: 'message', data: [], id: undefined };
            this.wake();
            continue;
          }
          if (line.startsWith(':')) {
            this.comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') event.data.push(value);
          else if (field === 'event') event.event = value;
          else if (field === 'id') event.id = value;
        }
      }
    } catch {
      // aborted
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async next(match: (e: SseEvent) => boolean = () => true, timeoutMs = 5000, what = 'an event'): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (this.ended) throw new Error(`stream ended while waiting for ${what}; events: ${JSON.stringify(this.events).slice(0, 400)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events).slice(0, 400)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  named(name: string, timeoutMs = 5000): Promise<SseEvent> {
    return this.next((e) => e.event === name, timeoutMs, `a ${name} event`);
  }

  async waitEnded(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.controller.abort();
  }
}
