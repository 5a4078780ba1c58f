import { randomBytes } from 'node:crypto';
import { type Answer, HttpEmulator } from './http-emulator.js';

/**
 * An OAuth 2 token endpoint (`POST /oauth/v3/token`, `/services/oauth2/token`, `/token`: the same
 * refresh grant, form-encoded). It issues long opaque tokens (HubSpot's run to 300 characters),
 * expires access tokens after `accessTtlSeconds`, refuses revoked refresh tokens with 400
 * `invalid_grant`, and is the authority the API emulators ask whether a bearer token is valid.
 */
export interface OAuthGrant {
  readonly account: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
}

export interface OAuthEmulator extends HttpEmulator {
  /** a fresh grant for an account (what the OAuth callback would have stored) */
  grant(account: string): OAuthGrant;
  /** the account of a valid bearer token, 'expired', or undefined */
  check(authorization: string | undefined): string | undefined;
  /** every access token of the account expires now */
  expire(account: string): void;
  /** the account's refresh tokens stop working (app uninstalled) */
  revoke(account: string): void;
  /** refresh grants answered, in all */
  readonly refreshes: () => number;
  /** every token issued so far (tests grep storage and logs for them) */
  readonly issued: () => string[];
  /** the token endpoint's answer to a form body (API emulators that serve it on their own host) */
  tokenAnswer(body: unknown): Answer;
}

export function startOAuthEmulator(
  options: { clientId: string; clientSecret: string; accessTtlSeconds?: number; rotateRefreshTokens?: boolean },
  port = 0,
): Promise<OAuthEmulator> {
  const ttl = options.accessTtlSeconds ?? 1800;
  const access = new Map<string, { account: string; expiresAt: number }>();
  const refresh = new Map<string, { account: string; revoked: boolean }>();
  let refreshes = 0;
  const issued: string[] = [];
  const token = (kind: string) => `${kind}-${randomBytes(96).toString('base64url')}`;

  const issue = (account: string, refreshToken?: string): OAuthGrant => {
    const accessToken = token('at');
    issued.push(accessToken);
    access.set(accessToken, { account, expiresAt: Date.now() + ttl * 1000 });
    const rt = refreshToken ?? token('rt');
    if (!refreshToken) issued.push(rt);
    refresh.set(rt, { account, revoked: false });
    return { account, accessToken, refreshToken: rt, expiresIn: ttl };
  };

  const tokenEndpoint = (body: unknown): Answer => {
    const form = (body ?? {}) as Record<string, string>;
    if (form.client_id !== options.clientId || form.client_secret !== options.clientSecret) return { status: 401, body: { error: 'invalid_client' } };
    if (form.grant_type !== 'refresh_token') return { status: 400, body: { error: 'unsupported_grant_type' } };
    const held = refresh.get(form.refresh_token ?? '');
    if (!held || held.revoked) return { status: 400, body: { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' } };
    refreshes++;
    let rt: string | undefined = form.refresh_token;
    if (options.rotateRefreshTokens) {
      refresh.delete(rt!);
      rt = undefined;
    }
    const g = issue(held.account, rt);
    return { status: 200, body: { token_type: 'bearer', access_token: g.accessToken, refresh_token: g.refreshToken, expires_in: g.expiresIn } };
  };

  const emulator = new HttpEmulator('oauth', (req) => {
    if (
      req.method === 'POST' &&
      ['/oauth/v3/token', '/oauth/v1/token', '/services/oauth2/token', '/token', '/oauth2/v2.0/token'].some((p) => req.path.endsWith(p))
    ) {
      return { endpoint: 'token', answer: () => tokenEndpoint(req.body) };
    }
    return undefined;
  }) as OAuthEmulator;
  Object.assign(emulator, {
    grant: (account: string) => issue(account),
    check(authorization: string | undefined) {
      const bearer = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
      const held = bearer ? access.get(bearer) : undefined;
      if (!held) return undefined;
      return held.expiresAt <= Date.now() ? 'expired' : held.account;
    },
    expire(account: string) {
      for (const v of access.values()) if (v.account === account) v.expiresAt = 0;
    },
    revoke(account: string) {
      for (const v of refresh.values()) if (v.account === account) v.revoked = true;
      for (const v of access.values()) if (v.account === account) v.expiresAt = 0;
    },
    refreshes: () => refreshes,
    issued: () => [...issued],
    tokenAnswer: tokenEndpoint,
  });
  return emulator.listen(port).then(() => emulator);
}

/** The emulators' `POST /__emulator/grant { account }` control route: a fresh grant, as an OAuth callback would store it. */
export function grantControl(oauth: OAuthEmulator, method: string, path: string, body: unknown): Answer | undefined {
  if (path !== '/__emulator/grant' || method !== 'POST') return undefined;
  const account = (body as { account?: unknown } | undefined)?.account;
  return typeof account === 'string' && account ? { status: 200, body: oauth.grant(account) } : { status: 400, body: { error: 'account is required' } };
}
