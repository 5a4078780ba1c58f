import type { SESClient } from '@aws-sdk/client-ses';
import { closePool, createPool, loadDbEnv, type Pool } from '@coldcopy/db';
import { createRateLimiter } from '@coldcopy/queue-core/runtime';
import { JobSecurity, type Producer } from '@coldcopy/queue-core/producer';
import { type AppTestBase, createFakeJobContext, type EnqueueRecorder, type FakeJobContextOptions, testPrefix, useAppTestBase } from '@coldcopy/testing';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createSesClient, type EmailDeps } from '../src/deps.js';
import { createPgEmailStore } from '../src/providers/pg-email-store.js';
import { createRedisOutcomeJournal } from '../src/providers/outcome-journal.js';
import { createPgWebhookStore } from '../src/providers/pg-webhook-store.js';
import { createPgCampaignTickStore } from '../src/providers/campaign-tick-store.js';
import { createPgWarmupStore } from '../src/providers/warmup-store.js';
import { testCertificateFetcher } from '@coldcopy/sns/testing';
import { createSesWebhookHandler } from '@coldcopy/web';
import { serveWebHandlers } from '../src/emulators/web-server.js';
import { createRedisSendLimits } from '../src/providers/redis-send-limits.js';
import { createSesEmailSender } from '../src/providers/ses-email-sender.js';
import { createRedisWireMarks } from '../src/providers/wire-marks.js';
import { createFakeOperations } from '../src/providers/operations.js';
import { testConfig } from './fixtures/fake-deps.js';
import { startSesLocal, type SesLocal } from './ses-local.js';

import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from './harness-keys.js';

export { TEST_SIGNING_KEYS };
export const testSecurity = () => new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS });

export const TOPIC_ARN = testConfig.snsTopicArns[0]!;

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

/**
 * One test database and one aws-ses-v2-local per file; a Bull/Redis prefix per test. Real
 * adapters everywhere; the operations ports (queue pause, alerts) are fakes with memory.
 */
export function useEmailHarness(options: { simulator?: boolean } = {}) {
  const state = {} as AppTestBase<Pool> & {
    ses: SesLocal;
    sesClient: SESClient;
    /** with `simulator`: the SNS webhook route the SES event simulator posts to (enqueues into this test's prefix) */
    webhook?: { url: string; close(): Promise<void> };
  };
  useAppTestBase(state, { openPool: (url) => createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '8' })), closePool, security: testSecurity });
  beforeAll(async () => {
    if (options.simulator) {
      // the web app's route, as deployed, with the simulator's test certificate and this test's producer
      const route = createSesWebhookHandler({
        producer: { enqueue: (...args: Parameters<Producer['enqueue']>) => state.producer.enqueue(...args) },
        topicArns: [TOPIC_ARN],
        fetchCertificate: testCertificateFetcher,
      });
      state.webhook = await serveWebHandlers({ '/sns': route });
    }
    state.ses = await startSesLocal(state.webhook ? { webhookUrl: `${state.webhook.url}/sns`, topicArn: TOPIC_ARN, eventGapMs: 5 } : {});
    state.sesClient = createSesClient({ SES_REGION: 'us-east-1', SES_ENDPOINT: state.ses.endpoint, SES_TIMEOUT_MS: 5000 });
  });
  afterAll(async () => {
    state.sesClient?.destroy();
    await state.ses?.close();
    await state.webhook?.close();
  });
  beforeEach(async () => {
    await state.ses.clear();
  });
  afterEach(async () => {
    // the test's events are in Redis (or given up) before its prefix goes (useAppTestBase's afterEach runs after this one)
    if (state.webhook) await state.ses.simulator.idle();
  });

  /** Real deps (Postgres store, SES client, Redis limits, Bull follow-ups and AI jobs), fake operations. */
  function deps(
    options: {
      sesClient?: SESClient;
      accountPerSecond?: number;
      domainPerMinute?: number;
      leaseMs?: number;
      unknownOutcome?: EmailDeps['config']['unknownOutcome'];
    } = {},
  ) {
    const ops = createFakeOperations();
    const value: EmailDeps = {
      store: createPgEmailStore(state.pool),
      outcomes: createRedisOutcomeJournal(state.redis, state.prefix),
      wire: createRedisWireMarks(state.redis, `${state.prefix}:email`, { leaseMs: options.leaseMs ?? testConfig.leaseMs }),
      webhooks: createPgWebhookStore(state.pool),
      campaignTicks: createPgCampaignTickStore(state.pool),
      warmups: createPgWarmupStore(state.pool),
      sender: createSesEmailSender(options.sesClient ?? state.sesClient),
      limits: createRedisSendLimits({
        redis: state.redis,
        limiter: createRateLimiter(state.redis, { prefix: `${state.prefix}:email:rate` }),
        prefix: `${state.prefix}:email`,
        accountPerSecond: options.accountPerSecond ?? 1000,
        domainPerMinute: options.domainPerMinute ?? 60_000,
        maxWaitMs: 5000,
      }),
      alerter: ops.alerter,
      certificates: testCertificateFetcher,
      confirmSubscription: async () => undefined,
      config: { ...testConfig, leaseMs: options.leaseMs ?? testConfig.leaseMs, ...(options.unknownOutcome ? { unknownOutcome: options.unknownOutcome } : {}) },
      now: () => new Date(),
    };
    return { deps: value, ops };
  }

  /**
   * A JobContext whose enqueue and enqueueBulk add real jobs through this test's producer (as the
   * worker's ctx.enqueue does) after the recorder's validation and scripted failures
   * (`recorder.failNext`); pauseQueue is recorded in `recorder.queue`.
   */
  function context<D extends { now?: () => Date }>(deps: D, options: number | FakeJobContextOptions = 1): JobContext<D> & { recorder: EnqueueRecorder } {
    const given = typeof options === 'number' ? { attempt: options } : options;
    const fake = createFakeJobContext(deps, { scheduledAt: deps.now?.(), ...given });
    return Object.assign(fake, {
      async enqueue(job: Parameters<JobContext<D>['enqueue']>[0], data: never, enqueueOptions?: Parameters<JobContext<D>['enqueue']>[2]) {
        fake.recorder.add(job, data, enqueueOptions);
        return state.producer.enqueue(job, data, enqueueOptions);
      },
      async enqueueBulk(job: Parameters<JobContext<D>['enqueueBulk']>[0], items: Parameters<JobContext<D>['enqueueBulk']>[1]) {
        for (const item of items) fake.recorder.add(job, item.data, item.options);
        return state.producer.enqueueBulk(job, items);
      },
    });
  }

  return Object.assign(state, { deps, context });
}

export { testPrefix };
