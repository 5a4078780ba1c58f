import type { Readable } from 'node:stream';

/**
 * The object-storage port shared by the workers that write files for users (analytics exports and
 * reports, maintenance backups and image variants). Two adapters: S3-compatible storage
 * (s3-object-store.ts: DigitalOcean Spaces in production) and a local directory
 * (local-object-store.ts: the development default); a fake with memory for handler tests.
 */
export interface ObjectStore {
  /** what the adapter writes to: `s3://bucket` or `file:///dir/bucket` (logs, never a secret) */
  readonly location: string;
  /**
   * Streams `body` to `key`, replacing an object already there. Reads with back-pressure (a part
   * at a time); when the body errors or `signal` fires, the upload is aborted and no new object
   * appears at `key`.
   */
  put(key: string, body: Readable, options: PutOptions): Promise<StoredObject>;
  /** the object's size, type and metadata; null when there is none */
  head(key: string): Promise<ObjectInfo | null>;
  /** the object's bytes as a stream; ObjectNotFoundError when there is none */
  get(key: string): Promise<Readable>;
  /** a GET URL that works without credentials for `expiresInSeconds` */
  presignGet(key: string, expiresInSeconds: number, options?: { downloadName?: string }): Promise<string>;
  /** keys under a prefix, sorted (incomplete uploads are not objects and are not listed) */
  list(prefix: string): Promise<string[]>;
  /** removes the object; no error when there is none */
  delete(key: string): Promise<void>;
  /**
   * Discards uploads under `prefix` left unfinished by a process that died mid-upload (S3
   * multipart uploads, partial files); returns how many. Call before redoing an upload.
   */
  abortIncompleteUploads(prefix: string): Promise<number>;
}

export interface PutOptions {
  readonly contentType: string;
  /** user metadata (x-amz-meta-*): short ASCII values only */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface StoredObject {
  readonly key: string;
  /** bytes written */
  readonly size: number;
}

export interface ObjectInfo {
  readonly size: number;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The storage refused for a reason retrying cannot fix (no bucket, access denied, bad key). */
export class StoragePermanentError extends Error {
  override name = 'StoragePermanentError';
  /** read by queue-core's isPermanentError: the job fails without retries */
  readonly permanent = true;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no object at ${key}`);
  }
}

/** Keys are relative, `/`-separated, without `.`/`..` segments or control characters. */
export function assertObjectKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..') ||
    // eslint-disable-next-line no-control-regex -- control characters are what this rejects
    /[\u0000-\u001f\u007f\\]/.test(key)
  ) {
    throw new StoragePermanentError(`invalid object key ${JSON.stringify(key)}`);
  }
}
