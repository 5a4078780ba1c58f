import { releaseMaintenanceLock, tryMaintenanceLock } from '@coldcopy/db';
import type { backupData } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';
import { type BackupMetadata, runBackup, runVerify, type VerifyResult } from '../domain/backup.js';

export type BackupOutcome = { metadata: BackupMetadata; pruned: string[] } | { verified: VerifyResult } | { skipped: string };

/**
 * backup-data: a backup (domain/backup.ts) named by kind and UTC day (the payload's `date`, else
 * the run's scheduled day), or with `kind: 'verify'` the weekly test restore. One backup or
 * verification at a time across replicas (advisory lock); a missing key, a corrupt object and a
 * failed restore are permanent and fail the job.
 */
export const backupDataHandler: Handler<typeof backupData, MaintenanceDeps> = async (payload, ctx) => {
  const lockName = `backup:${payload.kind === 'verify' ? 'verify' : 'dump'}`;
  const lockClient = await ctx.deps.pool.connect();
  try {
    if (!(await tryMaintenanceLock(lockClient, lockName))) {
      ctx.log.warn('another backup-data run holds the lock; skipped', { kind: payload.kind });
      return { skipped: `another backup-data ${payload.kind === 'verify' ? 'verification' : 'backup'} is in progress` } satisfies BackupOutcome;
    }
    try {
      const rc = { deps: ctx.deps, log: ctx.log, signal: ctx.signal };
      if (payload.kind === 'verify') return { verified: await runVerify(rc) } satisfies BackupOutcome;
      const day = payload.date ?? ctx.scheduledAt.toISOString().slice(0, 10);
      return (await runBackup({ kind: payload.kind, retentionCategory: payload.retentionCategory, day }, rc)) satisfies BackupOutcome;
    } finally {
      await releaseMaintenanceLock(lockClient, lockName);
    }
  } finally {
    lockClient.release();
  }
};
