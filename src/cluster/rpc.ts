// Calls between nodes over the control channel: a request names an operation and its arguments;
// the node that handles it answers with a value or an error; a caller that gets no answer in time
// fails. Handlers are registered by name (the takeover of a client ID, the admin API's listing,
// replayed HTTP requests).
import type { ControlMessage, RpcArgs, RpcReply, RpcRequest } from './control-messages.js';

export type RpcHandler = (args: RpcArgs) => Promise<unknown> | unknown;

export const RPC_TIMEOUT_MS = 5000;
/** Pending calls at most; beyond, a call fails at once rather than holding memory. */
const MAX_PENDING = 10_000;

export class Rpc {
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private seq = 0;

  /** `send` delivers a control message to a node; it returns false when that cannot be done now. */
  constructor(
    private readonly nodeId: string,
    private readonly send: (node: string, message: ControlMessage) => boolean,
  ) {}

  handle(op: string, handler: RpcHandler): void {
    this.handlers.set(op, handler);
  }

  /** Runs a handler of this node directly (gathering from every node, this one included). */
  local(op: string, args: RpcArgs): Promise<unknown> {
    const handler = this.handlers.get(op);
    return handler === undefined ? Promise.reject(new Error(`unknown call ${op}`)) : Promise.resolve(handler(args));
  }

  call(node: string, op: string, args: RpcArgs, timeoutMs = RPC_TIMEOUT_MS): Promise<unknown> {
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new Error('too many calls to other nodes pending'));
    const id = `${this.nodeId}:${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`node ${node} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send(node, { type: 'rpc', from: this.nodeId, id, op, args })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error('the cluster backplane is unreachable'));
      }
    });
  }

  async onRequest(c: RpcRequest): Promise<void> {
    try {
      const value = await this.local(c.op, c.args);
      this.send(c.from, { type: 'rpc-reply', id: c.id, ok: true, value: value ?? null });
    } catch (err) {
      this.send(c.from, { type: 'rpc-reply', id: c.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  onReply(c: RpcReply): void {
    const pending = this.pending.get(c.id);
    if (pending === undefined) return;
    this.pending.delete(c.id);
    clearTimeout(pending.timer);
    if (c.ok) pending.resolve(c.value);
    else pending.reject(new Error(c.error));
  }

  /** Fails every pending call (the node is stopping). */
  rejectAll(reason: string): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error(reason));
    }
    this.pending.clear();
  }
}
