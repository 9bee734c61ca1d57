// A JSON-over-WebSocket test client (src/web/json-client.ts) on the `ws` package: every frame the
// server sends is kept in order; `next` waits (bounded) for the first unread frame that matches.
import { WebSocket } from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export class JsonWs {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  private read = 0;
  private waiters: (() => void)[] = [];
  /** Set once the socket closed: the close code and reason the server sent. */
  closed: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;

  constructor(url: string, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      this.frames.push(isBinary ? { type: '<binary>', text } : (JSON.parse(text) as Frame));
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame after those already taken that matches; earlier non-matching ones stay unread. */
  async next(match: (f: Frame) => boolean = () => true, timeoutMs = 5000, what = 'a frame'): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.read; i < this.frames.length; i++) {
        const f = this.frames[i]!;
        if (match(f)) {
          this.frames.splice(i, 1);
          return f;
        }
      }
      if (this.closed !== null) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  type(type: string, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.type === type, timeoutMs, `a ${type} frame`);
  }

  /** Request/answer: sends `frame` with a fresh id and waits for the frame that echoes it. */
  async call(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const id = `r${++callIds}`;
    this.send({ ...frame, id });
    return this.next((f) => f.id === id, timeoutMs, `the answer to ${String(frame.type)} ${id}`);
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (this.closed === null) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}

let callIds = 0;

/** Opens a JSON WebSocket and waits for its `connected` frame (or the refusal). */
export async function openJson(url: string): Promise<{ client: JsonWs; connected: Frame }> {
  const client = new JsonWs(url);
  await client.opened;
  const connected = await client.next((f) => f.type === 'connected' || f.type === 'error', 5000, 'the connected frame');
  return { client, connected };
}
