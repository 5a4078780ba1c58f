import { listActiveCalendarAccounts, type Pool } from '@coldcopy/db';
import { type CalendarTokens, createCalendarTokens, createOAuthClient, type OAuthClient, type TokenCipher } from '@coldcopy/integration-tokens';
import type { Redis } from 'ioredis';
import { type CalendarFreeBusy, createProviderFreeBusy } from './free-busy.js';
import { createGoogleCalendarClient, type GoogleCalendarApi } from './google.js';
import { createGraphCalendarClient, type GraphCalendarApi } from './graph.js';

/**
 * Calendar access for a worker (the integration worker's sync-calendar, the AI worker's free/busy):
 * the two provider clients, the accounts' sealed tokens through the token vault, the free/busy
 * adapter over them, and the sync settings, from the variables of ./env.ts.
 */
export interface CalendarAccess {
  readonly google: GoogleCalendarApi;
  readonly graph: GraphCalendarApi;
  readonly tokens: CalendarTokens;
  readonly freeBusy: CalendarFreeBusy;
  readonly settings: {
    readonly pastDays: number;
    readonly futureDays: number;
    /** longest in-handler wait for a rate-limit answer; longer ones retry the job later */
    readonly rateWaitMaxMs: number;
    /** meetings put on a calendar per run */
    readonly pushBatch: number;
  };
}

export interface CalendarAccessEnv {
  GOOGLE_CALENDAR_ROOT_URL: string;
  GOOGLE_TOKEN_URL: string;
  GOOGLE_CLIENT_ID?: string | undefined;
  GOOGLE_CLIENT_SECRET?: string | undefined;
  MICROSOFT_GRAPH_URL: string;
  MICROSOFT_TOKEN_URL: string;
  MICROSOFT_CLIENT_ID?: string | undefined;
  MICROSOFT_CLIENT_SECRET?: string | undefined;
  CALENDAR_PAGE_SIZE: number;
  CALENDAR_SYNC_PAST_DAYS: number;
  CALENDAR_SYNC_FUTURE_DAYS: number;
  PROVIDER_TIMEOUT_MS: number;
  PROVIDER_WAIT_MAX_MS: number;
}

export function createCalendarAccess(parts: {
  pool: Pool;
  /** the refresh locks' connection */
  redis: Redis;
  /** Redis key prefix of the refresh locks: the same in every app, e.g. `${BULL_PREFIX}:integration` */
  prefix: string;
  cipher: TokenCipher;
  env: CalendarAccessEnv;
  refreshAheadMs: number;
  lockMs: number;
}): CalendarAccess {
  const { env, pool } = parts;
  const timeoutMs = env.PROVIDER_TIMEOUT_MS;
  const clients: Record<string, OAuthClient | undefined> = {
    google:
      env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET
        ? createOAuthClient({
            provider: 'google',
            tokenUrl: env.GOOGLE_TOKEN_URL,
            clientId: env.GOOGLE_CLIENT_ID,
            clientSecret: env.GOOGLE_CLIENT_SECRET,
            timeoutMs,
          })
        : undefined,
    microsoft:
      env.MICROSOFT_CLIENT_ID && env.MICROSOFT_CLIENT_SECRET
        ? createOAuthClient({
            provider: 'microsoft',
            tokenUrl: env.MICROSOFT_TOKEN_URL,
            clientId: env.MICROSOFT_CLIENT_ID,
            clientSecret: env.MICROSOFT_CLIENT_SECRET,
            timeoutMs,
          })
        : undefined,
  };
  const tokens = createCalendarTokens({
    pool,
    redis: parts.redis,
    cipher: parts.cipher,
    oauth: (provider) => clients[provider],
    prefix: parts.prefix,
    refreshAheadMs: parts.refreshAheadMs,
    lockMs: parts.lockMs,
  });
  const google = createGoogleCalendarClient({ rootUrl: env.GOOGLE_CALENDAR_ROOT_URL, timeoutMs, pageSize: Math.min(env.CALENDAR_PAGE_SIZE, 2500) });
  const graph = createGraphCalendarClient({ baseUrl: env.MICROSOFT_GRAPH_URL, timeoutMs, pageSize: Math.min(env.CALENDAR_PAGE_SIZE, 1000) });
  const freeBusy = createProviderFreeBusy({
    accounts: async (workspaceId) =>
      (await listActiveCalendarAccounts(pool, workspaceId)).map((a) => ({
        id: a.id,
        workspaceId: a.workspace_id,
        provider: a.provider,
        email: a.email,
        calendarIds: a.calendar_ids.length ? a.calendar_ids : a.primary_calendar_id ? [a.primary_calendar_id] : [],
      })),
    accessToken: async (account, signal) => (await tokens.accessToken(account.workspaceId, account.id, signal)).accessToken,
    google,
    graph,
  });
  return {
    google,
    graph,
    tokens,
    freeBusy,
    settings: { pastDays: env.CALENDAR_SYNC_PAST_DAYS, futureDays: env.CALENDAR_SYNC_FUTURE_DAYS, rateWaitMaxMs: env.PROVIDER_WAIT_MAX_MS, pushBatch: 50 },
  };
}
