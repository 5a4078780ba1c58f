/** The settings the sync code reads, derived from env in deps.ts (tests build it directly). */
export interface IntegrationConfig {
  readonly refreshAheadMs: number;
  readonly refreshLockMs: number;
  readonly leaseMs: number;
  readonly overlapMs: number;
  readonly outboxMaxAttempts: number;
  readonly outboxRetryMs: number;
  readonly timeoutMs: number;
  /** how long before a LinkedIn token's expiry its member is asked to sign in again */
  readonly linkedinNoticeMs: number;
  readonly hubspot: {
    readonly batchSize: number;
    readonly searchPageSize: number;
    /** HubSpot's cap on one search query's results (re-window above it) */
    readonly searchCap: number;
    readonly tenSecondlyWaitMs: number;
  };
}

export function integrationConfig(env: {
  TOKEN_REFRESH_AHEAD_SECONDS: number;
  TOKEN_REFRESH_LOCK_MS: number;
  SYNC_LEASE_MS: number;
  SYNC_OVERLAP_MS: number;
  OUTBOX_MAX_ATTEMPTS: number;
  OUTBOX_RETRY_MS: number;
  PROVIDER_TIMEOUT_MS: number;
  HUBSPOT_TEN_SECONDLY_WAIT_MS: number;
  LINKEDIN_EXPIRY_NOTICE_DAYS: number;
}): IntegrationConfig {
  return {
    refreshAheadMs: env.TOKEN_REFRESH_AHEAD_SECONDS * 1000,
    refreshLockMs: env.TOKEN_REFRESH_LOCK_MS,
    leaseMs: env.SYNC_LEASE_MS,
    overlapMs: env.SYNC_OVERLAP_MS,
    outboxMaxAttempts: env.OUTBOX_MAX_ATTEMPTS,
    outboxRetryMs: env.OUTBOX_RETRY_MS,
    timeoutMs: env.PROVIDER_TIMEOUT_MS,
    linkedinNoticeMs: env.LINKEDIN_EXPIRY_NOTICE_DAYS * 86_400_000,
    hubspot: { batchSize: 100, searchPageSize: 200, searchCap: 10_000, tenSecondlyWaitMs: env.HUBSPOT_TEN_SECONDLY_WAIT_MS },
  };
}
