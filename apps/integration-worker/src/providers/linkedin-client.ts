import { RetryAfterError } from '@coldcopy/queue-core';

/**
 * LinkedIn through the self-serve products only (providers.md §10): "Sign In with LinkedIn using
 * OpenID Connect" gives `GET /v2/userinfo` (scopes `openid profile email`): the signed-in member's
 * own `sub`, name, photo and email. That is the whole port. People search, profiles by id,
 * connections, messages and invitations, organisation and post analytics belong to partner
 * programs (Marketing, Sales Navigator SNAP, Talent, Learning, Compliance) ColdCopy is not in, and
 * the API Terms forbid mass messaging and reading a member's network without permission: no method
 * here can reach them.
 */
export interface LinkedinIdentity {
  /** OIDC `sub`: the member id for this app */
  readonly memberId: string;
  readonly name: string | null;
  readonly email: string | null;
  readonly pictureUrl: string | null;
}

export interface LinkedinApi {
  userinfo(accessToken: string, signal?: AbortSignal): Promise<LinkedinIdentity>;
}

/** 401: the member's token expired or was revoked; only a new sign-in helps (no refresh token for self-serve apps). */
export class LinkedinAuthError extends Error {
  override name = 'LinkedinAuthError';
}

export function createLinkedinClient(options: { baseUrl: string; timeoutMs: number }): LinkedinApi {
  return {
    async userinfo(accessToken, signal) {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      let res: Response;
      try {
        res = await fetch(new URL('/v2/userinfo', options.baseUrl), {
          headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        signal?.throwIfAborted();
        throw new Error(`LinkedIn userinfo unreachable: ${(err as Error).name}`, { cause: err });
      }
      if (res.status === 401) throw new LinkedinAuthError('LinkedIn refused the access token (401)');
      if (res.status === 429) {
        const seconds = Number(res.headers.get('retry-after'));
        throw new RetryAfterError(Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 60_000, 'LinkedIn throttled userinfo (429)');
      }
      if (!res.ok) throw new Error(`LinkedIn userinfo answered ${res.status}`);
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const text = (v: unknown) => (typeof v === 'string' && v ? v : null);
      const memberId = text(body.sub);
      if (!memberId) throw new Error('LinkedIn userinfo answered without sub');
      const name = text(body.name) ?? ([text(body.given_name), text(body.family_name)].filter(Boolean).join(' ') || null);
      return { memberId, name, email: text(body.email), pictureUrl: text(body.picture) };
    },
  };
}
