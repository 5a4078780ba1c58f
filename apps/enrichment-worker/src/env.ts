import { dbEnv } from '@coldcopy/db/env';
import { workerAppEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';

/**
 * The enrichment worker's env: `envSchema` (the runtime's variables from queue-core env.ts, the
 * database's and the ones below, each documented in `.meta()`) is the one schema main.ts hands to
 * runWorkerApp (parsed once) and the deploy generator reads.
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
  ...dbEnv,

  HUNTER_BASE_URL: z.url().default('https://api.hunter.io/v2').meta({ description: 'Hunter API base URL (an emulator in development)' }),
  HUNTER_API_KEY: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Hunter API key; unset: jobs for the Hunter provider fail permanently, naming it', secret: true }),
  HUNTER_RATE_PER_SECOND: rate(15).meta({ description: 'Hunter requests per second per key (finder, domain search)' }),
  HUNTER_RATE_PER_MINUTE: rate(500).meta({ description: 'Hunter requests per minute per key (finder, domain search)' }),
  HUNTER_VERIFY_RATE_PER_SECOND: rate(10).meta({ description: 'Hunter email-verifier requests per second per key' }),
  HUNTER_VERIFY_RATE_PER_MINUTE: rate(300).meta({ description: 'Hunter email-verifier requests per minute per key' }),
  HUNTER_MAX_CONCURRENT: int(10).meta({ description: 'Hunter requests in flight at once per endpoint, across replicas' }),

  APOLLO_BASE_URL: z.url().default('https://api.apollo.io/api/v1').meta({ description: 'Apollo API base URL (an emulator in development)' }),
  APOLLO_API_KEY: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Apollo master API key; unset: jobs for the Apollo provider fail permanently, naming it', secret: true }),
  APOLLO_RATE_PER_MINUTE: rate(50).meta({
    description: 'Apollo enrichment requests per minute per endpoint (your plan: free 50, paid 1000); bulk endpoints get a tenth',
  }),
  APOLLO_RATE_PER_HOUR: rate(200).meta({ description: 'Apollo enrichment requests per hour per endpoint (free plan 200)' }),
  APOLLO_RATE_PER_DAY: rate(600).meta({ description: 'Apollo enrichment requests per day per endpoint (free plan 600)' }),
  ENRICHMENT_BULK_LINGER_MS: int(100, 0).meta({
    description: "how long a batch child's person lookup waits for others to share one bulk request (Apollo people/bulk_match, up to 10 people)",
  }),
  APOLLO_MAX_CONCURRENT: int(5).meta({ description: 'Apollo requests in flight at once per endpoint, across replicas' }),

  PROVIDER_TIMEOUT_MS: int(15_000).meta({ description: 'per-request timeout of a provider call' }),
  PROVIDER_WAIT_MAX_MS: int(5_000, 0).meta({ description: 'longest in-handler wait for a provider slot; longer waits re-queue the request with a delay' }),
  PROVIDER_RATE_SLACK_MS: int(20, 0).meta({
    description:
      'jitter budget (ms) between the limiter recording a call and its arrival at the provider: the window check counts over the window plus this; half of it is for the way from asking the check to writing the request (checked on the monotonic clock in the same turn as the write: a staler admission is released and asked again), half for the way on to the provider; caps the rate at 1000 / (1000 + slack) of the planned limit',
  }),
  PROVIDER_RATE_MARGIN_PERCENT: z.coerce.number().min(0).max(50).default(1).meta({
    description:
      'safety margin: per-second and per-minute provider limits are planned this % lower, in whole calls (at 1 %, 100/s plans 99/s; a margin under one call is none: 15/s stays 15/s), for what no check in the worker can exclude (the process losing the CPU between its last check and the socket write); at 1 % and 20 ms of slack, 100/s is paced at 99 per 1,020 ms (97.1 % of the limit)',
  }),
  PROVIDER_LIMITS_SHARED: flag(true).meta({
    description: 'concurrency caps and long windows shared by replicas through Redis (bottleneck); false: per process',
  }),
  HUNTER_PENDING_RETRY_MS: int(10_000).meta({ description: "re-queue delay after Hunter's 202 (verification still running)" }),
  HUNTER_SMTP_RETRY_MS: int(300_000).meta({ description: "re-queue delay after Hunter's 222 (SMTP failure)" }),
  PROVIDER_RATE_RETRY_MS: int(2_000).meta({ description: 're-queue delay after a rate answer without retry-after (Hunter 403, Apollo 429)' }),
  MAX_DEFERRALS: int(20).meta({ description: 'a request re-queued this many times (rate answers, 202/222) gives up: failed, or `unknown` for verification' }),

  CACHE_PERSON_TTL_DAYS: int(30).meta({ description: 'cache lifetime of person data, days' }),
  CACHE_COMPANY_TTL_DAYS: int(60).meta({ description: 'cache lifetime of company data, days (providers.md: 30-90)' }),
  CACHE_VERIFY_TTL_DAYS: int(14).meta({ description: 'cache lifetime of verification results, days (providers.md: 7-30)' }),
  CACHE_NEGATIVE_TTL_HOURS: int(24).meta({ description: 'cache lifetime of "no match" and unknown domains, hours' }),

  ENRICHMENT_CALLBACK_ALLOW_PRIVATE: flag(false).meta({
    description: 'development only: enrich-lead callback URLs may reach loopback and private addresses (refused otherwise, against SSRF)',
  }),
  ENRICHMENT_CALLBACK_TIMEOUT_MS: int(5_000).meta({ description: "how long enrich-lead's callback POST may take; a failed callback never fails the job" }),

  DNS_SERVERS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .meta({ description: "comma-separated DNS servers (`host:port`) for verify-email's MX lookups; unset: the system's" }),
};

export type EnrichmentWorkerEnvShape = typeof enrichmentWorkerEnv;

export const envSchema = workerAppEnv('enrichment', enrichmentWorkerEnv);
