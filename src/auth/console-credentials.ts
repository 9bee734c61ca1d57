// Short-lived credentials for the web console's MQTT test client.
//
// The console's own session (a signed-in user, or the loopback rule) asks the admin API for one
// (POST /api/console/mqtt-credential) right before it connects, and presents it in the upgrade
// URL of /mqtt (CONSOLE_CREDENTIAL_PARAM). CONNECT then admits the test client with the
// console's rights, bound to the user who asked. Nothing about the WebSocket itself (cookie,
// Origin, Host, peer address) grants anything: behind a reverse proxy those prove nothing.
//
// A credential is signed, not remembered: `<payload>.<HMAC-SHA256 of it>`, the payload naming the
// user, the expiry and a random nonce, under a key derived from the store's sealing key. So any
// member that shares the store (`--workers N`, the nodes of a cluster) admits it, whichever one
// issued it — node:cluster hands the console's WebSocket to any worker.
//
// Invariants: valid only within TTL_MS of being issued; used once per process (the nonces seen are
// kept until their credential expires, at most MAX_SEEN — past that the oldest is forgotten, and
// only an admin can mint credentials, so that bound is never reached by an attacker). Another
// member could admit the same credential once more within its lifetime: it is a bearer token
// for 60 s, issued only to an admin.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../shared/clock.js';

/** The upgrade URL's query parameter; not an AWS name, so no authorizer reads it as its token. */
export const CONSOLE_CREDENTIAL_PARAM = 'x-switchboard-console-credential';
export const CONSOLE_CREDENTIAL_TTL_MS = 60_000;
const MAX_SEEN = 1000;
/** Users are console user names ('loopback', 'admin', ...): bounded so a payload stays small. */
const MAX_PAYLOAD_CHARS = 512;

export interface IssuedCredential {
  credential: string;
  expiresAt: number;
}

export interface ConsoleCredentialsOptions {
  /** Default the system clock. */
  clock?: Clock;
  /** Lifetime of a credential; default CONSOLE_CREDENTIAL_TTL_MS. */
  ttlMs?: number;
  /** Used nonces remembered; default MAX_SEEN. */
  maxSeen?: number;
}

interface Payload {
  u: string;
  e: number;
  n: string;
}

export class ConsoleCredentials {
  private readonly key: Buffer;
  /** nonce -> expiry of credentials already used here; Map order is use order. */
  private readonly seen = new Map<string, number>();
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxSeen: number;

  constructor(sealingKey: Buffer, options: ConsoleCredentialsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs ?? CONSOLE_CREDENTIAL_TTL_MS;
    this.maxSeen = options.maxSeen ?? MAX_SEEN;
    // A key of its own, so a console credential never doubles as anything the sealing key signs.
    this.key = createHmac('sha256', sealingKey).update('switchboard console mqtt credential v1').digest();
  }

  issue(user: string): IssuedCredential {
    const expiresAt = this.clock.now() + this.ttlMs;
    const payload = Buffer.from(JSON.stringify({ u: user, e: expiresAt, n: randomBytes(16).toString('base64url') } satisfies Payload)).toString('base64url');
    return { credential: `${payload}.${this.sign(payload)}`, expiresAt };
  }

  /** The user a credential was issued to, consuming it; null when forged, used or expired. */
  take(credential: string): string | null {
    const dot = credential.indexOf('.');
    if (dot <= 0 || dot > MAX_PAYLOAD_CHARS) return null;
    const payloadText = credential.slice(0, dot);
    const given = Buffer.from(credential.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payloadText), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(payloadText, 'base64url').toString('utf8')) as Payload;
    } catch {
      return null;
    }
    if (typeof payload.u !== 'string' || typeof payload.e !== 'number' || typeof payload.n !== 'string') return null;
    const now = this.clock.now();
    if (payload.e <= now || payload.e > now + this.ttlMs) return null;
    this.sweep(now);
    if (this.seen.has(payload.n)) return null;
    while (this.seen.size >= this.maxSeen) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(payload.n, payload.e);
    return payload.u;
  }

  /** Nonces remembered as used (their credentials not expired yet). */
  get size(): number {
    return this.seen.size;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  /** Forgets used nonces whose credentials expired (front first; expiry follows use order closely). */
  private sweep(now: number): void {
    for (const [nonce, expiresAt] of this.seen) {
      if (expiresAt > now) break;
      this.seen.delete(nonce);
    }
  }
}

/** The credential in an upgrade URL's query, if any (first occurrence). */
export function consoleCredentialOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const value = new URLSearchParams(url.slice(q + 1)).get(CONSOLE_CREDENTIAL_PARAM);
  return value ?? undefined;
}
