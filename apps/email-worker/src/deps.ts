import { SESClient } from '@aws-sdk/client-ses';
import { closePool, createPool, dbConfig, type Pool } from '@coldcopy/db';
import { ConfigError, QUEUES, sendEmail } from '@coldcopy/queue-core';
import { createRateLimiter, RedisConnections, type WorkerAppTools } from '@coldcopy/queue-core/runtime';
import type { EmailConfig } from './config.js';
import type { EmailEnv } from './env.js';
import type { EmailSender } from './providers/email-sender.js';
import type { EmailStore } from './providers/email-store.js';
import type { Alerter } from './providers/operations.js';
import { createPgEmailStore } from './providers/pg-email-store.js';
import { createRedisSendLimits } from './providers/redis-send-limits.js';
import { createRedisOutcomeJournal, drainOutcomes, type OutcomeJournal } from './providers/outcome-journal.js';
import type { SendLimits } from './providers/send-limits.js';
import { createPgWebhookStore } from './providers/pg-webhook-store.js';
import { type CampaignTickStore, createPgCampaignTickStore } from './providers/campaign-tick-store.js';
import { createPgWarmupStore, type WarmupStore } from './providers/warmup-store.js';
import type { WebhookStore } from './providers/webhook-store.js';
import { createSesEmailSender } from './providers/ses-email-sender.js';
import { createRedisWireMarks, type WireMarks } from './providers/wire-marks.js';
import { fetchSnsCertificate, type SnsCertificateFetcher, type SubscriptionConfirmer, confirmSnsSubscription } from '@coldcopy/sns';

/**
 * Everything the handlers use. Built here (the only file naming real SDKs) or from fakes in tests.
 * Follow-up jobs (deferred sends, campaign ticks, warm-up emails, a reply's AI jobs) and pausing
 * the queue go through the job's context (ctx.enqueue, ctx.enqueueBulk, ctx.pauseQueue), not deps.
 */
export interface EmailDeps {
  readonly store: EmailStore;
  readonly webhooks: WebhookStore;
  readonly campaignTicks: CampaignTickStore;
  readonly warmups: WarmupStore;
  readonly sender: EmailSender;
  readonly limits: SendLimits;
  /** send outcomes SES accepted that the ledger could not take yet (Postgres down) */
  readonly outcomes: OutcomeJournal;
  /** on-the-wire marks: which lapsed claims never sent their request (wire-marks.ts) */
  readonly wire: WireMarks;
  readonly alerter: Alerter;
  readonly certificates: SnsCertificateFetcher;
  readonly confirmSubscription: SubscriptionConfirmer;
  readonly config: EmailConfig;
  readonly now: () => Date;
}

export type { EmailEnv };

/** Resources createDeps opened, closed by closeDeps after the worker stopped. */
const owned = new WeakMap<EmailDeps, { pool: Pool; limitsConnections: RedisConnections; ses: SESClient; drain?: NodeJS.Timeout }>();

/** How often a replica applies kept send outcomes (outcome journal) to the ledger. */
const OUTCOME_DRAIN_MS = 5000;

/**
 * The lease must outlast any attempt that is not frozen: the claim comes within the job's time
 * budget and the request that follows is never aborted, so it lasts up to SES_TIMEOUT_MS more.
 * A shorter lease lets a healthy slow attempt look abandoned (another attempt takes over).
 */
export function minimumSendLeaseMs(env: Pick<EmailEnv, 'SES_TIMEOUT_MS'>): number {
  const budget = sendEmail.options.timeoutMs ?? QUEUES.email.defaults.timeoutMs;
  return budget + env.SES_TIMEOUT_MS + 5000;
}

export function emailConfig(env: EmailEnv): EmailConfig {
  return {
    leaseMs: env.SEND_LEASE_MS,
    unknownOutcome: { windowMs: env.UNKNOWN_EVENT_WINDOW_MS, policy: env.UNKNOWN_OUTCOME_POLICY },
    sesThrottleRetryMs: env.SES_THROTTLE_RETRY_MS,
    sendJitterMs: env.SEND_JITTER_MS,
    reenqueueAfterMs: env.SEND_REENQUEUE_AFTER_MS,
    sesQuotaRetryMs: env.SES_QUOTA_RETRY_MS,
    defaultConfigurationSet: env.SES_CONFIGURATION_SET,
    unsubscribe: { baseUrl: env.UNSUBSCRIBE_BASE_URL, mailtoDomain: env.UNSUBSCRIBE_MAILTO_DOMAIN, secret: env.UNSUBSCRIBE_SECRET },
    snsTopicArns: env.SNS_TOPIC_ARNS,
    reputation: {
      bounceRate: env.BOUNCE_RATE_LIMIT,
      complaintRate: env.COMPLAINT_RATE_LIMIT,
      bounceMinSends: env.BOUNCE_MIN_SENDS,
      complaintMinSends: env.COMPLAINT_MIN_SENDS,
    },
    warmup: { startVolume: env.WARMUP_START_VOLUME, dailyGrowth: env.WARMUP_DAILY_GROWTH, targetVolume: env.WARMUP_TARGET_VOLUME },
  };
}

export function createSesClient(env: Pick<EmailEnv, 'SES_REGION' | 'SES_ENDPOINT' | 'SES_TIMEOUT_MS'>): SESClient {
  return new SESClient({
    region: env.SES_REGION,
    ...(env.SES_ENDPOINT ? { endpoint: env.SES_ENDPOINT } : {}),
    // Retries belong to the queue: a resent request after a lost response sends the email twice.
    maxAttempts: 1,
    // throwOnRequestTimeout: without it, @smithy/node-http-handler 4.x only logs a warning when
    // requestTimeout passes and the call waits for the answer however long it takes (past the
    // send lease, which assumes SES_TIMEOUT_MS bounds it); with it, the call fails and the outcome
    // is `unknown`, settled by the SES Send event
    requestHandler: { requestTimeout: env.SES_TIMEOUT_MS, connectionTimeout: Math.min(5000, env.SES_TIMEOUT_MS), throwOnRequestTimeout: true },
  });
}

/**
 * Where SNS signing certificates come from: AWS, or with SNS_TEST_CERTIFICATE the test certificate
 * the local SES event simulator signs with (loaded only then: it is not part of a deployment).
 */
async function snsCertificates(env: EmailEnv): Promise<SnsCertificateFetcher> {
  if (!env.SNS_TEST_CERTIFICATE) return fetchSnsCertificate;
  if (env.NODE_ENV === 'production')
    throw new ConfigError('SNS_TEST_CERTIFICATE=true is refused with NODE_ENV=production: anyone holding the test key could forge SES events');
  return (await import('@coldcopy/sns/testing')).testCertificateFetcher;
}

export async function createDeps(env: EmailEnv, tools: WorkerAppTools): Promise<EmailDeps> {
  const certificates = await snsCertificates(env);
  const minLease = minimumSendLeaseMs(env);
  if (env.SEND_LEASE_MS < minLease) {
    throw new ConfigError(
      `SEND_LEASE_MS=${env.SEND_LEASE_MS} is too short: it must be at least the send-email time budget + SES_TIMEOUT_MS + 5 s = ${minLease} ms, or a slow but healthy send would look abandoned`,
    );
  }
  const pool = createPool(dbConfig(env, 'coldcopy-email-worker'));
  // the send limits' own connection (Redis or Redis Cluster, as REDIS_URL says): their scripts run
  // on every send and must not queue behind Bull's commands
  const limitsConnections = new RedisConnections(env.REDIS_URL, 'worker', 'coldcopy-email-worker-limits');
  const redis = limitsConnections.commandClient;
  const ses = createSesClient(env);
  const state: { pool: Pool; limitsConnections: RedisConnections; ses: SESClient; drain?: NodeJS.Timeout } = { pool, limitsConnections, ses };
  const store = createPgEmailStore(pool);
  const outcomes = createRedisOutcomeJournal(redis, env.BULL_PREFIX);

  const deps: EmailDeps = {
    store,
    outcomes,
    wire: createRedisWireMarks(redis, `${env.BULL_PREFIX}:email`, { leaseMs: env.SEND_LEASE_MS, sendEventWaitMs: env.SEND_EVENT_WAIT_MS }),
    webhooks: createPgWebhookStore(pool),
    campaignTicks: createPgCampaignTickStore(pool),
    warmups: createPgWarmupStore(pool),
    sender: createSesEmailSender(ses, { throttleRetryMs: env.SES_THROTTLE_RETRY_MS }),
    limits: createRedisSendLimits({
      redis,
      limiter: createRateLimiter(redis, { prefix: `${env.BULL_PREFIX}:email:rate` }),
      prefix: `${env.BULL_PREFIX}:email`,
      accountPerSecond: env.SES_MAX_SEND_RATE,
      domainPerMinute: env.DOMAIN_RATE_PER_MINUTE,
      maxWaitMs: env.RATE_WAIT_MAX_MS,
      registry: tools.registry,
    }),
    alerter: {
      // Alerts are error logs with `alert: true`; ops routes them to the pager (ops.md).
      async alert(severity, message, fields) {
        tools.logger.error(message, { alert: true, severity, ...fields });
      },
    },
    certificates,
    confirmSubscription: confirmSnsSubscription,
    config: emailConfig(env),
    now: () => new Date(),
  };
  owned.set(deps, state);
  // kept send outcomes go to the ledger as soon as Postgres takes them (every replica drains;
  // applying one twice changes nothing)
  let draining = false;
  state.drain = setInterval(() => {
    if (draining) return;
    draining = true;
    drainOutcomes(outcomes, store, tools.logger)
      .catch((err: unknown) => tools.logger.warn('outcome journal drain failed; retried', { err: (err as Error).message }))
      .finally(() => (draining = false));
  }, OUTCOME_DRAIN_MS);
  state.drain.unref();
  return deps;
}

export async function closeDeps(deps: EmailDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  clearInterval(state.drain);
  // one last drain: outcomes kept by this replica's last jobs reach the ledger now if they can
  await drainOutcomes(deps.outcomes, deps.store, { info: () => undefined, error: () => undefined }).catch(() => undefined);
  state.ses.destroy();
  await state.limitsConnections.close();
  await closePool(state.pool);
}
