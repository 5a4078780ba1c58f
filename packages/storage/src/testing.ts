// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- s3rver ships no types: the ambient declaration, for every importer
/// <reference path="./s3rver.d.ts" />
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly bucket: string;
  /** settings for createS3Client / the STORAGE_* variables */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/** s3rver's fixed credentials */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * s3rver (the S3 REST API over HTTP, objects in `directory`) on 127.0.0.1:`port` (0: a free one)
 * with `buckets`; resolves with its endpoint once it listens. The dev stack's S3 emulator and the
 * tests' server below.
 */
export async function startS3rver(options: {
  port: number;
  directory: string;
  buckets: readonly string[];
}): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    silent: true,
    directory: options.directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/**
 * A real S3-compatible server (s3rver: the S3 REST API over HTTP, objects in a temp directory) on
 * 127.0.0.1 and a free port, with one bucket. The S3 adapter's tests talk to it through the real
 * AWS SDK over a socket: no module mocks.
 */
export async function startS3TestServer(bucket = 'coldcopy-exports'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'coldcopy-s3-'));
  const server = await startS3rver({ port: 0, directory, buckets: [bucket] });
  const endpoint = server.endpoint;
  return {
    endpoint,
    bucket,
    env: {
      STORAGE_DRIVER: 's3',
      STORAGE_ENDPOINT: endpoint,
      STORAGE_BUCKET: bucket,
      STORAGE_REGION: 'us-east-1',
      STORAGE_FORCE_PATH_STYLE: 'true',
      STORAGE_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      STORAGE_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
