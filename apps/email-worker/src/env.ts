import { dbEnv } from '@coldcopy/db/env';
import { CAMPAIGN_TICK_MINUTES } from '@coldcopy/queue-core';
import { workerAppEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';
import { SEND_EVENT_WAIT_MS } from './providers/wire-marks.js';

/**
 * The email worker's env: `envSchema` is the one schema main.ts hands to runWorkerApp (parsed once)
 * and the deploy generator reads (compose, app.yaml, .env.example, README). It is the runtime's
 * variables (REDIS_URL, BULL_PREFIX, EMAIL_CONCURRENCY, EMAIL_SHARDS, JOB_SIGNING_KEYS, …: queue-core
 * env.ts), the database's (@coldcopy/db env.ts) and the ones below, each documented in `.meta()`.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const rate = (defaultValue: number) => z.coerce.number().positive().max(1).default(defaultValue);

/**
 * SEND_REENQUEUE_AFTER_MS's default: two campaign-tick slots (CAMPAIGN_TICK_MINUTES = 5), so a lost
 * send-email job is replaced within 10-15 minutes, the order of the unknown-outcome window and well
 * above the send lease and a send's rate-limit wait. A job merely still waiting in a long backlog
 * costs nothing wrong when enqueued again (Bull ignores its known id); the tick pays that add once
 * per interval per row instead of on every tick.
 */
export const REENQUEUE_AFTER_MS = 2 * CAMPAIGN_TICK_MINUTES * 60_000;

export const emailWorkerEnv = {
  ...dbEnv,

  // read by the AWS SDK itself (its default credential chain), declared so deployments set them
  AWS_ACCESS_KEY_ID: z.string().optional().meta({ description: 'AWS access key for SES (or use an instance role)', secret: true }),
  AWS_SECRET_ACCESS_KEY: z.string().optional().meta({ description: 'AWS secret key for SES', secret: true }),

  SES_REGION: z.string().min(1).default('us-east-1').meta({ description: 'SES region' }),
  SES_ENDPOINT: z.url().optional().meta({ description: 'SES endpoint override, e.g. `http://127.0.0.1:8005` for aws-ses-v2-local; unset for AWS' }),
  SES_TIMEOUT_MS: int(10_000).meta({
    description: 'per-request timeout of SendRawEmail; a timeout is an unknown outcome, so keep it well below SEND_LEASE_MS',
  }),
  SES_MAX_SEND_RATE: z.coerce
    .number()
    .positive()
    .default(10)
    .meta({ description: "emails per second for the whole SES account, shared by all replicas; set it to 80-90 % of GetSendQuota's MaxSendRate" }),
  SES_CONFIGURATION_SET: z.string().optional().meta({ description: 'configuration set for mailboxes that have none of their own' }),
  SES_QUOTA_RETRY_MS: int(3_600_000).meta({ description: 'delay before a send refused for the 24 h quota is tried again' }),
  SES_THROTTLE_RETRY_MS: int(2_000).meta({ description: 'delay before a send refused by SES rate throttling is tried again (jitter added)' }),

  DOMAIN_RATE_PER_MINUTE: int(60).meta({ description: 'sends per minute to one recipient domain (gmail.com, …) per workspace' }),
  RATE_WAIT_MAX_MS: int(5_000, 0).meta({ description: 'longest in-handler wait for a rate-limit slot; longer waits re-enqueue the send with a delay' }),
  SEND_JITTER_MS: int(30_000, 0).meta({
    description: 'the campaign tick spreads the send-email jobs it enqueues over a random delay of up to this much (0: none)',
  }),
  SEND_LEASE_MS: int(120_000).meta({ description: 'a `sending` ledger row older than this is treated as an unknown outcome (a worker died mid-send)' }),
  SEND_REENQUEUE_AFTER_MS: int(REENQUEUE_AFTER_MS, 1000).meta({
    description:
      'the campaign tick enqueues the send-email job of a claimable row again when it was enqueued (or deferred to) longer ago than this and still not claimed: the job may have been lost (Redis lost its last writes)',
  }),
  UNKNOWN_EVENT_WINDOW_MS: int(900_000).meta({
    description: 'how long an unknown outcome waits for its SES `Send` event before UNKNOWN_OUTCOME_POLICY applies',
  }),
  SEND_EVENT_WAIT_MS: int(SEND_EVENT_WAIT_MS, 1000).meta({
    description:
      'how long after its on-the-wire mark a lapsed send without an SES `Send` event waits; then, if Send events of messages SES accepted later have arrived, SES never got it and it is sent again (needs Send events on the configuration set), else UNKNOWN_OUTCOME_POLICY applies',
  }),
  UNKNOWN_OUTCOME_POLICY: z.enum(['review', 'resend-once']).default('review').meta({
    description:
      '`review`: mark it failed_unknown for a human; `resend-once`: no Send event means SES never accepted it, send once more (needs Send events on the configuration set)',
  }),

  UNSUBSCRIBE_BASE_URL: z
    .url()
    .refine((u) => u.startsWith('https://'), 'must be an https:// URL')
    .meta({ description: 'HTTPS base of the one-click unsubscribe endpoint (RFC 8058), e.g. `https://app.example.com/u`' }),
  UNSUBSCRIBE_MAILTO_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name')
    .meta({ description: 'domain of the mailto unsubscribe address `unsub+<token>@<domain>`' }),
  UNSUBSCRIBE_SECRET: z
    .string()
    .min(32, 'at least 32 characters')
    .meta({ description: 'HMAC secret of unsubscribe tokens (at least 32 characters)', secret: true }),

  SNS_TOPIC_ARNS: z
    .string()
    .min(1)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^arn:aws(-[a-z]+)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'an SNS topic ARN')).min(1))
    .meta({ description: 'comma-separated SNS topic ARNs whose notifications are accepted (anyone can sign for their own topic)' }),
  SNS_TEST_CERTIFICATE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .meta({
      description:
        '`true` accepts notifications signed with the test certificate of the local SES event simulator (development and tests only; refused with NODE_ENV=production)',
    }),

  BOUNCE_RATE_LIMIT: rate(0.05).meta({ description: 'bounce rate that pauses a mailbox or campaign (SES reviews accounts at 5 %)' }),
  COMPLAINT_RATE_LIMIT: rate(0.001).meta({ description: 'complaint rate that pauses a mailbox or campaign (SES reviews accounts at 0.1 %)' }),
  BOUNCE_MIN_SENDS: int(100).meta({ description: 'sends needed before the bounce rate is judged' }),
  COMPLAINT_MIN_SENDS: int(1000).meta({ description: 'sends needed before the complaint rate is judged' }),

  WARMUP_START_VOLUME: int(5).meta({ description: 'warm-up: emails on day 1' }),
  WARMUP_DAILY_GROWTH: int(5, 0).meta({ description: 'warm-up: extra emails per day' }),
  WARMUP_TARGET_VOLUME: int(40).meta({ description: 'warm-up: the daily volume the ramp stops at' }),
};

export const envSchema = workerAppEnv('email', emailWorkerEnv);

export type EmailEnv = z.output<typeof envSchema>;
