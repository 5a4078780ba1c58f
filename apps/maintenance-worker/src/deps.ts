import { closePool, createPool, dbConfig, type Pool } from '@coldcopy/db';
import type { WorkerAppTools } from '@coldcopy/queue-core/runtime';
import { createObjectStore, type ObjectStore } from '@coldcopy/storage';
import { latestBackupTime } from './domain/backup.js';
import { configureSharp } from './domain/image-variants.js';
import type { MaintenanceConfig } from './config.js';
import { parseBackupKey } from './domain/backup-crypto.js';
import type { MaintenanceWorkerEnv } from './env.js';
import { createMaintenanceMetrics, type MaintenanceMetrics } from './providers/maintenance-metrics.js';
import { createPgTools, type PgTools } from './providers/pg-tools.js';
import { createRedisWarmCache, type WarmCache } from './providers/warm-cache.js';

export interface BackupSettings {
  /** AES-256-GCM key; absent: backup-data fails permanently */
  readonly key?: Buffer;
  /** direct connection for pg_dump and its snapshot */
  readonly databaseUrl: string;
  /** where scratch databases for test restores are created */
  readonly verifyDatabaseUrl: string;
  readonly tools: PgTools;
  readonly tmpDir?: string;
}

/** Everything the handlers use. Built here (the only file naming real SDKs) or from fakes in tests. */
export interface MaintenanceDeps {
  /** Postgres: every statement goes through @coldcopy/db's repositories */
  readonly pool: Pool;
  /** coldcopy-backups: backups, and audit-log archives written before deletion */
  readonly backupStore: ObjectStore;
  /** coldcopy-exports (STORAGE_BUCKET): expired GDPR export files are removed from it */
  readonly exportStore: ObjectStore;
  readonly backup: BackupSettings;
  /** UPLOAD_BUCKET: originals and their WebP variants */
  readonly uploadStore: ObjectStore;
  readonly images: { readonly bucket: string; readonly maxBytes: number; readonly maxPixels: number; readonly webpQuality: number };
  /** Redis keys `cache:{ws}:…` for the web app (cache-warming) */
  readonly warmCache: WarmCache;
  readonly metrics: MaintenanceMetrics;
  readonly config: MaintenanceConfig;
  readonly now: () => Date;
}

const owned = new WeakMap<MaintenanceDeps, { pool: Pool; closers: Array<() => void> }>();

export function maintenanceConfig(env: MaintenanceWorkerEnv): MaintenanceConfig {
  return {
    cleanup: {
      statementTimeoutMs: env.CLEANUP_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: env.CLEANUP_LOCK_TIMEOUT_MS,
      batchPauseMs: env.CLEANUP_BATCH_PAUSE_MS,
      lockRetries: 20,
    },
    partitions: { monthsAhead: env.PARTITION_MONTHS_AHEAD, retentionMonths: env.PARTITION_RETENTION_MONTHS },
    cacheWarming: { maxWorkspaces: env.CACHE_WARM_MAX_WORKSPACES, maxKeysPerWorkspace: env.CACHE_WARM_MAX_KEYS_PER_WORKSPACE },
  };
}

export async function createDeps(env: MaintenanceWorkerEnv, tools: WorkerAppTools): Promise<MaintenanceDeps> {
  const pool = createPool(dbConfig(env, 'coldcopy-maintenance-worker'), {
    onError: (err) => tools.logger.warn('idle Postgres client failed', { err: err.message }),
  });
  const exports = createObjectStore(env);
  const backups = createObjectStore({ ...env, STORAGE_BUCKET: env.BACKUP_BUCKET });
  const uploads = createObjectStore({ ...env, STORAGE_BUCKET: env.UPLOAD_BUCKET });
  configureSharp();
  const warmCache = createRedisWarmCache(env.REDIS_URL);
  tools.logger.info('object storage', { exports: exports.store.location, backups: backups.store.location });
  const deps: MaintenanceDeps = {
    pool,
    backupStore: backups.store,
    exportStore: exports.store,
    backup: {
      ...(env.BACKUP_ENCRYPTION_KEY ? { key: parseBackupKey(env.BACKUP_ENCRYPTION_KEY) } : {}),
      databaseUrl: env.BACKUP_DATABASE_URL ?? env.DATABASE_URL,
      verifyDatabaseUrl: env.BACKUP_VERIFY_DATABASE_URL ?? env.BACKUP_DATABASE_URL ?? env.DATABASE_URL,
      tools: createPgTools(env.PG_BIN_DIR),
      ...(env.BACKUP_TMP_DIR ? { tmpDir: env.BACKUP_TMP_DIR } : {}),
    },
    uploadStore: uploads.store,
    images: { bucket: env.UPLOAD_BUCKET, maxBytes: env.IMAGE_MAX_BYTES, maxPixels: env.IMAGE_MAX_PIXELS, webpQuality: env.IMAGE_WEBP_QUALITY },
    warmCache,
    metrics: createMaintenanceMetrics(tools.registry),
    config: maintenanceConfig(env),
    now: () => new Date(),
  };
  owned.set(deps, { pool, closers: [() => exports.close(), () => backups.close(), () => uploads.close()] });
  if (!deps.backup.key) tools.logger.warn('BACKUP_ENCRYPTION_KEY is not set: backup-data jobs will fail');
  // the backup-missing alert reads this gauge: start from the newest stored backup, not from zero
  await latestBackupTime(deps).then(
    (at) => at && deps.metrics.backupSucceeded(at),
    (err: Error) => tools.logger.warn('could not read the newest backup metadata', { error: err.message }),
  );
  return deps;
}

export async function closeDeps(deps: MaintenanceDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  for (const close of state.closers) close();
  await deps.warmCache.close();
  await closePool(state.pool);
}
