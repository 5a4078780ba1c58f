/**
 * The six queues: what runs on them and how. Pure data, safe to import anywhere.
 *
 * Bull v4 facts that shape these values:
 * - `attempts` defaults to 1 in Bull; every queue sets its own.
 * - Completed and failed jobs are kept forever unless `removeOnComplete` / `removeOnFail` say
 *   otherwise; `{ age, count }` keeps Redis memory bounded (age in seconds).
 * - Backoff uses our `classified` strategy (jitter + error classification), registered on every
 *   queue by `bull-factory.ts`.
 */
export const QUEUE_NAMES = ['email', 'enrichment', 'ai', 'analytics', 'integration', 'maintenance'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface RetentionOptions {
  /** seconds */
  readonly age?: number;
  readonly count?: number;
}

export interface BackoffOptions {
  /** first retry delay before jitter, ms */
  readonly baseMs: number;
  /** ceiling for the exponential growth, ms */
  readonly maxMs: number;
}

export interface QueueDefaults {
  readonly attempts: number;
  readonly backoff: BackoffOptions;
  /** Time budget of one attempt: the handler's AbortSignal fires when it runs out. */
  readonly timeoutMs: number;
  readonly removeOnComplete: RetentionOptions;
  readonly removeOnFail: RetentionOptions;
}

export interface LockSettings {
  /** ms; raise it for handlers that may block the event loop */
  readonly lockDuration: number;
  /** ms between stalled-job checks (globally throttled) */
  readonly stalledInterval: number;
  /** recoveries before a job fails with "job stalled more than allowable limit" */
  readonly maxStalledCount: number;
  /** ms between delayed-job watchdog runs */
  readonly guardInterval: number;
  /** ms to wait after a Redis error before fetching again */
  readonly retryProcessDelay: number;
}

export interface QueueConfig {
  readonly name: QueueName;
  readonly description: string;
  /** Jobs run at once by one worker process; env `<QUEUE>_CONCURRENCY` overrides it. */
  readonly concurrency: number;
  readonly defaults: QueueDefaults;
  readonly locks: LockSettings;
  /** Seconds a worker waits for in-flight jobs on SIGTERM (compose stop_grace_period, DO termination grace). */
  readonly shutdownGraceSeconds: number;
}

const KEEP_COMPLETED: RetentionOptions = { age: 24 * 3600, count: 1000 };
const KEEP_FAILED: RetentionOptions = { age: 14 * 24 * 3600, count: 10_000 };
const LOCKS: LockSettings = {
  lockDuration: 30_000,
  stalledInterval: 30_000,
  // Every job is idempotent (ledger rows, deterministic ids), so a deploy that kills a worker
  // should not fail its jobs: allow two recoveries before giving up.
  maxStalledCount: 2,
  guardInterval: 5_000,
  retryProcessDelay: 5_000,
};

function queue(
  name: QueueName,
  description: string,
  concurrency: number,
  defaults: Partial<QueueDefaults>,
  extra: { locks?: Partial<LockSettings>; shutdownGraceSeconds?: number } = {},
): QueueConfig {
  return {
    name,
    description,
    concurrency,
    defaults: {
      attempts: 5,
      backoff: { baseMs: 30_000, maxMs: 3_600_000 },
      timeoutMs: 60_000,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
      ...defaults,
    },
    locks: { ...LOCKS, ...extra.locks },
    shutdownGraceSeconds: extra.shutdownGraceSeconds ?? 100,
  };
}

export const QUEUES: { readonly [Q in QueueName]: QueueConfig & { readonly name: Q } } = {
  email: queue('email', 'Campaign sends, SES webhooks and mailbox warm-up', 5, {
    attempts: 5,
    backoff: { baseMs: 30_000, maxMs: 1_800_000 },
    timeoutMs: 60_000,
  }) as QueueConfig & { name: 'email' },
  enrichment: queue(
    'enrichment',
    'Lead and company enrichment, email verification',
    20,
    { attempts: 5, timeoutMs: 60_000 },
    // batch-enrich waits for its children for as long as the batch takes and resumes where it was
    // when its worker dies: a few crashes or deploys during one batch must not fail it for good
    // (Bull counts each as a stall of the same job)
    { locks: { maxStalledCount: 5 } },
  ) as QueueConfig & { name: 'enrichment' },
  ai: queue(
    'ai',
    'Email writing, sentiment, smart replies and meeting detection with OpenAI and Anthropic',
    3,
    { attempts: 2, timeoutMs: 120_000, backoff: { baseMs: 15_000, maxMs: 600_000 } },
    { locks: { lockDuration: 60_000 } },
  ) as QueueConfig & { name: 'ai' },
  analytics: queue(
    'analytics',
    'Campaign statistics, materialized views, reports and exports in Postgres',
    2,
    { attempts: 3, timeoutMs: 600_000, backoff: { baseMs: 60_000, maxMs: 3_600_000 } },
    { locks: { lockDuration: 60_000 } },
  ) as QueueConfig & { name: 'analytics' },
  integration: queue('integration', 'HubSpot, Salesforce, LinkedIn and calendar sync', 5, {
    attempts: 5,
    timeoutMs: 300_000,
  }) as QueueConfig & { name: 'integration' },
  maintenance: queue(
    'maintenance',
    'Retention, backups, image variants, cache warming and the schedules that start other work',
    1,
    { attempts: 1, timeoutMs: 1_800_000 },
    { locks: { lockDuration: 60_000 } },
  ) as QueueConfig & { name: 'maintenance' },
};

export function isQueueName(value: string): value is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(value);
}
