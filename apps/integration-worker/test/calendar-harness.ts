import { randomUUID } from 'node:crypto';
import { saveCalendarAccount } from '@coldcopy/db';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createTokenCipher, tokenBinding } from '../src/crypto/token-cipher.js';
import type { IntegrationDeps } from '../src/deps.js';
import { type GoogleCalendarEmulator, startGoogleCalendarEmulator } from '../src/emulators/google-calendar-emulator.js';
import { type GraphEmulator, startGraphEmulator } from '../src/emulators/graph-emulator.js';
import { type OAuthEmulator, startOAuthEmulator } from '../src/emulators/oauth-emulator.js';
import { useIntegrationHarness } from './harness.js';
import { CLIENT_ID, CLIENT_SECRET, TEST_TOKEN_KEYS } from './keys.js';

/**
 * The integration harness plus the calendar emulators: Google Calendar and Microsoft Graph, each
 * with its own OAuth token endpoint, over real sockets; the app's env points the real clients
 * (`@googleapis/calendar`, Graph over fetch) at them.
 */
export function useCalendarHarness(options: { pageSize?: number; graphPerTenSeconds?: number } = {}) {
  const h = useIntegrationHarness();
  const c = {} as { googleOAuth: OAuthEmulator; microsoftOAuth: OAuthEmulator; google: GoogleCalendarEmulator; graph: GraphEmulator };
  beforeAll(async () => {
    c.googleOAuth = await startOAuthEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTtlSeconds: 3600 });
    c.microsoftOAuth = await startOAuthEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTtlSeconds: 3600, rotateRefreshTokens: true });
    c.google = await startGoogleCalendarEmulator({ oauth: c.googleOAuth });
    c.graph = await startGraphEmulator({ oauth: c.microsoftOAuth, ...(options.graphPerTenSeconds ? { perTenSeconds: options.graphPerTenSeconds } : {}) });
  });
  afterAll(async () => {
    await c.google?.close();
    await c.graph?.close();
    await c.googleOAuth?.close();
    await c.microsoftOAuth?.close();
  });
  beforeEach(() => {
    for (const e of [c.google, c.graph, c.googleOAuth, c.microsoftOAuth]) {
      e.requests.length = 0;
      e.clearFaults();
    }
  });

  /** the calendar variables of the app's env, pointed at the emulators */
  const env = (): Record<string, string> => ({
    GOOGLE_CALENDAR_ROOT_URL: `${c.google.url}/`,
    GOOGLE_TOKEN_URL: `${c.google.url}/token`,
    GOOGLE_CLIENT_ID: CLIENT_ID,
    GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
    MICROSOFT_GRAPH_URL: c.graph.url,
    MICROSOFT_TOKEN_URL: `${c.graph.url}/common/oauth2/v2.0/token`,
    MICROSOFT_CLIENT_ID: CLIENT_ID,
    MICROSOFT_CLIENT_SECRET: CLIENT_SECRET,
    CALENDAR_PAGE_SIZE: String(options.pageSize ?? 5),
    PROVIDER_WAIT_MAX_MS: '3000',
  });
  const deps = (over: Record<string, string> = {}): IntegrationDeps => h.deps({ ...env(), ...over });

  /** A calendar account (its own workspace unless given) with tokens granted by the provider's OAuth emulator, stored sealed. */
  async function seedAccount(opts: { provider: 'google' | 'microsoft'; email?: string; workspaceId?: string; expired?: boolean }) {
    const workspaceId = opts.workspaceId ?? randomUUID();
    if (!opts.workspaceId) {
      await h.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'Calendar Co', $2, 'active')`, [
        workspaceId,
        `cal-${workspaceId.slice(0, 8)}`,
      ]);
    }
    const email = opts.email ?? `rep.${randomUUID().slice(0, 8)}@acme.test`;
    const oauth = opts.provider === 'google' ? c.googleOAuth : c.microsoftOAuth;
    const grant = oauth.grant(email);
    if (opts.expired) oauth.expire(email);
    const cipher = createTokenCipher(TEST_TOKEN_KEYS);
    const accountId = randomUUID();
    await saveCalendarAccount(
      h.pool,
      workspaceId,
      {
        provider: opts.provider,
        email,
        tokens: {
          accessToken: cipher.encrypt(grant.accessToken, tokenBinding('calendar_accounts', accountId, 'access')),
          refreshToken: cipher.encrypt(grant.refreshToken, tokenBinding('calendar_accounts', accountId, 'refresh')),
          keyId: cipher.currentKeyId,
          expiresAt: new Date(Date.now() + (opts.expired ? -60_000 : grant.expiresIn * 1000)),
        },
      },
      accountId,
    );
    return { workspaceId, accountId, email, grant };
  }

  return Object.assign(c, { h, env, deps, seedAccount });
}
