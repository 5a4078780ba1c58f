/**
 * The S3 emulator of the dev stack (package.json `coldcopy.devServers` "s3"): s3rver, the S3 REST
 * API over HTTP, on 127.0.0.1:`S3_EMULATOR_PORT` (default 4569) with the exports' bucket
 * `STORAGE_BUCKET` (default coldcopy-exports) and the backups' `BACKUP_BUCKET` (default
 * coldcopy-backups), objects under `S3_EMULATOR_DIR` (default .data/s3, kept across restarts).
 * It always runs; the worker uses it only with `STORAGE_DRIVER=s3 npm run dev` (local disk is the
 * default). Credentials: s3rver's fixed S3RVER / S3RVER.
 */
import { mkdirSync } from 'node:fs';
import { startS3rver } from '@coldcopy/storage/testing';

const port = Number(process.env.S3_EMULATOR_PORT ?? 4569);
const directory = process.env.S3_EMULATOR_DIR ?? '.data/s3';
const buckets = [...new Set([process.env.STORAGE_BUCKET ?? 'coldcopy-exports', process.env.BACKUP_BUCKET ?? 'coldcopy-backups'])];
mkdirSync(directory, { recursive: true });
const server = await startS3rver({ port, directory, buckets });
console.log(`S3 emulator (s3rver) on ${server.endpoint}, buckets ${buckets.join(', ')}, objects in ${directory}`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
