import { dbEnv, poolMaxEnv } from '@coldcopy/db/env';
import { workerAppEnv } from '@coldcopy/queue-core/env';
import { storageEnv } from '@coldcopy/storage';
import { z } from 'zod';

/**
 * The maintenance worker's env: `envSchema` is the one schema main.ts hands to runWorkerApp (parsed
 * once) and the deploy generator reads. The runtime's variables (REDIS_URL, BULL_PREFIX,
 * MAINTENANCE_CONCURRENCY, …), the database's, the storage's (the same STORAGE_* as the analytics
 * worker; this worker's own buckets are named below) and its own, each documented in `.meta()`.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const bucket = (defaultValue: string) =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
    .default(defaultValue);

export const maintenanceWorkerEnv = {
  // partition DDL runs owner-side functions; DATABASE_URL must be a direct (non-pooled) connection
  ...dbEnv,
  DATABASE_POOL_MAX: poolMaxEnv(4, 'Postgres pool size per process (one batch at a time plus the run lock)', 100),

  ...storageEnv,
  BACKUP_BUCKET: bucket('coldcopy-backups').meta({ description: 'private bucket of backups and of audit-log archives written before their deletion' }),

  BACKUP_ENCRYPTION_KEY: z.string().min(1).optional().meta({
    description:
      'backup-data: AES-256-GCM key, 32 bytes as base64 (`openssl rand -base64 32`); unset: backups fail permanently (never written unencrypted). Keep a copy outside the backups bucket',
    secret: true,
  }),
  BACKUP_DATABASE_URL: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'backup-data: a direct (non-pooled) connection for pg_dump and its snapshot; default DATABASE_URL', secret: true }),
  BACKUP_VERIFY_DATABASE_URL: z.string().min(1).optional().meta({
    description:
      'backup-data verify: a server where the role may CREATE DATABASE for the test restore (a scratch database, dropped after); default DATABASE_URL',
    secret: true,
  }),
  PG_BIN_DIR: z.string().min(1).optional().meta({
    description:
      "directory of pg_dump/pg_restore of the server's major version (Debian: /usr/lib/postgresql/<major>/bin); default: PATH, then the newest Debian installation",
  }),
  BACKUP_TMP_DIR: z.string().min(1).optional().meta({
    description:
      'backup-data verify: where the downloaded and decrypted dump are kept during the restore (needs twice the backup size); default the OS temp directory',
  }),

  UPLOAD_BUCKET: bucket('coldcopy-uploads').meta({ description: 'optimize-images: the bucket of uploaded images; variants are written beside the originals' }),
  IMAGE_MAX_BYTES: int(20 * 1024 * 1024).meta({ description: 'optimize-images: largest original read (bytes); larger ones are refused permanently' }),
  IMAGE_MAX_PIXELS: int(50_000_000).meta({
    description: 'optimize-images: largest width × height decoded, checked from the header first (decompression bombs are refused permanently)',
  }),
  IMAGE_WEBP_QUALITY: z.coerce.number().int().min(1).max(100).default(82).meta({ description: 'optimize-images: WebP quality of the variants' }),

  CACHE_WARM_MAX_WORKSPACES: int(200).meta({ description: 'cache-warming: most recently active workspaces warmed per run (a payload limit overrides)' }),
  CACHE_WARM_MAX_KEYS_PER_WORKSPACE: int(50).meta({ description: 'cache-warming: campaigns and top lead scores per workspace' }),

  CLEANUP_STATEMENT_TIMEOUT_MS: int(15_000).meta({ description: 'cleanup-old-data: time limit of each batch statement' }),
  CLEANUP_LOCK_TIMEOUT_MS: int(100).meta({
    description: 'cleanup-old-data: how long a batch waits for a lock before it gives up (a retry follows), so it never queues live writers behind it',
  }),
  CLEANUP_BATCH_PAUSE_MS: int(20, 0).meta({ description: 'cleanup-old-data: pause between two batches, leaving room for live traffic' }),
  PARTITION_MONTHS_AHEAD: z.coerce
    .number()
    .int()
    .min(3)
    .max(6)
    .default(4)
    .meta({ description: 'partition maintenance: email_events months kept created beyond the current one (3–6)' }),
  PARTITION_RETENTION_MONTHS: z.coerce
    .number()
    .int()
    .min(13)
    .max(120)
    .default(13)
    .meta({ description: 'partition maintenance: whole months of email_events kept before the current one; must cover the longest workspace policy' }),
};

export const envSchema = workerAppEnv('maintenance', maintenanceWorkerEnv);

export type MaintenanceWorkerEnv = z.output<typeof envSchema>;
