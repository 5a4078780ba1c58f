/**
 * One export in a fresh process (so its peak RSS is the export's alone): env names the database,
 * the S3 server, the workspace and the export; prints one JSON line with the figures.
 */
import { closePool, createPool, loadDbEnv } from '@coldcopy/db';
import { createObjectStore, storageEnv } from '@coldcopy/storage';
import { createFakeJobContext } from '@coldcopy/testing';
import { z } from 'zod';
import { defaultAnalyticsConfig } from '../src/config.js';
import type { AnalyticsDeps } from '../src/deps.js';
import { exportDataHandler, type ExportDataResult } from '../src/handlers/export-data.js';
import { createAnalyticsMetrics } from '../src/providers/analytics-metrics.js';
import { createFakePerformanceCache } from '../src/providers/performance-cache.js';

const env = z
  .object({ DATABASE_URL: z.string(), WORKSPACE_ID: z.uuid(), EXPORT_JOB_ID: z.uuid(), FORMAT: z.enum(['csv', 'json', 'xlsx']), ...storageEnv })
  .parse(process.env);
const pool = createPool(loadDbEnv({ DATABASE_URL: env.DATABASE_URL, DATABASE_POOL_MAX: '3' }));
const storage = createObjectStore(env);
const deps: AnalyticsDeps = {
  pool,
  store: storage.store,
  cache: createFakePerformanceCache(),
  metrics: createAnalyticsMetrics(),
  config: defaultAnalyticsConfig,
  now: () => new Date(),
};
const ctx = createFakeJobContext(deps, { jobId: 'bench' });

// peak RSS sampled every 25 ms, with the heap / external split at that moment (where the memory is)
const baselineRss = process.memoryUsage.rss();
let peak = process.memoryUsage();
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak = m;
}, 25);
const mb = (n: number) => Math.round(n / 1024 / 1024);
const started = performance.now();
const cpu0 = process.cpuUsage();
const result = (await exportDataHandler(
  { workspaceId: env.WORKSPACE_ID, requestedBy: 'system', exportJobId: env.EXPORT_JOB_ID, type: 'email_events', format: env.FORMAT },
  ctx,
)) as ExportDataResult;
const ms = performance.now() - started;
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    format: env.FORMAT,
    rows: result.rowCount,
    bytes: result.fileSize,
    seconds: ms / 1000,
    rowsPerSecond: Math.round(result.rowCount / (ms / 1000)),
    peakRssMb: mb(peak.rss),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    baselineRssMb: mb(baselineRss),
    atPeak: { heapUsedMb: mb(peak.heapUsed), heapTotalMb: mb(peak.heapTotal), externalMb: mb(peak.external), arrayBuffersMb: mb(peak.arrayBuffers) },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    objectKey: result.objectKey,
    sha256: result.sha256,
  })}\n`,
);
storage.close();
await closePool(pool);
