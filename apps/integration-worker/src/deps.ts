import { type CalendarAccess, createCalendarAccess } from '@coldcopy/calendar';
import { closePool, createPool, dbConfig, type IntegrationProvider, type Pool } from '@coldcopy/db';
import { createRateLimiter, type WorkerAppTools, type WorkerEnv } from '@coldcopy/queue-core/runtime';
import type { Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { type IntegrationConfig, integrationConfig } from './config.js';
import { createTokenCipher, type TokenCipher } from './crypto/token-cipher.js';
import type { integrationWorkerEnv } from './env.js';
import { createProviderBudget, type ProviderBudget } from './providers/budgets.js';
import { createHubspotClient, type HubspotApi } from './providers/hubspot-client.js';
import { createIntegrationMetrics, type IntegrationMetrics } from './providers/integration-metrics.js';
import { createLinkedinClient, type LinkedinApi } from './providers/linkedin-client.js';
import { createOAuthClient, type OAuthClient } from './providers/oauth-client.js';
import { createSalesforceClient, type SalesforceApi } from './providers/salesforce-client.js';
import { createTokenManager, type TokenManager } from './providers/token-manager.js';

/** Everything the handlers use. Built here (the only file naming real adapters) or by the tests over emulators. */
export interface IntegrationDeps {
  readonly pool: Pool;
  readonly tokens: TokenManager;
  readonly hubspot: HubspotApi;
  readonly salesforce: SalesforceApi;
  /** Google and Microsoft calendars: sync-calendar and free/busy */
  readonly calendar: CalendarAccess;
  readonly linkedin: LinkedinApi;
  /** the stored tokens' cipher (LinkedIn sign-ins have no refresh, so no TokenManager) */
  readonly cipher: TokenCipher;
  readonly metrics: IntegrationMetrics;
  readonly config: IntegrationConfig;
}

export type IntegrationEnv = WorkerEnv<'integration', typeof integrationWorkerEnv>;

/** Budgets per provider account (portal, org, user), from env. */
export function budgetLimits(env: Pick<IntegrationEnv, 'HUBSPOT_REQUESTS_PER_10S' | 'HUBSPOT_SEARCH_PER_SECOND' | 'SALESFORCE_REQUESTS_PER_SECOND'>) {
  return {
    salesforce: { max: env.SALESFORCE_REQUESTS_PER_SECOND, perMs: 1000 },
    hubspot: { max: env.HUBSPOT_REQUESTS_PER_10S, perMs: 10_000 },
    'hubspot-search': { max: env.HUBSPOT_SEARCH_PER_SECOND, perMs: 1000 },
  };
}

/** The OAuth clients of the configured providers. */
export function oauthClients(env: IntegrationEnv): (provider: IntegrationProvider) => OAuthClient | undefined {
  const clients: Partial<Record<IntegrationProvider, OAuthClient>> = {
    ...(env.HUBSPOT_CLIENT_ID && env.HUBSPOT_CLIENT_SECRET
      ? {
          hubspot: createOAuthClient({
            provider: 'hubspot',
            tokenUrl: env.HUBSPOT_TOKEN_URL,
            clientId: env.HUBSPOT_CLIENT_ID,
            clientSecret: env.HUBSPOT_CLIENT_SECRET,
            timeoutMs: env.PROVIDER_TIMEOUT_MS,
          }),
        }
      : {}),
    ...(env.SALESFORCE_CLIENT_ID && env.SALESFORCE_CLIENT_SECRET
      ? {
          salesforce: createOAuthClient({
            provider: 'salesforce',
            tokenUrl: env.SALESFORCE_TOKEN_URL,
            clientId: env.SALESFORCE_CLIENT_ID,
            clientSecret: env.SALESFORCE_CLIENT_SECRET,
            timeoutMs: env.PROVIDER_TIMEOUT_MS,
          }),
        }
      : {}),
  };
  return (provider) => clients[provider];
}

const owned = new WeakMap<IntegrationDeps, { pool: Pool; redis: Redis }>();

export function buildDeps(parts: {
  pool: Pool;
  redis: Redis;
  prefix: string;
  env: IntegrationEnv;
  budget?: ProviderBudget;
  registry?: Registry;
}): IntegrationDeps {
  const { env, redis, prefix } = parts;
  const config = integrationConfig(env);
  const budget =
    parts.budget ??
    createProviderBudget({
      redis,
      limiter: createRateLimiter(redis, { prefix: `${prefix}:rate` }),
      prefix,
      limits: budgetLimits(env),
      maxWaitMs: env.PROVIDER_WAIT_MAX_MS,
    });
  const cipher = createTokenCipher(env.INTEGRATION_TOKEN_KEYS);
  return {
    pool: parts.pool,
    cipher,
    tokens: createTokenManager({
      pool: parts.pool,
      redis,
      cipher,
      oauth: oauthClients(env),
      prefix,
      refreshAheadMs: config.refreshAheadMs,
      lockMs: config.refreshLockMs,
    }),
    hubspot: createHubspotClient({ basePath: env.HUBSPOT_BASE_URL, budget, timeoutMs: config.timeoutMs, tenSecondlyWaitMs: config.hubspot.tenSecondlyWaitMs }),
    salesforce: createSalesforceClient({
      version: env.SALESFORCE_API_VERSION,
      budget,
      limitBackoffMs: env.SALESFORCE_LIMIT_BACKOFF_MS,
      usageCeiling: env.SALESFORCE_USAGE_CEILING,
    }),
    calendar: createCalendarAccess({ pool: parts.pool, redis, prefix, cipher, env, refreshAheadMs: config.refreshAheadMs, lockMs: config.refreshLockMs }),
    linkedin: createLinkedinClient({ baseUrl: env.LINKEDIN_API_URL, timeoutMs: config.timeoutMs }),
    metrics: createIntegrationMetrics(parts.registry),
    config,
  };
}

export async function createDeps(env: IntegrationEnv, tools: WorkerAppTools): Promise<IntegrationDeps> {
  const pool = createPool(dbConfig(env, 'coldcopy-integration-worker'));
  // the budgets' and refresh locks' own connection, apart from Bull's
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 3, connectionName: 'coldcopy-integration-worker-budgets' });
  const deps = buildDeps({ pool, redis, prefix: `${env.BULL_PREFIX}:integration`, env, registry: tools.registry });
  owned.set(deps, { pool, redis });
  return deps;
}

export async function closeDeps(deps: IntegrationDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  if (state.redis.status !== 'end') await state.redis.quit().catch(() => state.redis.disconnect());
  await closePool(state.pool);
}
