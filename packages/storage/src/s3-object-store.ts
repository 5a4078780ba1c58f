import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertObjectKey, ObjectNotFoundError, type ObjectStore, StoragePermanentError } from './object-store.js';

export interface S3StoreOptions {
  readonly bucket: string;
  /** bytes per multipart part (S3 minimum 5 MiB; default 8 MiB); memory held: partSize × (queueSize + 1) */
  readonly partSize?: number;
  /** parts uploaded in parallel (default 2) */
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

/** S3's smallest part (all but the last) */
const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * ObjectStore on S3-compatible storage: streaming multipart upload, presigned GET URLs on a
 * private bucket. The upload reads the body into fixed part buffers and sends at most `queueSize`
 * parts at once, reading no further meanwhile: its memory is partSize × (queueSize + 1) whatever
 * the object's size (@aws-sdk/lib-storage's Upload concatenated each part out of the chunks and kept
 * views of the previous one: about 90 MB of buffers for an 8 MiB part size, measured on a
 * million-row export).
 */
export function createS3ObjectStore(client: S3Client, options: S3StoreOptions): ObjectStore {
  const Bucket = options.bucket;
  const partSize = options.partSize ?? 8 * 1024 * 1024;
  const queueSize = options.queueSize ?? 2;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least 5 MiB, got ${partSize}`);
  if (!Number.isInteger(queueSize) || queueSize < 1) throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
  return {
    location: `s3://${Bucket}`,

    async put(key, body: Readable, put) {
      assertObjectKey(key);
      const signal = put.signal;
      const params = { Bucket, Key: key, ContentType: put.contentType, Metadata: { ...put.metadata } };
      const free: Buffer[] = [];
      // a part buffer is allocated lazily (pages are touched only as they fill) and reused once its
      // part is stored: at most queueSize + 1 of them ever exist, and no garbage per part
      const take = () => free.pop() ?? Buffer.allocUnsafe(partSize);
      let current: Buffer | undefined;
      let filled = 0;
      let size = 0;
      let uploadId: string | undefined;
      let partNumber = 0;
      const parts: Array<{ PartNumber: number; ETag: string | undefined }> = [];
      const inFlight = new Set<Promise<void>>();

      const sendPart = async (buffer: Buffer, length: number, PartNumber: number) => {
        const out = await client.send(
          new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber, Body: buffer.subarray(0, length), ContentLength: length }),
          {
            abortSignal: signal,
          },
        );
        parts[PartNumber - 1] = { PartNumber, ETag: out.ETag };
        free.push(buffer);
      };
      const flushPart = async () => {
        uploadId ??= (await client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal })).UploadId;
        // back-pressure: the body is not read while queueSize parts are on their way
        while (inFlight.size >= queueSize) await Promise.race(inFlight);
        const part = sendPart(current!, filled, ++partNumber).finally(() => inFlight.delete(part));
        part.catch(() => {}); // observed by the race above or the final allSettled
        inFlight.add(part);
        current = undefined;
        filled = 0;
      };

      try {
        for await (const chunk of body as AsyncIterable<Buffer | string>) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          for (let at = 0; at < bytes.length;) {
            current ??= take();
            const n = bytes.copy(current, filled, at);
            filled += n;
            at += n;
            size += n;
            if (filled === partSize) await flushPart();
          }
        }
        signal?.throwIfAborted();
        if (uploadId === undefined) {
          // smaller than one part: a plain PUT
          await client.send(new PutObjectCommand({ ...params, Body: (current ?? Buffer.alloc(0)).subarray(0, filled), ContentLength: filled }), {
            abortSignal: signal,
          });
          return { key, size };
        }
        if (filled > 0) await flushPart();
        const results = await Promise.allSettled(inFlight);
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        await client.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), {
          abortSignal: signal,
        });
        return { key, size };
      } catch (err) {
        // a failed upload aborts its multipart upload: no object appears, no parts are left to pay for
        await Promise.allSettled(inFlight);
        if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId })).catch(() => {});
        const failure: unknown = signal?.aborted ? ((signal.reason as unknown) ?? err) : translate(err, key);
        // whoever writes the body learns at once that nobody reads it any more
        if (!body.destroyed) body.destroy(failure instanceof Error ? failure : new Error(String(failure)));
        throw failure;
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
        ...(opts.downloadName ? { ResponseContentDisposition: `attachment; filename="${opts.downloadName.replace(/[^A-Za-z0-9._-]/g, '_')}"` } : {}),
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
