import { randomUUID } from 'node:crypto';
import { closePool, createPool, loadDbEnv, type Pool } from '@coldcopy/db';
import { createS3Client, createS3ObjectStore, type ObjectStore } from '@coldcopy/storage';
import { startS3TestServer, type S3TestServer } from '@coldcopy/storage/testing';
import { createFakeJobContext, createTestDatabase, type FakeJobContext, type TestDatabase } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { type AnalyticsConfig, defaultAnalyticsConfig } from '../src/config.js';
import type { AnalyticsDeps } from '../src/deps.js';
import { createAnalyticsMetrics } from '../src/providers/analytics-metrics.js';
import { createRedisPerformanceCache } from '../src/providers/performance-cache.js';
import { createFakeReportMailer, type ReportMailer } from '../src/providers/report-mailer.js';

process.env.AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING ??= '1';

/**
 * One test database (a clone of the migrated template) and, on request, one S3 server (s3rver on
 * 127.0.0.1) per file. Real adapters: Postgres, Redis for the performance cache, the S3 store
 * through the AWS SDK; the report mailer is a fake with memory.
 */
export function useAnalyticsHarness(options: { s3?: boolean } = {}) {
  const state = {} as { db: TestDatabase; pool: Pool; redis: Redis; s3: S3TestServer; store: ObjectStore };
  beforeAll(async () => {
    state.db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
    state.pool = createPool(loadDbEnv({ DATABASE_URL: state.db.url, DATABASE_POOL_MAX: '8' }));
    state.redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    if (options.s3) {
      state.s3 = await startS3TestServer();
      state.store = createS3ObjectStore(
        createS3Client({ region: 'us-east-1', endpoint: state.s3.endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
        { bucket: state.s3.bucket, partSize: 5 * 1024 * 1024 },
      );
    }
  });
  afterAll(async () => {
    await state.s3?.close();
    await state.redis?.quit();
    if (state.pool) await closePool(state.pool);
    await state.db?.drop();
  });

  function deps(overrides: { config?: Partial<AnalyticsConfig>; mailer?: ReportMailer; store?: ObjectStore; pool?: Pool } = {}): AnalyticsDeps {
    return {
      pool: overrides.pool ?? state.pool,
      store: overrides.store ?? state.store,
      cache: createRedisPerformanceCache(state.redis),
      mailer: overrides.mailer ?? createFakeReportMailer(),
      metrics: createAnalyticsMetrics(),
      config: { ...defaultAnalyticsConfig, ...overrides.config },
      now: () => new Date(),
    };
  }
  return Object.assign(state, { deps });
}

/** A handler context without Bull (the recording fake of @coldcopy/testing), 3 attempts unless told. */
export function testContext<D>(
  deps: D,
  options: { attempt?: number; attempts?: number; signal?: AbortSignal } = {},
): FakeJobContext<D> & { progressed: unknown[] } {
  const ctx = createFakeJobContext(deps, { jobId: `test-${randomUUID()}`, attempts: 3, ...options });
  return Object.assign(ctx, { progressed: ctx.progressReports });
}
