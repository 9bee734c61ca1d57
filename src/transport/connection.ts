// What the broker sees of a network connection, whatever carries it (TCP, TLS, WebSocket).
import type { IncomingHttpHeaders } from 'node:http';

/** 'http'/'https': a streamed HTTP response (Server-Sent Events). */
export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss' | 'http' | 'https';

/** Receives a connection's events; the broker implements it once per connection. */
export interface ConnectionHandler {
  onData(chunk: Buffer): void;
  onDrain(): void;
  onClose(hadError: boolean): void;
  /**
   * More than the slow-consumer bound stayed queued for the peer longer than allowed
   * (transport/flow.ts): close the connection as a slow consumer.
   */
  onSlowConsumer(queuedBytes: number): void;
  /**
   * Reading resumes after the handler held its input (Connection.holdInput): it reads what it
   * kept before anything new arrives.
   */
  onInputResumed(): void;
  /**
   * After a hold, how long reading must still wait (a read throttle such as
   * limits.maxInboundBytesPerSecond); 0 or absent: resume at once.
   */
  inputDelayMs?(): number;
}

export interface UpgradeRequest {
  url: string;
  headers: IncomingHttpHeaders;
  /**
   * How many Host header lines the request had: Node keeps only the first in `headers`, a proxy
   * may have used another, so more than one is ambiguous (the loopback rule refuses it).
   */
  hostCount?: number;
}

/** How many Host lines are in a request's raw headers (see UpgradeRequest.hostCount). */
export function countHostHeaders(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}

export interface Connection {
  readonly transport: TransportKind;
  /** The client's address: the socket's peer, or what a trusted proxy said (PROXY protocol, X-Forwarded-For). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * The server address and port the client connected to: the local end of the socket, or the
   * destination a PROXY protocol header announced (GetConnection's targetIp/targetPort).
   */
  readonly localAddress: string;
  readonly localPort: number;
  /**
   * The direct peer's address when it is a trusted proxy that relayed this client (then
   * remoteAddress is the address it forwarded); undefined for a direct connection. A relayed
   * connection is never local (auth/local-request.ts).
   */
  readonly proxiedBy?: string | undefined;
  /** TLS SNI server name, when there was one. */
  readonly serverName: string | undefined;
  /**
   * The HTTP upgrade request of a WebSocket connection (its query and headers feed the authorizer).
   * Kept only until CONNECT is decided: see releaseRequest().
   */
  readonly request: UpgradeRequest | undefined;
  /** The authorizer has read the upgrade request: drop it (a kilobyte per idle WebSocket). */
  releaseRequest(): void;
  setHandler(handler: ConnectionHandler): void;
  /** Queues bytes; writes in one tick are coalesced into one syscall (and one WebSocket frame each). */
  write(bytes: Buffer): void;
  /**
   * Queues bytes that a broadcast writes to many connections, unchanged: a WebSocket frames them
   * once for all of them.
   */
  writeShared(bytes: Buffer): void;
  /**
   * Queues a copy of `template` (an encoded QoS 1/2 PUBLISH shared by a broadcast) whose 2-byte
   * packet identifier at `idOffset` is `packetId`. The template itself is not modified.
   */
  writePatched(template: Buffer, idOffset: number, packetId: number): void;
  /**
   * Bytes accepted by write() and not yet handed to the kernel. Every write counts against the
   * connection's outbound budget; past it the connection stops reading (transport/flow.ts).
   */
  /**
   * The handler stopped between two packets of what it was given and keeps the rest: stop reading
   * from the socket until what is queued for the peer has been flushed, then call onInputResumed.
   */
  holdInput(): void;
  bufferedBytes(): number;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes at once, discarding what is queued. */
  destroy(): void;
  readonly closed: boolean;
}

/** The client behind a socket, when a proxy in front says who it is. */
export interface ClientOrigin {
  address: string;
  proxiedBy: string | undefined;
}

/** Accepts new connections from every listener. */
export type ConnectionAcceptor = (connection: Connection) => void;
