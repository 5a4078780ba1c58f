import { storageEnv } from '@coldcopy/storage';
import { z } from 'zod';

/**
 * The analytics worker's own variables; runWorkerApp merges them with the shared worker variables
 * (REDIS_URL, BULL_PREFIX, ANALYTICS_CONCURRENCY, HEALTH_PORT, …) and parses them in main.ts.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

export const analyticsWorkerEnv = {
  /** `postgres://user:password@host:5432/database` (view refreshes need the owner or the SECURITY DEFINER functions) */
  DATABASE_URL: z.string().min(1, 'required (postgres://user:password@host:5432/database)'),
  /** Postgres pool size per process: one cursor per running export plus the refreshes */
  DATABASE_POOL_MAX: int(6),
  /** `disable`, `require` or `verify-full` (read by @coldcopy/db) */
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM of the managed database's CA (read by @coldcopy/db) */
  DATABASE_CA_CERT: z.string().optional(),

  ...storageEnv,

  /** calculate-campaign-stats: time limit of each per-campaign statement */
  STATS_STATEMENT_TIMEOUT_MS: int(30_000),
  /** calculate-campaign-stats: days of analytics_summary recomputed per run (today and the days before) */
  STATS_SUMMARY_DAYS: int(3),

  /** refresh-analytics: time limit of one view refresh */
  REFRESH_STATEMENT_TIMEOUT_MS: int(900_000),
  /** refresh-analytics: how long a refresh waits for a table lock before it is skipped (lock timeout) */
  REFRESH_LOCK_TIMEOUT_MS: int(10_000),
  /** refresh-analytics: a view whose last refresh is older than this is logged as stale */
  REFRESH_STALE_AFTER_MS: int(7_200_000),

  /** export-data: the cap on an export file, enforced while streaming (500 MB) */
  EXPORT_MAX_BYTES: int(500 * 1024 * 1024),
  /** export-data: rows fetched from the cursor per round trip */
  EXPORT_BATCH_ROWS: int(2_000),
  /** export-data: time limit of the count before an export (the cursor's read is bounded by the job's time budget) */
  EXPORT_STATEMENT_TIMEOUT_MS: int(120_000),
  /** export-data: rows per XLSX sheet including the header (Excel's limit is 1,048,576) */
  XLSX_MAX_ROWS_PER_SHEET: z.coerce.number().int().min(2).max(1_048_576).default(1_048_576),

  /** generate-report: sender of emailed reports; unset: reports with recipients fail their email step */
  REPORT_MAIL_FROM: z.email().optional(),
  /** SES region of the report emails */
  SES_REGION: z.string().min(1).default('us-east-1'),
  /** SES endpoint override (a local SES emulator); unset for AWS */
  SES_ENDPOINT: z.url().optional(),
};

export type AnalyticsWorkerEnv = z.output<z.ZodObject<typeof analyticsWorkerEnv>>;
