import { z } from 'zod';

/**
 * The email worker's own variables; runWorkerApp merges them with the shared worker variables
 * (REDIS_URL, BULL_PREFIX, EMAIL_CONCURRENCY, HEALTH_PORT, …) and parses them in main.ts.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const rate = (defaultValue: number) => z.coerce.number().positive().max(1).default(defaultValue);

export const emailWorkerEnv = {
  /** `postgres://user:password@host:5432/database` */
  DATABASE_URL: z.string().min(1, 'required (postgres://user:password@host:5432/database)'),
  /** Postgres pool size per process; keep it near EMAIL_CONCURRENCY */
  DATABASE_POOL_MAX: int(10),
  /** `disable`, `require` or `verify-full` (read by @coldcopy/db) */
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM of the managed database's CA (read by @coldcopy/db) */
  DATABASE_CA_CERT: z.string().optional(),

  /** SES region */
  SES_REGION: z.string().min(1).default('us-east-1'),
  /** SES endpoint override, e.g. `http://127.0.0.1:8005` for aws-ses-v2-local; unset for AWS */
  SES_ENDPOINT: z.url().optional(),
  /** per-request timeout of SendRawEmail; a timeout is an unknown outcome, so keep it well below SEND_LEASE_MS */
  SES_TIMEOUT_MS: int(10_000),
  /** emails per second for the whole SES account, shared by all replicas; set it to 80-90 % of GetSendQuota's MaxSendRate */
  SES_MAX_SEND_RATE: z.coerce.number().positive().default(10),
  /** configuration set for mailboxes that have none of their own */
  SES_CONFIGURATION_SET: z.string().optional(),
  /** delay before a send refused for the 24 h quota is tried again */
  SES_QUOTA_RETRY_MS: int(3_600_000),
  /** delay before a send refused by SES rate throttling is tried again (jitter added) */
  SES_THROTTLE_RETRY_MS: int(2_000),

  /** sends per minute to one recipient domain (gmail.com, …) per workspace */
  DOMAIN_RATE_PER_MINUTE: int(60),
  /** longest in-handler wait for a rate-limit slot; longer waits re-enqueue the send with a delay */
  RATE_WAIT_MAX_MS: int(5_000, 0),
  /** the campaign tick spreads the send-email jobs it enqueues over a random delay of up to this much (0: none) */
  SEND_JITTER_MS: int(30_000, 0),
  /** a `sending` ledger row older than this is treated as an unknown outcome (a worker died mid-send) */
  SEND_LEASE_MS: int(120_000),
  /** how long an unknown outcome waits for its SES `Send` event before UNKNOWN_OUTCOME_POLICY applies */
  UNKNOWN_EVENT_WINDOW_MS: int(900_000),
  /** `review`: mark it failed_unknown for a human; `resend-once`: no Send event means SES never accepted it, send once more (needs Send events on the configuration set) */
  UNKNOWN_OUTCOME_POLICY: z.enum(['review', 'resend-once']).default('review'),

  /** HTTPS base of the one-click unsubscribe endpoint (RFC 8058), e.g. `https://app.example.com/u` */
  UNSUBSCRIBE_BASE_URL: z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL'),
  /** domain of the mailto unsubscribe address `unsub+<token>@<domain>` */
  UNSUBSCRIBE_MAILTO_DOMAIN: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name'),
  /** HMAC secret of unsubscribe tokens (at least 32 characters) */
  UNSUBSCRIBE_SECRET: z.string().min(32, 'at least 32 characters'),

  /** comma-separated SNS topic ARNs whose notifications are accepted (anyone can sign for their own topic) */
  SNS_TOPIC_ARNS: z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^arn:aws(-[a-z]+)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'an SNS topic ARN')).min(1)),

  /** bounce rate that pauses a mailbox or campaign (SES reviews accounts at 5 %) */
  BOUNCE_RATE_LIMIT: rate(0.05),
  /** complaint rate that pauses a mailbox or campaign (SES reviews accounts at 0.1 %) */
  COMPLAINT_RATE_LIMIT: rate(0.001),
  /** sends needed before the bounce rate is judged */
  BOUNCE_MIN_SENDS: int(100),
  /** sends needed before the complaint rate is judged */
  COMPLAINT_MIN_SENDS: int(1000),

  /** warm-up: emails on day 1 */
  WARMUP_START_VOLUME: int(5),
  /** warm-up: extra emails per day */
  WARMUP_DAILY_GROWTH: int(5, 0),
  /** warm-up: the daily volume the ramp stops at */
  WARMUP_TARGET_VOLUME: int(40),
};

export type EmailWorkerEnv = z.output<z.ZodObject<typeof emailWorkerEnv>>;
