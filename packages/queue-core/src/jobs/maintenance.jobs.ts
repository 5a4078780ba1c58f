import { z } from 'zod';
import { timeSlot } from './fields.js';
import { defineJob } from '../definitions/define-job.js';

/**
 * Maintenance queue: retention, image variants, backups and cache warming (domain.md §5–§7).
 * One attempt each: these jobs are scheduled and cutoff-based, so the next run catches up, and a
 * half-done retry of a heavy job does more harm than waiting. Every job here is global except
 * `optimize-images`, which acts on one workspace's upload.
 */

/** The retention rules of docs/schedules-and-retention.md that `cleanup-old-data` can run one by one. */
const retentionRule = z.enum([
  'email_events',
  'email_event_partitions',
  'campaign_email_content',
  'enriched_data',
  'enrichment_cache',
  'inactive_leads',
  'unsubscribed_leads',
  'audit_logs',
  'gdpr_audit_logs',
  'data_subject_requests',
  'gdpr_exports',
  'analytics_events',
  'webhook_dedupe',
  'job_tables',
  'materialized_view_refresh_log',
  'consent_expiry',
]);

/** Applies the retention rules: batched deletes, anonymisation, partition drops. */
export const cleanupOldData = defineJob({
  name: 'cleanup-old-data',
  queue: 'maintenance',
  description: 'Apply retention policies: delete or anonymise old rows and drop expired partitions',
  scope: 'global',
  payload: {
    /** count what would be deleted or anonymised, change nothing */
    dryRun: z.boolean().default(false),
    /** rows per delete/update statement (small batches keep locks short) */
    batchSize: z.number().int().positive().max(10_000).default(1000),
    /**
     * run only these rules, e.g. the hourly `enrichment_cache` purge. Default: every rule except
     * `email_event_partitions` and `consent_expiry`, which run on their own schedules.
     */
    only: z.array(retentionRule).min(1).max(16).optional(),
    /** the scheduler tick: part of the key; absent for scheduled runs, whose Bull repeat job id is already unique per tick (schedules.ts) */
    slot: timeSlot.optional(),
  },
  // domain.md: `cleanup:{YYYY-MM-DD}`. A minute slot instead of the date, because the hourly
  // `enrichment_cache` purge would otherwise collide with the nightly run and with itself; the
  // mode and the rules are in the key so that a dry run never blocks the real one.
  idempotencyKey: (p) => [p.slot ?? 'unslotted', p.dryRun ? 'dry-run' : 'apply', ...(p.only ? [...new Set(p.only)].sort() : ['all'])],
  options: { attempts: 1, priority: 'background' },
});

/** Creates WebP variants of one uploaded image. */
export const optimizeImages = defineJob({
  name: 'optimize-images',
  queue: 'maintenance',
  description: 'Create WebP variants of an uploaded avatar, logo or template image and record them',
  scope: 'workspace',
  payload: {
    /** `uploads` row */
    uploadId: z.uuid(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected a bucket name'),
    /** object key of the original; the worker checks it lies under the workspace's prefix */
    key: z.string().min(1).max(1024),
    /** decides the variant sizes (avatar 200/400 px, logo 300/600 px, plus a 100 px thumbnail) */
    fileType: z.enum(['avatar', 'logo', 'template']),
  },
  // `v1` is the version of the variant set: bump it when sizes or formats change.
  idempotencyKey: (p) => [p.uploadId, 'v1'],
  options: { attempts: 1, priority: 'low' },
});

/** Dumps the database, encrypted, into `coldcopy-backups`. */
export const backupData = defineJob({
  name: 'backup-data',
  queue: 'maintenance',
  description: 'pg_dump the database encrypted with metadata and prune old backups, or verify the newest by a test restore',
  scope: 'global',
  payload: {
    /** `verify`: restore the newest full backup into a scratch database and compare row counts (weekly) */
    kind: z.enum(['full', 'schema', 'verify']),
    /** `compliance` (kept 365 days) for the first backup of each month, else `standard` (30 days) */
    retentionCategory: z.enum(['standard', 'compliance']).default('standard'),
    /** UTC day of the backup: part of the key; absent for scheduled runs, whose Bull repeat job id is already unique per tick (schedules.ts) */
    date: z.iso.date().optional(),
  },
  idempotencyKey: (p) => [p.kind, p.date ?? 'undated'],
  options: { attempts: 1, priority: 'low' },
});

/** Pre-computes hot Redis keys (every key includes its workspace id). */
export const cacheWarming = defineJob({
  name: 'cache-warming',
  queue: 'maintenance',
  description: 'Pre-compute hot Redis keys (campaign performance, lead scores, workspace analytics)',
  scope: 'global',
  payload: {
    /** default: every scope */
    scopes: z
      .array(z.enum(['campaign-performance', 'lead-scores', 'workspace-analytics']))
      .min(1)
      .max(3)
      .optional(),
    limits: z
      .object({
        /** most recently active workspaces to warm */
        maxWorkspaces: z.number().int().positive().max(10_000).optional(),
        maxKeysPerWorkspace: z.number().int().positive().max(10_000).optional(),
      })
      .optional(),
    /** the 30-minute scheduler tick: part of the key; absent for scheduled runs, whose Bull repeat job id is already unique per tick (schedules.ts) */
    slot: timeSlot.optional(),
  },
  idempotencyKey: (p) => [p.slot ?? 'unslotted', ...(p.scopes ? [...new Set(p.scopes)].sort() : ['all'])],
  options: { attempts: 1, priority: 'background' },
});

export const maintenanceJobs = [cleanupOldData, optimizeImages, backupData, cacheWarming] as const;
