import { dbEnv, poolMaxEnv } from '@coldcopy/db/env';
import { workerAppEnv } from '@coldcopy/queue-core/env';
import { storageEnv } from '@coldcopy/storage';
import { z } from 'zod';

/**
 * The analytics worker's env: `envSchema` is the one schema main.ts hands to runWorkerApp (parsed
 * once) and the deploy generator reads. It is the runtime's variables (REDIS_URL, BULL_PREFIX,
 * ANALYTICS_CONCURRENCY, …: queue-core env.ts), the database's, the storage's and the ones below,
 * each documented in `.meta()`.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

export const analyticsWorkerEnv = {
  // view refreshes need the owner or the SECURITY DEFINER functions (DATABASE_URL's user)
  ...dbEnv,
  DATABASE_POOL_MAX: poolMaxEnv(6, 'Postgres pool size per process: one cursor per running export plus the refreshes'),

  // read by the AWS SDK itself (its default credential chain) for the report emails
  AWS_ACCESS_KEY_ID: z.string().optional().meta({ description: 'AWS access key for SES report emails (or use an instance role)', secret: true }),
  AWS_SECRET_ACCESS_KEY: z.string().optional().meta({ description: 'AWS secret key for SES report emails', secret: true }),

  ...storageEnv,

  STATS_STATEMENT_TIMEOUT_MS: int(30_000).meta({ description: 'calculate-campaign-stats: time limit of each per-campaign statement' }),
  STATS_SUMMARY_DAYS: int(3).meta({ description: 'calculate-campaign-stats: days of analytics_summary recomputed per run (today and the days before)' }),

  REFRESH_STATEMENT_TIMEOUT_MS: int(900_000).meta({ description: 'refresh-analytics: time limit of one view refresh' }),
  REFRESH_LOCK_TIMEOUT_MS: int(10_000).meta({
    description: 'refresh-analytics: how long a refresh waits for a table lock before it is skipped (lock timeout)',
  }),
  REFRESH_STALE_AFTER_MS: int(7_200_000).meta({ description: 'refresh-analytics: a view whose last refresh is older than this is logged as stale' }),

  EXPORT_MAX_BYTES: int(500 * 1024 * 1024).meta({ description: 'export-data: the cap on an export file, enforced while streaming (500 MB)' }),
  EXPORT_BATCH_ROWS: int(2_000).meta({ description: 'export-data: rows fetched from the cursor per round trip' }),
  EXPORT_STATEMENT_TIMEOUT_MS: int(120_000).meta({
    description: "export-data: time limit of the count before an export (the cursor's read is bounded by the job's time budget)",
  }),
  XLSX_MAX_ROWS_PER_SHEET: z.coerce
    .number()
    .int()
    .min(2)
    .max(1_048_576)
    .default(1_048_576)
    .meta({ description: "export-data: rows per XLSX sheet including the header (Excel's limit is 1,048,576)" }),

  REPORT_MAIL_FROM: z
    .email()
    .optional()
    .meta({ description: 'generate-report: sender of emailed reports; unset: reports with recipients fail their email step' }),
  SES_REGION: z.string().min(1).default('us-east-1').meta({ description: 'SES region of the report emails' }),
  SES_ENDPOINT: z.url().optional().meta({ description: 'SES endpoint override (a local SES emulator); unset for AWS' }),
};

export const envSchema = workerAppEnv('analytics', analyticsWorkerEnv);

export type AnalyticsWorkerEnv = z.output<typeof envSchema>;
