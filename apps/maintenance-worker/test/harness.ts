import { randomBytes, randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { closePool, createPool, loadDbEnv, type Pool } from '@coldcopy/db';
import { createFakeObjectStore } from '@coldcopy/storage';
import { createFakeJobContext, createTestDatabase, type FakeJobContext, findBinary, postgresBinDirs, type TestDatabase } from '@coldcopy/testing';
import { afterAll, beforeAll, inject } from 'vitest';
import { defaultMaintenanceConfig, type MaintenanceConfig } from '../src/config.js';
import type { BackupSettings, MaintenanceDeps } from '../src/deps.js';
import { createPgTools } from '../src/providers/pg-tools.js';
import { createFakeWarmCache, type WarmCache } from '../src/providers/warm-cache.js';
import { createMaintenanceMetrics } from '../src/providers/maintenance-metrics.js';

/** One test database (a clone of the migrated template) per file; object stores are fakes with memory. */
export function useMaintenanceHarness() {
  const state = {} as { db: TestDatabase; pool: Pool };
  beforeAll(async () => {
    state.db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
    state.pool = createPool(loadDbEnv({ DATABASE_URL: state.db.url, DATABASE_POOL_MAX: '8' }));
  });
  afterAll(async () => {
    if (state.pool) await closePool(state.pool);
    await state.db?.drop();
  });

  function deps(overrides: { config?: Partial<MaintenanceConfig>; now?: () => Date; backup?: Partial<BackupSettings>; warmCache?: WarmCache } = {}) {
    const backupStore = createFakeObjectStore();
    const exportStore = createFakeObjectStore();
    const uploadStore = createFakeObjectStore();
    const deps: MaintenanceDeps = {
      pool: state.pool,
      backupStore,
      exportStore,
      backup: {
        key: TEST_BACKUP_KEY,
        databaseUrl: state.db.url,
        verifyDatabaseUrl: state.db.url,
        tools: createPgTools(testPgBinDir()),
        ...overrides.backup,
      },
      uploadStore,
      images: { bucket: 'coldcopy-uploads', maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000, webpQuality: 82 },
      warmCache: overrides.warmCache ?? createFakeWarmCache(),
      metrics: createMaintenanceMetrics(),
      config: { ...defaultMaintenanceConfig, cleanup: { ...defaultMaintenanceConfig.cleanup, batchPauseMs: 0 }, ...overrides.config },
      now: overrides.now ?? (() => new Date()),
    };
    return Object.assign(deps, { backupStore, exportStore, uploadStore });
  }
  return Object.assign(state, { deps });
}

export const TEST_BACKUP_KEY = randomBytes(32);

/**
 * pg_dump and pg_restore from the installation whose initdb runs the tests' private Postgres (the
 * same major version; Debian's postgresql-<major> brings postgresql-client-<major> into the same
 * directory). No fallback: a missing tool fails the test.
 */
export function testPgBinDir(): string {
  const initdb = findBinary('initdb', postgresBinDirs());
  if (!initdb) throw new Error('initdb not found (Debian package postgresql)');
  return dirname(realpathSync(initdb));
}

/** A handler context without Bull (the recording fake of @coldcopy/testing); maintenance jobs have 1 attempt. */
export function testContext<D>(deps: D, options: { signal?: AbortSignal } = {}): FakeJobContext<D> {
  return createFakeJobContext(deps, { jobId: `test-${randomUUID()}`, attempts: 1, ...options });
}
