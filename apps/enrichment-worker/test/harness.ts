import { randomUUID } from 'node:crypto';
import { closePool, createPool, ensureEnrichmentProvider, loadDbEnv, type Pool, setEnrichmentCredits } from '@coldcopy/db';
import { JobSecurity } from '@coldcopy/queue-core/producer';
import { createRateLimiter, type Worker } from '@coldcopy/queue-core/runtime';
import { type AppTestBase, freePort, useAppTestBase } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import { type EnrichmentConfig, enrichmentConfig } from '../src/config.js';
import { bulkPeopleRegistry, type EnrichmentDeps, providerRegistry } from '../src/deps.js';
import { type ApolloEmulator, startApolloEmulator } from '../src/emulators/apollo-emulator.js';
import { type DnsEmulator, startDnsEmulator } from '../src/emulators/dns-emulator.js';
import { type HunterEmulator, startHunterEmulator } from '../src/emulators/hunter-emulator.js';
import { handlers } from '../src/handlers/index.js';
import { createApolloProvider } from '../src/providers/apollo-provider.js';
import { type CallbackNotifier, createHttpsCallbackNotifier } from '../src/providers/callback.js';
import { createEnrichmentMetrics } from '../src/providers/enrichment-metrics.js';
import { createHunterProvider } from '../src/providers/hunter-provider.js';
import { createDnsMxResolver } from '../src/providers/mx-resolver.js';
import { createFakeAlerter } from '../src/providers/operations.js';
import type { EndpointLimit } from '../src/providers/provider-limits.js';
import { createRedisProviderLimits, type RedisProviderLimits } from '../src/providers/redis-provider-limits.js';

import { APOLLO_KEY, HUNTER_KEY, TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from './keys.js';

export { APOLLO_KEY, HUNTER_KEY, TEST_SIGNING_KEYS };
/** What producers and workers of the enrichment queue use: signed jobs, addresses encrypted. */
export const testSecurity = () => new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS });

export const testConfig: EnrichmentConfig = {
  ...enrichmentConfig({
    CACHE_PERSON_TTL_DAYS: 30,
    CACHE_COMPANY_TTL_DAYS: 60,
    CACHE_VERIFY_TTL_DAYS: 14,
    CACHE_NEGATIVE_TTL_HOURS: 24,
    MAX_DEFERRALS: 20,
  }),
  batchPollMs: 100,
  dnsRetryMs: 500,
};

/** The demo MX table of the test DNS server. */
export const MX_ZONE = {
  mx: { 'acme.com': ['mx1.acme.com', 'mx2.acme.com'], 'globex.com': ['mx.globex.com'], 'gmail.com': ['gmail-smtp-in.l.google.com'], 'nomx.com': [] },
  servfail: ['dnsdown.com'],
};

/**
 * One test database, one Hunter and one Apollo emulator and one DNS server per file; a Bull/Redis
 * prefix, fresh emulator logs and faults, and an active provider per test. Real adapters over real
 * sockets everywhere; only the alerter is a fake with memory.
 */
export function useEnrichmentHarness() {
  const state = {} as AppTestBase<Pool> & {
    hunter: HunterEmulator;
    apollo: ApolloEmulator;
    dns: DnsEmulator;
    hunterId: string;
    apolloId: string;
  };
  useAppTestBase(state, { openPool: (url) => createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '12' })), closePool, security: testSecurity });
  beforeAll(async () => {
    state.hunter = await startHunterEmulator({ apiKey: HUNTER_KEY, perSecond: 1000, perMinute: 60_000, verifyPerSecond: 1000, verifyPerMinute: 60_000 });
    state.apollo = await startApolloEmulator({ apiKey: APOLLO_KEY, perMinute: 100_000, perHour: 1_000_000, perDay: 10_000_000 });
    state.dns = await startDnsEmulator(MX_ZONE, await freePort());
    state.hunterId = (await ensureEnrichmentProvider(state.pool, { name: 'hunter', type: 'multi' })).id;
    state.apolloId = (await ensureEnrichmentProvider(state.pool, { name: 'apollo', type: 'multi' })).id;
  });
  afterAll(async () => {
    await state.hunter?.close();
    await state.apollo?.close();
    await state.dns?.close();
  });
  beforeEach(async () => {
    // bottleneck's keys are `b_<id>_…`, its ids start with the prefix; deleted last, after the limits close
    state.defer(async () => {
      const keys = await state.redis.keys(`b_${state.prefix}:*`);
      if (keys.length) await state.redis.unlink(...keys);
    });
    for (const e of [state.hunter, state.apollo]) {
      e.requests.length = 0;
      e.clearFaults();
      e.credits = Infinity;
    }
    await state.pool.query('UPDATE enrichment_providers SET is_active = true, disabled_reason = NULL, disabled_at = NULL');
    await state.pool.query('DELETE FROM enrichment_cache');
  });

  const unlimited: EndpointLimit = { perSecond: 10_000, maxConcurrent: 50 };

  /** Real deps against the emulators; limits default to "out of the way" unless a test sets them. */
  function deps(
    options: {
      limits?: Partial<Record<'hunter' | 'apollo', Partial<Record<'person' | 'person-bulk' | 'company' | 'verify', EndpointLimit>>>>;
      shared?: boolean;
      config?: Partial<EnrichmentConfig>;
      callbacks?: CallbackNotifier;
      bulkLingerMs?: number;
    } = {},
  ) {
    const limitsRedis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    const limits: RedisProviderLimits = createRedisProviderLimits({
      redis: limitsRedis,
      limiter: createRateLimiter(limitsRedis, { prefix: `${state.prefix}:enrichment:rate` }),
      prefix: `${state.prefix}:enrichment`,
      keys: { hunter: HUNTER_KEY, apollo: APOLLO_KEY },
      limits: {
        hunter: { person: unlimited, company: unlimited, verify: unlimited, ...options.limits?.hunter },
        apollo: { person: unlimited, company: unlimited, 'person-bulk': unlimited, ...options.limits?.apollo },
      },
      maxWaitMs: 5000,
      slackMs: 0,
      marginPercent: 0,
      shared: options.shared ?? true,
    });
    state.defer(async () => {
      await limits.close();
      if (limitsRedis.status !== 'end') limitsRedis.disconnect();
    });
    const alerter = createFakeAlerter();
    const common = { limits, timeoutMs: 5000, rateLimitRetryMs: 300 };
    const adapters = {
      hunter: createHunterProvider({ ...common, baseUrl: `${state.hunter.url}/v2`, apiKey: HUNTER_KEY, pendingRetryMs: 200, smtpRetryMs: 300 }),
      apollo: createApolloProvider({ ...common, baseUrl: `${state.apollo.url}/api/v1`, apiKey: APOLLO_KEY }),
    };
    const value: EnrichmentDeps = {
      pool: state.pool,
      provider: providerRegistry(adapters),
      bulkPeople: bulkPeopleRegistry(adapters, options.bulkLingerMs ?? 50),
      mx: createDnsMxResolver({ servers: [state.dns.server], timeoutMs: 1000 }),
      callbacks: options.callbacks ?? createHttpsCallbackNotifier({ allowPrivate: false, timeoutMs: 2000 }),
      alerter,
      metrics: createEnrichmentMetrics(),
      config: { ...testConfig, ...options.config },
      now: () => new Date(),
    };
    return { deps: value, alerter, limits };
  }

  /** An in-process worker on the test prefix. */
  function worker(d: EnrichmentDeps, concurrency = 10): Promise<Worker> {
    const locks = { lockDuration: 5000, stalledInterval: 2000 };
    return state.startWorker({ queue: 'enrichment', handlers, deps: d, concurrency, locks, closeGraceMs: 2000 });
  }

  /** A workspace with `leads` leads at a few company domains, and credits with both providers. */
  async function seed(options: { leads?: number; credits?: number; domains?: readonly string[]; names?: (i: number) => [string, string] } = {}) {
    const workspaceId = randomUUID();
    await state.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'Enrich Co', $2, 'active')`, [
      workspaceId,
      `ws-${workspaceId.slice(0, 8)}`,
    ]);
    const domains = options.domains ?? ['acme.com', 'globex.com', 'initech.io'];
    const n = options.leads ?? 1;
    const leads = Array.from({ length: n }, (_, i) => {
      const [first, last] = options.names?.(i) ?? [`first${i}`, `last${i}`];
      return { id: randomUUID(), email: `${first}.${last}@${domains[i % domains.length]}`.toLowerCase(), first, last };
    });
    await state.pool.query(
      `INSERT INTO leads (id, workspace_id, email, first_name, last_name)
       SELECT id, $1, email, f, l FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS t(id, email, f, l)`,
      [workspaceId, leads.map((l) => l.id), leads.map((l) => l.email), leads.map((l) => l.first), leads.map((l) => l.last)],
    );
    await setEnrichmentCredits(state.pool, workspaceId, state.hunterId, options.credits ?? 100_000);
    await setEnrichmentCredits(state.pool, workspaceId, state.apolloId, options.credits ?? 100_000);
    return { workspaceId, leads };
  }

  return Object.assign(state, { deps, worker, seed });
}
