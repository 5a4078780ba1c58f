import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminUser, Role } from './users.js';

/**
 * Sessions in a signed cookie, also recorded server-side (session-store.ts) so they can end.
 *
 * Why a login page with a session cookie rather than HTTP basic auth: basic auth has no logout
 * (browsers cache the credentials until they are closed), re-sends the password on every poll of
 * the board, and offers no place for rate-limit feedback. A signed cookie expires, can be scoped
 * to the board's path, is HttpOnly, and the login form is one place to rate-limit and log
 * failures. The price is CSRF, handled by a double-submit token bound to the session id
 * (auth/middleware.ts).
 *
 * Format: base64url(JSON payload) "." base64url(HMAC-SHA256(secret, payload)). The payload binds a
 * fingerprint of the user's password hash, so changing a password (and restarting) ends that
 * user's sessions; changing the secret ends every session. The cookie alone is not enough: the
 * session must also be live in the session store, so logout ends it on the server.
 */
export interface Session {
  readonly user: string;
  readonly role: Role;
  /** random id; CSRF tokens are bound to it */
  readonly sid: string;
  /** expiry, epoch ms */
  readonly exp: number;
}

interface Payload {
  u: string;
  r: Role;
  sid: string;
  exp: number;
  /** fingerprint of the password hash */
  pw: string;
}

export class SessionCodec {
  constructor(
    private readonly secret: string,
    private readonly ttlMs: number,
  ) {
    if (secret.length < 32) throw new RangeError('session secret must be at least 32 characters');
  }

  issue(user: AdminUser, now = Date.now()): { value: string; session: Session } {
    const payload: Payload = {
      u: user.name,
      r: user.role,
      sid: randomBytes(16).toString('base64url'),
      exp: now + this.ttlMs,
      pw: passwordFingerprint(user.passwordHash),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return {
      value: `${body}.${this.sign(body)}`,
      session: { user: payload.u, role: payload.r, sid: payload.sid, exp: payload.exp },
    };
  }

  /** The session when the cookie is authentic, unexpired and its user still exists unchanged. */
  verify(value: string | undefined, users: readonly AdminUser[], now = Date.now()): Session | undefined {
    if (!value || value.length > 2048) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const body = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return undefined;
    }
    if (typeof payload.exp !== 'number' || payload.exp <= now) return undefined;
    const user = users.find((u) => u.name === payload.u);
    if (!user || user.role !== payload.r || passwordFingerprint(user.passwordHash) !== payload.pw) return undefined;
    return { user: payload.u, role: payload.r, sid: payload.sid, exp: payload.exp };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(`session.${body}`).digest('base64url');
  }
}

/** A short digest of a password hash: sessions bind it, so a new password ends old sessions. */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16);
}
