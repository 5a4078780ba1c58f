import { z } from 'zod';

/**
 * The enrichment worker's own variables; runWorkerApp merges them with the shared worker variables
 * (REDIS_URL, BULL_PREFIX, ENRICHMENT_CONCURRENCY, HEALTH_PORT, …) and parses them in main.ts.
 * Provider keys are secrets: read here, handed to the adapters, never logged.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const rate = (defaultValue: number) => z.coerce.number().positive().default(defaultValue);
const flag = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

export const enrichmentWorkerEnv = {
  /** `postgres://user:password@host:5432/database` */
  DATABASE_URL: z.string().min(1, 'required (postgres://user:password@host:5432/database)'),
  /** Postgres pool size per process; keep it near ENRICHMENT_CONCURRENCY */
  DATABASE_POOL_MAX: int(10),
  /** `disable`, `require` or `verify-full` (read by @coldcopy/db) */
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM of the managed database's CA (read by @coldcopy/db) */
  DATABASE_CA_CERT: z.string().optional(),

  /** Hunter API base URL (an emulator in development) */
  HUNTER_BASE_URL: z.url().default('https://api.hunter.io/v2'),
  /** Hunter API key; unset: jobs for the Hunter provider fail permanently, naming it */
  HUNTER_API_KEY: z.string().min(1).optional(),
  /** Hunter requests per second per key (finder, domain search) */
  HUNTER_RATE_PER_SECOND: rate(15),
  /** Hunter requests per minute per key (finder, domain search) */
  HUNTER_RATE_PER_MINUTE: rate(500),
  /** Hunter email-verifier requests per second per key */
  HUNTER_VERIFY_RATE_PER_SECOND: rate(10),
  /** Hunter email-verifier requests per minute per key */
  HUNTER_VERIFY_RATE_PER_MINUTE: rate(300),
  /** Hunter requests in flight at once per endpoint, across replicas */
  HUNTER_MAX_CONCURRENT: int(10),

  /** Apollo API base URL (an emulator in development) */
  APOLLO_BASE_URL: z.url().default('https://api.apollo.io/api/v1'),
  /** Apollo master API key; unset: jobs for the Apollo provider fail permanently, naming it */
  APOLLO_API_KEY: z.string().min(1).optional(),
  /** Apollo enrichment requests per minute per endpoint (your plan: free 50, paid 1000); bulk endpoints get a tenth */
  APOLLO_RATE_PER_MINUTE: rate(50),
  /** Apollo enrichment requests per hour per endpoint (free plan 200) */
  APOLLO_RATE_PER_HOUR: rate(200),
  /** Apollo enrichment requests per day per endpoint (free plan 600) */
  APOLLO_RATE_PER_DAY: rate(600),
  /** Apollo requests in flight at once per endpoint, across replicas */
  APOLLO_MAX_CONCURRENT: int(5),

  /** per-request timeout of a provider call */
  PROVIDER_TIMEOUT_MS: int(15_000),
  /** longest in-handler wait for a provider slot; longer waits re-queue the request with a delay */
  PROVIDER_WAIT_MAX_MS: int(5_000, 0),
  /** how late a request may reach the provider after its slot (widens the spacing a little) */
  PROVIDER_RATE_SLACK_MS: int(20, 0),
  /** concurrency caps and long windows shared by replicas through Redis (bottleneck); false: per process */
  PROVIDER_LIMITS_SHARED: flag(true),
  /** re-queue delay after Hunter's 202 (verification still running) */
  HUNTER_PENDING_RETRY_MS: int(10_000),
  /** re-queue delay after Hunter's 222 (SMTP failure) */
  HUNTER_SMTP_RETRY_MS: int(300_000),
  /** re-queue delay after a rate answer without retry-after (Hunter 403, Apollo 429) */
  PROVIDER_RATE_RETRY_MS: int(2_000),
  /** a request re-queued this many times (rate answers, 202/222) gives up: failed, or `unknown` for verification */
  MAX_DEFERRALS: int(20),

  /** cache lifetime of person data, days */
  CACHE_PERSON_TTL_DAYS: int(30),
  /** cache lifetime of company data, days (providers.md: 30-90) */
  CACHE_COMPANY_TTL_DAYS: int(60),
  /** cache lifetime of verification results, days (providers.md: 7-30) */
  CACHE_VERIFY_TTL_DAYS: int(14),
  /** cache lifetime of "no match" and unknown domains, hours */
  CACHE_NEGATIVE_TTL_HOURS: int(24),

  /** comma-separated DNS servers (`host:port`) for verify-email's MX lookups; unset: the system's */
  DNS_SERVERS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
};

export type EnrichmentWorkerEnvShape = typeof enrichmentWorkerEnv;
