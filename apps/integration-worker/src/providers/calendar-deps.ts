import {
  type CalendarFreeBusy,
  createGoogleCalendarClient,
  createGraphCalendarClient,
  createProviderFreeBusy,
  type GoogleCalendarApi,
  type GraphCalendarApi,
} from '@coldcopy/calendar';
import { listActiveCalendarAccounts, type Pool } from '@coldcopy/db';
import type { Redis } from 'ioredis';
import type { TokenCipher } from '../crypto/token-cipher.js';
import { type CalendarTokens, createCalendarTokens } from './calendar-tokens.js';
import { createOAuthClient, type OAuthClient } from './oauth-client.js';

/** What sync-calendar and free/busy use: the two provider clients, the accounts' tokens, settings. */
export interface CalendarDeps {
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

export interface CalendarDepsEnv {
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

export function buildCalendarDeps(parts: {
  pool: Pool;
  redis: Redis;
  prefix: string;
  cipher: TokenCipher;
  env: CalendarDepsEnv;
  refreshAheadMs: number;
  lockMs: number;
}): CalendarDeps {
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
