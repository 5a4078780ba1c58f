import { z } from 'zod';
import { createLocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import { createS3Client, createS3ObjectStore } from './s3-object-store.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/**
 * Object-storage variables shared by the workers that store files (merged into an app's env).
 * `local` (default) writes under STORAGE_LOCAL_DIR; `s3` talks to an S3-compatible service.
 */
export const storageEnv = {
  STORAGE_DRIVER: z
    .enum(['local', 's3'])
    .default('local')
    .meta({ description: '`local` (a directory; development default) or `s3` (DigitalOcean Spaces, AWS S3, a local S3 server)' }),
  STORAGE_LOCAL_DIR: z.string().min(1).default('.data/storage').meta({ description: '`local`: root directory of the buckets' }),
  STORAGE_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
    .default('coldcopy-exports')
    .meta({ description: 'bucket of exports and reports (private)' }),
  STORAGE_REGION: z.string().min(1).default('us-east-1').meta({ description: '`s3`: region (Spaces: the datacenter, e.g. `fra1`)' }),
  STORAGE_ENDPOINT: z.url().optional().meta({ description: '`s3`: endpoint, e.g. `https://fra1.digitaloceanspaces.com`; unset for AWS' }),
  STORAGE_FORCE_PATH_STYLE: bool.default(false).meta({ description: '`s3`: put the bucket in the path (local S3 servers)' }),
  STORAGE_ACCESS_KEY_ID: z.string().min(1).optional().meta({ description: "`s3`: access key (or use the SDK's default credential chain)", secret: true }),
  STORAGE_SECRET_ACCESS_KEY: z.string().min(1).optional().meta({ description: '`s3`: secret key', secret: true }),
};

export type StorageEnv = z.output<z.ZodObject<typeof storageEnv>>;

/** The ObjectStore the env names, plus what must be closed at shutdown. */
export function createObjectStore(env: StorageEnv): { store: ObjectStore; close(): void } {
  if (env.STORAGE_DRIVER === 'local') {
    return { store: createLocalObjectStore({ dir: env.STORAGE_LOCAL_DIR, bucket: env.STORAGE_BUCKET }), close() {} };
  }
  if (Boolean(env.STORAGE_ACCESS_KEY_ID) !== Boolean(env.STORAGE_SECRET_ACCESS_KEY)) {
    throw new Error('STORAGE_ACCESS_KEY_ID and STORAGE_SECRET_ACCESS_KEY go together');
  }
  const client = createS3Client({
    region: env.STORAGE_REGION,
    endpoint: env.STORAGE_ENDPOINT,
    forcePathStyle: env.STORAGE_FORCE_PATH_STYLE,
    accessKeyId: env.STORAGE_ACCESS_KEY_ID,
    secretAccessKey: env.STORAGE_SECRET_ACCESS_KEY,
  });
  return { store: createS3ObjectStore(client, { bucket: env.STORAGE_BUCKET }), close: () => client.destroy() };
}
