// Short-lived credentials for the web console's MQTT test client.
//
// The console's own session (a signed-in user, or the loopback rule) asks the admin API for one
// (POST /api/console/mqtt-credential) right before it connects, and presents it in the upgrade
// URL of /mqtt (CONSOLE_CREDENTIAL_PARAM). CONNECT then admits the test client with the
// console's rights, bound to the user who asked. Nothing about the WebSocket itself (cookie,
// Origin, Host, peer address) grants anything: behind a reverse proxy those prove nothing.
//
// Invariants: a credential is 32 random bytes, usable once (the console asks for a fresh one per
// connect; it never reconnects by itself), and only within TTL_MS of being issued. The store is
// bounded: past MAX_OUTSTANDING the oldest outstanding credential is dropped.
import { randomBytes } from 'node:crypto';

/** The upgrade URL's query parameter; not an AWS name, so no authorizer reads it as its token. */
export const CONSOLE_CREDENTIAL_PARAM = 'x-switchboard-console-credential';
export const CONSOLE_CREDENTIAL_TTL_MS = 60_000;
const MAX_OUTSTANDING = 1000;

export interface IssuedCredential {
  credential: string;
  expiresAt: number;
}

export class ConsoleCredentials {
  /** credential -> who asked and until when; Map order is issue order (oldest first). */
  private readonly outstanding = new Map<string, { user: string; expiresAt: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = CONSOLE_CREDENTIAL_TTL_MS,
    private readonly maxOutstanding = MAX_OUTSTANDING,
  ) {}

  issue(user: string): IssuedCredential {
    const now = this.now();
    this.sweep(now);
    while (this.outstanding.size >= this.maxOutstanding) {
      this.outstanding.delete(this.outstanding.keys().next().value!);
    }
    const credential = randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.outstanding.set(credential, { user, expiresAt });
    return { credential, expiresAt };
  }

  /** The user a credential was issued to, consuming it; null when unknown, used or expired. */
  take(credential: string): string | null {
    const entry = this.outstanding.get(credential);
    if (entry === undefined) return null;
    this.outstanding.delete(credential);
    return entry.expiresAt > this.now() ? entry.user : null;
  }

  get size(): number {
    return this.outstanding.size;
  }

  /** Drops expired credentials from the front (issue order is expiry order). */
  private sweep(now: number): void {
    for (const [credential, entry] of this.outstanding) {
      if (entry.expiresAt > now) break;
      this.outstanding.delete(credential);
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
