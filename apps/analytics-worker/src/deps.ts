import { SESClient } from '@aws-sdk/client-ses';
import { closePool, createPool, dbConfig, type Pool } from '@coldcopy/db';
import { RedisConnections, type WorkerAppTools } from '@coldcopy/queue-core/runtime';
import { createObjectStore, type ObjectStore } from '@coldcopy/storage';
import type { AnalyticsConfig } from './config.js';
import type { AnalyticsWorkerEnv } from './env.js';
import { type AnalyticsMetrics, createAnalyticsMetrics } from './providers/analytics-metrics.js';
import { createRedisPerformanceCache, type PerformanceCache } from './providers/performance-cache.js';
import { createSesReportMailer, type ReportMailer } from './providers/report-mailer.js';

/** Everything the handlers use. Built here (the only file naming real SDKs) or from fakes in tests. */
export interface AnalyticsDeps {
  /** Postgres: every statement goes through @coldcopy/db's analytics repositories */
  readonly pool: Pool;
  /** exports and reports (coldcopy-exports) */
  readonly store: ObjectStore;
  readonly cache: PerformanceCache;
  /** absent when REPORT_MAIL_FROM is unset: a report with recipients then fails its email step */
  readonly mailer?: ReportMailer;
  readonly metrics: AnalyticsMetrics;
  readonly config: AnalyticsConfig;
  readonly now: () => Date;
}

export type AnalyticsEnv = AnalyticsWorkerEnv;

const owned = new WeakMap<AnalyticsDeps, { pool: Pool; cacheConnections: RedisConnections; closeStore: () => void; ses?: SESClient }>();

export function analyticsConfig(env: AnalyticsEnv): AnalyticsConfig {
  return {
    stats: { statementTimeoutMs: env.STATS_STATEMENT_TIMEOUT_MS, summaryDays: env.STATS_SUMMARY_DAYS },
    refresh: {
      statementTimeoutMs: env.REFRESH_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: env.REFRESH_LOCK_TIMEOUT_MS,
      staleAfterMs: env.REFRESH_STALE_AFTER_MS,
    },
    exports: {
      maxBytes: env.EXPORT_MAX_BYTES,
      batchRows: env.EXPORT_BATCH_ROWS,
      statementTimeoutMs: env.EXPORT_STATEMENT_TIMEOUT_MS,
      xlsxMaxRowsPerSheet: env.XLSX_MAX_ROWS_PER_SHEET,
    },
  };
}

export async function createDeps(env: AnalyticsEnv, tools: WorkerAppTools): Promise<AnalyticsDeps> {
  const pool = createPool(dbConfig(env, 'coldcopy-analytics-worker'), {
    onError: (err) => tools.logger.warn('idle Postgres client failed', { err: err.message }),
  });
  // the performance cache's own connection: the keys are the web app's, outside Bull's prefix
  const cacheConnections = new RedisConnections(env.REDIS_URL, 'worker', 'coldcopy-analytics-worker-cache');
  const storage = createObjectStore(env);
  const ses = env.REPORT_MAIL_FROM
    ? new SESClient({
        region: env.SES_REGION,
        ...(env.SES_ENDPOINT ? { endpoint: env.SES_ENDPOINT } : {}),
        requestHandler: { requestTimeout: 10_000, connectionTimeout: 5_000 },
      })
    : undefined;
  tools.logger.info('object storage', { location: storage.store.location });
  const deps: AnalyticsDeps = {
    pool,
    store: storage.store,
    cache: createRedisPerformanceCache(cacheConnections.commandClient),
    ...(ses && env.REPORT_MAIL_FROM ? { mailer: createSesReportMailer(ses, env.REPORT_MAIL_FROM) } : {}),
    metrics: createAnalyticsMetrics(tools.registry),
    config: analyticsConfig(env),
    now: () => new Date(),
  };
  owned.set(deps, { pool, cacheConnections, closeStore: () => storage.close(), ses });
  return deps;
}

export async function closeDeps(deps: AnalyticsDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  state.ses?.destroy();
  state.closeStore();
  await state.cacheConnections.close();
  await closePool(state.pool);
}
