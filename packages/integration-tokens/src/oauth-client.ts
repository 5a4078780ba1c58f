/**
 * An OAuth 2 token endpoint (HubSpot OAuth v3, Salesforce, Google, Microsoft): the refresh grant,
 * parameters in the form body. Errors carry the HTTP status and the OAuth `error` code only, never
 * a token or the response body.
 */
export interface RefreshedTokens {
  readonly accessToken: string;
  /** a rotated refresh token, when the provider sends one */
  readonly refreshToken?: string;
  readonly expiresInSeconds: number;
}

export interface OAuthClient {
  refresh(refreshToken: string, signal?: AbortSignal): Promise<RefreshedTokens>;
}

/** The grant is revoked or invalid (`invalid_grant`, 400/401 from the token endpoint): retrying cannot help. */
export class OAuthGrantError extends Error {
  override name = 'OAuthGrantError';
  constructor(
    readonly provider: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(`${provider} refused the refresh token (${status} ${code})`);
  }
}

/** The token endpoint failed for a reason a retry may fix (5xx, 429, network). */
export class OAuthUnavailableError extends Error {
  override name = 'OAuthUnavailableError';
  constructor(
    readonly provider: string,
    readonly status: number | undefined,
  ) {
    super(`${provider} token endpoint unavailable${status ? ` (HTTP ${status})` : ''}`);
  }
}

export function createOAuthClient(options: { provider: string; tokenUrl: string; clientId: string; clientSecret: string; timeoutMs: number }): OAuthClient {
  return {
    async refresh(refreshToken, signal) {
      const body = new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: options.clientId,
        client_secret: options.clientSecret,
        refresh_token: refreshToken,
      });
      let res: Response;
      try {
        res = await fetch(options.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs),
        });
      } catch {
        throw new OAuthUnavailableError(options.provider, undefined);
      }
      const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown; error?: unknown };
      if (res.ok && typeof json.access_token === 'string' && json.access_token) {
        const expires = Number(json.expires_in);
        return {
          accessToken: json.access_token,
          ...(typeof json.refresh_token === 'string' && json.refresh_token ? { refreshToken: json.refresh_token } : {}),
          expiresInSeconds: Number.isFinite(expires) && expires > 0 ? expires : 1800,
        };
      }
      const code = typeof json.error === 'string' ? json.error.slice(0, 60) : 'unknown_error';
      if (res.status === 400 || res.status === 401) throw new OAuthGrantError(options.provider, code, res.status);
      throw new OAuthUnavailableError(options.provider, res.status);
    },
  };
}
