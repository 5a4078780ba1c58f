import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertObjectKey, ObjectNotFoundError, type ObjectStore, StoragePermanentError } from './object-store.js';

export interface S3StoreOptions {
  readonly bucket: string;
  /** bytes per multipart part (S3 minimum 5 MiB); memory held ≈ partSize × (queueSize + 1) */
  readonly partSize?: number;
  /** parts uploaded in parallel */
  readonly queueSize?: number;
}

export interface S3ClientSettings {
  readonly region: string;
  /** e.g. `https://fra1.digitaloceanspaces.com`, or a local S3-compatible server; unset for AWS */
  readonly endpoint?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** `bucket` in the path instead of the host name (local servers, MinIO) */
  readonly forcePathStyle?: boolean;
}

/** An S3 client for AWS, DigitalOcean Spaces or a local S3-compatible server. */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle ?? false,
    // checksums only where S3 requires them: a CRC32 of every uploaded part costs CPU on large
    // exports, and S3-compatible services (Spaces, emulators) differ in their support
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
    requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
  });
}

const PERMANENT = new Set(['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidBucketName', 'KeyTooLongError']);

/** Vendor errors → the port's: permanent ones fail the job at once, the rest are retried. */
function translate(err: unknown, key: string): unknown {
  if (err instanceof S3ServiceException) {
    if (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404) return new ObjectNotFoundError(key);
    if (PERMANENT.has(err.name) || err.$metadata.httpStatusCode === 403) {
      return new StoragePermanentError(`object storage refused ${key}: ${err.name}`, { cause: err });
    }
  }
  return err;
}

/**
 * ObjectStore on S3-compatible storage: streaming multipart upload (lib-storage: it pulls one part
 * at a time from the body, so memory stays at a few parts whatever the size), presigned GET URLs
 * on a private bucket.
 */
export function createS3ObjectStore(client: S3Client, options: S3StoreOptions): ObjectStore {
  const Bucket = options.bucket;
  return {
    location: `s3://${Bucket}`,

    async put(key, body: Readable, put) {
      assertObjectKey(key);
      let size = 0;
      // counted as lib-storage pulls: the size of what was uploaded, without a HEAD afterwards
      body.on('data', (chunk: Buffer | string) => (size += Buffer.byteLength(chunk)));
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: body, ContentType: put.contentType, Metadata: { ...put.metadata } },
        partSize: options.partSize ?? 8 * 1024 * 1024,
        queueSize: options.queueSize ?? 2,
        // a failed upload aborts its multipart upload: no parts are left to pay for
        leavePartsOnError: false,
      });
      const onAbort = () => void upload.abort().catch(() => {});
      put.signal?.addEventListener('abort', onAbort, { once: true });
      // lib-storage does not watch the body for errors once it is waiting on a part
      const bodyFailed = new Promise<never>((_, reject) => body.once('error', reject));
      bodyFailed.catch(() => {});
      try {
        await Promise.race([upload.done(), bodyFailed]);
        return { key, size };
      } catch (err) {
        await upload.abort().catch(() => {});
        throw put.signal?.aborted ? (put.signal.reason ?? err) : translate(err, key);
      } finally {
        put.signal?.removeEventListener('abort', onAbort);
      }
    },

    async head(key) {
      assertObjectKey(key);
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return { size: out.ContentLength ?? 0, contentType: out.ContentType, metadata: out.Metadata ?? {} };
      } catch (err) {
        const e = translate(err, key);
        if (e instanceof ObjectNotFoundError) return null;
        throw e;
      }
    },

    async get(key) {
      assertObjectKey(key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        return out.Body as Readable;
      } catch (err) {
        throw translate(err, key);
      }
    },

    async presignGet(key, expiresInSeconds, opts = {}) {
      assertObjectKey(key);
      const command = new GetObjectCommand({
        Bucket,
        Key: key,
        ...(opts.downloadName
          ? { ResponseContentDisposition: `attachment; filename="${opts.downloadName.replace(/[^A-Za-z0-9._-]/g, '_')}"` }
          : {}),
      });
      return getSignedUrl(client, command, { expiresIn: expiresInSeconds });
    },

    async list(prefix) {
      const keys: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken }));
        for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
        ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return keys.sort();
    },

    async delete(key) {
      assertObjectKey(key);
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },

    async abortIncompleteUploads(prefix) {
      let aborted = 0;
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      do {
        let out;
        try {
          out = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
        } catch (err) {
          // servers without ListMultipartUploads (some emulators): their leftover parts are not
          // objects either; a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans them
          if (err instanceof S3ServiceException && err.name === 'NotImplemented') return aborted;
          throw err;
        }
        for (const u of out.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
          aborted++;
        }
        KeyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
        UploadIdMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined;
      } while (KeyMarker);
      return aborted;
    },
  };
}
