/**
 * Cleanup under live traffic (issue 17's acceptance): ROWS old email_events (default 1,000,000)
 * deleted by cleanup-old-data in batches while a writer inserts events with lock_timeout = 200ms,
 * against a private Postgres. Prints markdown table rows: rows deleted, cleanup time, inserts,
 * lock-timeout failures, longest lock wait seen (pg_stat_activity sampling), longest insert.
 *
 *   pnpm --filter @coldcopy/maintenance-worker bench            (ROWS=1000000 BATCH=1000)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { closePool, createPool, loadDbEnv } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { createFakeObjectStore } from '@coldcopy/storage';
import { createFakeJobContext, PostgresServer } from '@coldcopy/testing';
import { defaultMaintenanceConfig } from '../src/config.js';
import type { CleanupResult } from '../src/domain/cleanup.js';
import { cleanupOldDataHandler } from '../src/handlers/cleanup-old-data.js';
import { createMaintenanceMetrics } from '../src/providers/maintenance-metrics.js';
import { createPgTools } from '../src/providers/pg-tools.js';
import { createFakeWarmCache } from '../src/providers/warm-cache.js';
import { probeWriterDuring, seedOldEvents } from '../test/lock-probe.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 1000);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const server = await PostgresServer.start();
try {
  const url = server.urlFor('postgres');
  await migrate(url);
  const pool = createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '6', DATABASE_STATEMENT_TIMEOUT_MS: '0' }));
  const ws = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'bench', $2)`, [ws, `bench-${ws.slice(0, 8)}`]);
  const old = new Date(Date.now() - 370 * 86_400_000);
  await pool.query(`SELECT create_email_events_partition($1::date)`, [old]);
  const seeded = Date.now();
  await seedOldEvents(pool, ws, ROWS, old);
  await pool.query('VACUUM ANALYZE email_events');
  console.error(`seeded ${ROWS} rows in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

  const deps = {
    pool,
    backupStore: createFakeObjectStore(),
    exportStore: createFakeObjectStore(),
    backup: { databaseUrl: url, verifyDatabaseUrl: url, tools: createPgTools() },
    uploadStore: createFakeObjectStore(),
    warmCache: createFakeWarmCache(),
    images: { bucket: 'coldcopy-uploads', maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000, webpQuality: 82 },
    metrics: createMaintenanceMetrics(),
    config: defaultMaintenanceConfig,
    now: () => new Date(),
  };
  const loadBefore = load();
  const started = Date.now();
  const { probe, result } = await probeWriterDuring(
    pool,
    ws,
    async () =>
      (await cleanupOldDataHandler(
        { dryRun: false, batchSize: BATCH, only: ['email_events'], requestedBy: 'system' },
        createFakeJobContext(deps, { jobId: 'bench', attempts: 1 }),
      )) as CleanupResult,
  );
  const seconds = (Date.now() - started) / 1000;
  console.log(
    '| rows deleted | batch | cleanup s | rows/s | writer inserts | lock-timeout failures (> 200 ms) | max lock wait ms | max insert ms | load before → after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${(result.deleted.email_events ?? 0).toLocaleString('en')} | ${BATCH} | ${seconds.toFixed(1)} | ${Math.round((result.deleted.email_events ?? 0) / seconds).toLocaleString('en')} | ${probe.inserts.toLocaleString('en')} | ${probe.lockTimeouts} | ${probe.maxLockWaitMs.toFixed(1)} | ${probe.maxInsertMs.toFixed(1)} | ${loadBefore} → ${load()} |`,
  );
  await closePool(pool);
} finally {
  await server.stop();
}
