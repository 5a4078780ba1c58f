/**
 * @coldcopy/storage: the ObjectStore port and its adapters (S3-compatible, local disk, fake).
 * Used by the analytics worker (exports, reports) and meant for the maintenance worker (backups,
 * image variants): handlers see only the port; deps.ts picks the adapter from the env.
 */
export { createObjectStore, storageEnv, type StorageEnv } from './env.js';
export { createFakeObjectStore } from './fake-object-store.js';
export { createLocalObjectStore, type LocalStoreOptions, verifyLocalUrl } from './local-object-store.js';
export { EXPORT_URL_TTL_SECONDS, EXPORTS_BUCKET, exportObjectKey, GDPR_URL_TTL_SECONDS, workspaceOfKey } from './object-keys.js';
export {
  assertObjectKey,
  ObjectNotFoundError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  StoragePermanentError,
  type StoredObject,
} from './object-store.js';
export { createS3Client, createS3ObjectStore, type S3ClientSettings, type S3StoreOptions } from './s3-object-store.js';
