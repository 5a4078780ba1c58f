/** The settings handlers read, derived from env in deps.ts (tests build it directly). */
export interface EnrichmentConfig {
  readonly ttlMs: { readonly person: number; readonly company: number; readonly verify: number; readonly negative: number };
  readonly maxDeferrals: number;
  /** re-queue delay of an address whose MX lookup failed (DNS did not answer) */
  readonly dnsRetryMs: number;
  /** how often batch-enrich reads its progress while it waits for its children */
  readonly batchPollMs: number;
}

const DAY = 86_400_000;

export function enrichmentConfig(env: {
  CACHE_PERSON_TTL_DAYS: number;
  CACHE_COMPANY_TTL_DAYS: number;
  CACHE_VERIFY_TTL_DAYS: number;
  CACHE_NEGATIVE_TTL_HOURS: number;
  MAX_DEFERRALS: number;
}): EnrichmentConfig {
  return {
    ttlMs: {
      person: env.CACHE_PERSON_TTL_DAYS * DAY,
      company: env.CACHE_COMPANY_TTL_DAYS * DAY,
      verify: env.CACHE_VERIFY_TTL_DAYS * DAY,
      negative: env.CACHE_NEGATIVE_TTL_HOURS * 3_600_000,
    },
    maxDeferrals: env.MAX_DEFERRALS,
    dnsRetryMs: 60_000,
    batchPollMs: 1000,
  };
}
