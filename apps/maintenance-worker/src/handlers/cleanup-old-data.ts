import { releaseMaintenanceLock, tryMaintenanceLock } from '@coldcopy/db';
import type { cleanupOldData } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';
import { type CleanupResult, runCleanup } from '../domain/cleanup.js';

export type CleanupOutcome = CleanupResult | { skipped: string };

/**
 * Applies the retention rules (domain/cleanup.ts). One runner at a time across replicas (a
 * Postgres advisory lock held for the run; a second run finds it held and ends as skipped). A run
 * in which a rule failed still applies every other rule, then fails with the list, so the failure
 * is final and visible (attempts: 1) and the cleanup-errors alert fires.
 */
export const cleanupOldDataHandler: Handler<typeof cleanupOldData, MaintenanceDeps> = async (payload, ctx) => {
  const lockName = `cleanup:${payload.dryRun ? 'dry-run' : 'apply'}`;
  const lockClient = await ctx.deps.pool.connect();
  try {
    if (!(await tryMaintenanceLock(lockClient, lockName))) {
      ctx.log.warn('another cleanup-old-data run holds the lock; skipped');
      return { skipped: 'another cleanup-old-data run is in progress' } satisfies CleanupOutcome;
    }
    try {
      const result = await runCleanup(
        { dryRun: payload.dryRun, batchSize: payload.batchSize, ...(payload.only ? { only: payload.only } : {}) },
        { deps: ctx.deps, log: ctx.log, signal: ctx.signal },
      );
      if (result.errors.length > 0) {
        const summary = result.errors.map((e) => `${e.rule}${e.workspaceId ? ` (${e.workspaceId})` : ''}: ${e.error}`).join('; ');
        throw Object.assign(new Error(`cleanup-old-data: ${result.errors.length} rule(s) failed: ${summary}`), { result });
      }
      return result satisfies CleanupOutcome;
    } finally {
      await releaseMaintenanceLock(lockClient, lockName);
    }
  } finally {
    lockClient.release();
  }
};
