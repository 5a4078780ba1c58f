import { closePool, createPool, dbConfig, type Pool } from '@coldcopy/db';
import { createRateLimiter, type WorkerAppTools, type WorkerEnv } from '@coldcopy/queue-core/runtime';
import { Redis } from 'ioredis';
import { type EnrichmentConfig, enrichmentConfig } from './config.js';
import type { enrichmentWorkerEnv } from './env.js';
import { createApolloProvider } from './providers/apollo-provider.js';
import { type CallbackNotifier, createHttpsCallbackNotifier } from './providers/callback.js';
import type { EnrichmentProvider, ProviderName } from './providers/enrichment-provider.js';
import { createEnrichmentMetrics, type EnrichmentMetrics } from './providers/enrichment-metrics.js';
import { createHunterProvider } from './providers/hunter-provider.js';
import { createDnsMxResolver, type MxResolver } from './providers/mx-resolver.js';
import type { Alerter } from './providers/operations.js';
import { createPeopleBatcher, hasBulkPeople, type PeopleBatcher } from './providers/people-batcher.js';
import type { ProviderLimits } from './providers/provider-limits.js';
import { createRedisProviderLimits, type RedisProviderLimits } from './providers/redis-provider-limits.js';

/** Everything the handlers use. Built here (the only file naming real adapters) or from fakes in tests. */
export interface EnrichmentDeps {
  readonly pool: Pool;
  /** the adapter for an `enrichment_providers.name`; undefined when its key is not configured */
  provider(name: string): EnrichmentProvider | undefined;
  /**
   * The provider's bulk person lookup (Apollo `people/bulk_match`) behind a batcher, for batch
   * children; undefined when the provider has no bulk endpoint (they call `findPerson`).
   */
  bulkPeople(name: string): PeopleBatcher | undefined;
  readonly mx: MxResolver;
  /** enrich-lead's optional webhook (https, public addresses only unless allowed for development) */
  readonly callbacks: CallbackNotifier;
  readonly alerter: Alerter;
  readonly metrics: EnrichmentMetrics;
  readonly config: EnrichmentConfig;
  readonly now: () => Date;
}

export type EnrichmentEnv = WorkerEnv<'enrichment', typeof enrichmentWorkerEnv>;

const owned = new WeakMap<EnrichmentDeps, { pool: Pool; limits: RedisProviderLimits; redis: Redis }>();

/** A registry over the configured adapters: `enrichment_providers.name` is matched case-insensitively. */
export function providerRegistry(adapters: Partial<Record<ProviderName, EnrichmentProvider>>): (name: string) => EnrichmentProvider | undefined {
  return (name) => adapters[name.trim().toLowerCase() as ProviderName];
}

/** One batcher per adapter with a bulk person endpoint (Apollo), by `enrichment_providers.name`. */
export function bulkPeopleRegistry(adapters: Partial<Record<ProviderName, EnrichmentProvider>>, lingerMs: number): (name: string) => PeopleBatcher | undefined {
  const batchers = new Map<string, PeopleBatcher>();
  for (const [name, adapter] of Object.entries(adapters)) if (adapter && hasBulkPeople(adapter)) batchers.set(name, createPeopleBatcher(adapter, { lingerMs }));
  return (name) => batchers.get(name.trim().toLowerCase());
}

export function createProviders(env: EnrichmentEnv, limits: ProviderLimits): Partial<Record<ProviderName, EnrichmentProvider>> {
  return {
    ...(env.HUNTER_API_KEY
      ? {
          hunter: createHunterProvider({
            baseUrl: env.HUNTER_BASE_URL,
            apiKey: env.HUNTER_API_KEY,
            limits,
            timeoutMs: env.PROVIDER_TIMEOUT_MS,
            pendingRetryMs: env.HUNTER_PENDING_RETRY_MS,
            smtpRetryMs: env.HUNTER_SMTP_RETRY_MS,
            rateLimitRetryMs: env.PROVIDER_RATE_RETRY_MS,
          }),
        }
      : {}),
    ...(env.APOLLO_API_KEY
      ? {
          apollo: createApolloProvider({
            baseUrl: env.APOLLO_BASE_URL,
            apiKey: env.APOLLO_API_KEY,
            limits,
            timeoutMs: env.PROVIDER_TIMEOUT_MS,
            rateLimitRetryMs: env.PROVIDER_RATE_RETRY_MS,
          }),
        }
      : {}),
  };
}

/** Provider limits from env (providers.md §6 defaults; Apollo per plan). */
export function providerLimitSettings(env: EnrichmentEnv) {
  const apollo = (share: number) => ({
    perMinute: env.APOLLO_RATE_PER_MINUTE * share,
    perHour: env.APOLLO_RATE_PER_HOUR * share,
    perDay: env.APOLLO_RATE_PER_DAY * share,
    maxConcurrent: env.APOLLO_MAX_CONCURRENT,
  });
  const hunter = { perSecond: env.HUNTER_RATE_PER_SECOND, perMinute: env.HUNTER_RATE_PER_MINUTE, maxConcurrent: env.HUNTER_MAX_CONCURRENT };
  return {
    hunter: {
      person: hunter,
      company: hunter,
      verify: { perSecond: env.HUNTER_VERIFY_RATE_PER_SECOND, perMinute: env.HUNTER_VERIFY_RATE_PER_MINUTE, maxConcurrent: env.HUNTER_MAX_CONCURRENT },
    },
    apollo: { person: apollo(1), company: apollo(1), 'person-bulk': apollo(0.1) },
  };
}

export async function createDeps(env: EnrichmentEnv, tools: WorkerAppTools): Promise<EnrichmentDeps> {
  const pool = createPool(dbConfig(env, 'coldcopy-enrichment-worker'));
  // the limits' own connection: their scripts run on every provider call and must not queue
  // behind Bull's commands (bottleneck duplicates it for its subscriber)
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 3, connectionName: 'coldcopy-enrichment-worker-limits' });
  const metrics = createEnrichmentMetrics(tools.registry);
  const limits = createRedisProviderLimits({
    redis,
    limiter: createRateLimiter(redis, { prefix: `${env.BULL_PREFIX}:enrichment:rate` }),
    prefix: `${env.BULL_PREFIX}:enrichment`,
    keys: { hunter: env.HUNTER_API_KEY, apollo: env.APOLLO_API_KEY },
    limits: providerLimitSettings(env),
    maxWaitMs: env.PROVIDER_WAIT_MAX_MS,
    slackMs: env.PROVIDER_RATE_SLACK_MS,
    marginPercent: env.PROVIDER_RATE_MARGIN_PERCENT,
    shared: env.PROVIDER_LIMITS_SHARED,
    onWrite: (provider, write) => metrics.providerWrite(provider, write.admitToWriteMs, write.staleAdmissions),
  });
  const adapters = createProviders(env, limits);
  const { logger } = tools;
  const deps: EnrichmentDeps = {
    pool,
    provider: providerRegistry(adapters),
    bulkPeople: bulkPeopleRegistry(adapters, env.ENRICHMENT_BULK_LINGER_MS),
    mx: createDnsMxResolver({ servers: env.DNS_SERVERS }),
    callbacks: createHttpsCallbackNotifier({ allowPrivate: env.ENRICHMENT_CALLBACK_ALLOW_PRIVATE, timeoutMs: env.ENRICHMENT_CALLBACK_TIMEOUT_MS }),
    alerter: {
      async alert(severity, message, fields) {
        logger.error(message, { alert: true, severity, ...fields });
      },
    },
    metrics,
    config: enrichmentConfig(env),
    now: () => new Date(),
  };
  owned.set(deps, { pool, limits, redis });
  return deps;
}

export async function closeDeps(deps: EnrichmentDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  await state.limits.close();
  if (state.redis.status !== 'end') await state.redis.quit().catch(() => state.redis.disconnect());
  await closePool(state.pool);
}
