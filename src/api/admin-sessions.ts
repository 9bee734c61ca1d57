// Console sign-in sessions: a random id in an HttpOnly, SameSite=Strict cookie, kept in memory
// (bounded, expiring). State-changing requests with a cookie must also carry a custom header,
// which a cross-site form or image cannot send: that, with SameSite, is the CSRF guard.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../shared/clock.js';

export const SESSION_COOKIE = 'sb_session';
export const CSRF_HEADER = 'x-switchboard-csrf';
const TTL_MS = 12 * 3600 * 1000;
const MAX_SESSIONS = 1000;

export class AdminSessions {
  private readonly sessions = new Map<string, { user: string; expires: number }>();

  constructor(private readonly clock: Clock = systemClock) {}

  create(user: string): string {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { user, expires: this.clock.now() + TTL_MS });
    return id;
  }

  user(id: string | undefined): string | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    if (s.expires < this.clock.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s.user;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}

/** Constant-time comparison of credentials. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
