import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  abortSnapshot,
  countUserTableRows,
  createPool,
  closePool,
  createScratchDatabase,
  dropScratchDatabase,
  endSnapshot,
  exportSnapshot,
  loadDbEnv,
} from '@coldcopy/db';
import { PermanentJobError } from '@coldcopy/queue-core';
import type { Logger } from '@coldcopy/queue-core/runtime';
import { ObjectNotFoundError } from '@coldcopy/storage';
import type { MaintenanceDeps } from '../deps.js';
import { BackupIntegrityError, createDecryptStream, createEncryptStream, DigestStream, keyId } from './backup-crypto.js';

/**
 * backup-data (domain.md §7): `pg_dump -Fc` over a direct connection, read from a snapshot whose
 * row counts are recorded, streamed through AES-256-GCM and SHA-256 into the backups bucket as
 * `backups/{name}.dump.enc`, then `backups/metadata/{name}.json`. Standard backups are kept 30
 * days, compliance ones (the first of each month) 365 days; pruning runs after every backup.
 * `verify` restores the newest full backup into a scratch database and compares row counts.
 */

export const RETENTION_DAYS = { standard: 30, compliance: 365 } as const;
const DAY_MS = 86_400_000;

export interface BackupMetadata {
  backup_name: string;
  timestamp: string;
  database: string;
  size_bytes: number;
  /** SHA-256 (hex) of the stored, encrypted object */
  checksum: string;
  encrypted: true;
  type: 'full' | 'schema';
  retention_category: 'standard' | 'compliance';
  expires_at: string;
  object_key: string;
  format: 'pg_dump-custom';
  cipher: 'aes-256-gcm';
  key_id: string;
  server_version: string;
  /** exact row counts of the dumped snapshot, per table (empty for schema backups) */
  tables: Record<string, number>;
}

export interface VerifyResult {
  backup_name: string;
  verified_at: string;
  checksum: string;
  tables: number;
  rows: number;
}

interface RunContext {
  readonly deps: MaintenanceDeps;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

export const dumpKey = (name: string) => `backups/${name}.dump.enc`;
export const metadataKey = (name: string) => `backups/metadata/${name}.json`;
export const verificationKey = (name: string) => `backups/verifications/${name}.json`;

function requireKey(deps: MaintenanceDeps): Buffer {
  if (!deps.backup.key) throw new PermanentJobError('backup-data: BACKUP_ENCRYPTION_KEY is not set; no backup is written unencrypted');
  return deps.backup.key;
}

/** `coldcopy-full-2026-12-06`: one name per kind and UTC day, so a rerun replaces that day's backup. */
export function backupName(database: string, kind: 'full' | 'schema', day: string): string {
  return `${database.replace(/[^a-zA-Z0-9_-]/g, '-')}-${kind}-${day}`;
}

export async function runBackup(
  options: { kind: 'full' | 'schema'; retentionCategory: 'standard' | 'compliance'; day: string },
  rc: RunContext,
): Promise<{ metadata: BackupMetadata; pruned: string[] }> {
  const { deps, log, signal } = rc;
  const key = requireKey(deps);
  const store = deps.backupStore;
  // the snapshot's connection: a direct one (pg_dump imports the snapshot on the same server)
  const snapshotPool = createPool(loadDbEnv({ DATABASE_URL: deps.backup.databaseUrl, DATABASE_POOL_MAX: '1', DATABASE_STATEMENT_TIMEOUT_MS: '0' }));
  const client = await snapshotPool.connect();
  try {
    const snapshot = await exportSnapshot(client, { countRows: options.kind === 'full' });
    const name = backupName(snapshot.database, options.kind, options.day);
    const objectKey = dumpKey(name);
    await store.abortIncompleteUploads(objectKey);
    const dump = deps.backup.tools.dump({
      databaseUrl: deps.backup.databaseUrl,
      schemaOnly: options.kind === 'schema',
      snapshotId: snapshot.snapshotId,
      signal,
    });
    const digest = new DigestStream();
    const body = dump.stdout.pipe(createEncryptStream(key)).pipe(digest);
    // a pg_dump failure ends the upload with an error: no object appears at the key
    dump.done.catch((err: Error) => body.destroy(err));
    const [stored] = await Promise.all([store.put(objectKey, body, { contentType: 'application/octet-stream', signal }), dump.done]);
    await endSnapshot(client);
    const now = deps.now();
    const metadata: BackupMetadata = {
      backup_name: name,
      timestamp: now.toISOString(),
      database: snapshot.database,
      size_bytes: stored.size,
      checksum: digest.hex(),
      encrypted: true,
      type: options.kind,
      retention_category: options.retentionCategory,
      expires_at: new Date(now.getTime() + RETENTION_DAYS[options.retentionCategory] * DAY_MS).toISOString(),
      object_key: objectKey,
      format: 'pg_dump-custom',
      cipher: 'aes-256-gcm',
      key_id: keyId(key),
      server_version: snapshot.serverVersion,
      tables: snapshot.tables,
    };
    // the metadata last: a backup without metadata is incomplete and is never picked for restore
    await store.put(metadataKey(name), Readable.from([Buffer.from(JSON.stringify(metadata, null, 2))]), { contentType: 'application/json', signal });
    log.info('backup stored', { name, sizeBytes: stored.size, tables: Object.keys(snapshot.tables).length });
    deps.metrics.backupSucceeded(now);
    const pruned = await pruneBackups(rc, now);
    return { metadata, pruned };
  } catch (err) {
    await abortSnapshot(client);
    throw err;
  } finally {
    client.release();
    await closePool(snapshotPool);
  }
}

async function readMetadata(deps: MaintenanceDeps, key: string): Promise<BackupMetadata> {
  const chunks: Buffer[] = [];
  for await (const chunk of await deps.backupStore.get(key)) chunks.push(Buffer.from(chunk as Buffer));
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as BackupMetadata;
}

/** Every backup's metadata, oldest first (unreadable metadata files are logged and skipped). */
export async function listBackups(rc: RunContext): Promise<BackupMetadata[]> {
  const keys = (await rc.deps.backupStore.list('backups/metadata/')).filter((k) => k.endsWith('.json'));
  const all: BackupMetadata[] = [];
  for (const key of keys) {
    try {
      all.push(await readMetadata(rc.deps, key));
    } catch (err) {
      rc.log.warn('unreadable backup metadata', { key, error: (err as Error).message });
    }
  }
  return all.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}

/** Time of the newest backup in the bucket (by its metadata file name and content), or null. */
export async function latestBackupTime(deps: MaintenanceDeps): Promise<Date | null> {
  const keys = (await deps.backupStore.list('backups/metadata/')).filter((k) => k.endsWith('.json'));
  let latest: Date | null = null;
  for (const key of keys) {
    const at = new Date((await readMetadata(deps, key)).timestamp);
    if (!latest || at > latest) latest = at;
  }
  return latest;
}

/** Deletes backups past their retention (the dump first, then its metadata); returns their names. */
export async function pruneBackups(rc: RunContext, now: Date): Promise<string[]> {
  const pruned: string[] = [];
  for (const meta of await listBackups(rc)) {
    const expires = Date.parse(meta.timestamp) + RETENTION_DAYS[meta.retention_category] * DAY_MS;
    if (expires > now.getTime()) continue;
    await rc.deps.backupStore.delete(meta.object_key);
    await rc.deps.backupStore.delete(verificationKey(meta.backup_name));
    await rc.deps.backupStore.delete(metadataKey(meta.backup_name));
    pruned.push(meta.backup_name);
  }
  if (pruned.length > 0) rc.log.info('backups pruned', { pruned });
  return pruned;
}

/**
 * Downloads the newest full backup, checks its SHA-256 against the metadata, decrypts it (the GCM
 * tag authenticates it), restores it into a scratch database with pg_restore and compares the row
 * count of every table with the counts recorded at backup time. Any difference fails with a
 * BackupIntegrityError naming it; nothing is skipped silently.
 */
export async function runVerify(rc: RunContext): Promise<VerifyResult> {
  const { deps, log, signal } = rc;
  const key = requireKey(deps);
  const latest = (await listBackups(rc)).filter((m) => m.type === 'full').at(-1);
  if (!latest) throw new BackupIntegrityError('backup verify: no full backup with metadata in the backups bucket');
  const fail = (why: string) => {
    deps.metrics.verifyFailed();
    return new BackupIntegrityError(`backup verify of ${latest.backup_name} failed: ${why}`);
  };
  if (latest.key_id !== keyId(key)) throw fail(`it was encrypted with key ${latest.key_id}, the configured key is ${keyId(key)}`);

  const dir = await mkdtemp(join(deps.backup.tmpDir ?? tmpdir(), 'coldcopy-verify-'));
  const scratch = `coldcopy_verify_${randomBytes(8).toString('hex')}`;
  const admin = createPool(loadDbEnv({ DATABASE_URL: deps.backup.verifyDatabaseUrl, DATABASE_POOL_MAX: '1', DATABASE_STATEMENT_TIMEOUT_MS: '0' }));
  let created = false;
  try {
    // 1. download and checksum
    const encrypted = join(dir, 'backup.dump.enc');
    const digest = new DigestStream();
    let source: Readable;
    try {
      source = await deps.backupStore.get(latest.object_key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw fail(`the object ${latest.object_key} is missing`);
      throw err;
    }
    await pipeline(source, digest, createWriteStream(encrypted), { signal });
    if (digest.bytes !== latest.size_bytes) throw fail(`size ${digest.bytes} bytes, the metadata says ${latest.size_bytes}`);
    if (digest.hex() !== latest.checksum) throw fail(`checksum mismatch: the stored object's SHA-256 is ${digest.hex()}, the metadata says ${latest.checksum}`);

    // 2. decrypt (authenticated)
    const plain = join(dir, 'backup.dump');
    try {
      await pipeline(createReadStream(encrypted), createDecryptStream(key), createWriteStream(plain), { signal });
    } catch (err) {
      if (err instanceof BackupIntegrityError) throw fail(err.message);
      throw err;
    }

    // 3. restore into a scratch database and count
    await createScratchDatabase(admin, scratch);
    created = true;
    const scratchUrl = new URL(deps.backup.verifyDatabaseUrl);
    scratchUrl.pathname = `/${scratch}`;
    await deps.backup.tools.restore({ databaseUrl: scratchUrl.toString(), file: plain, signal });
    const restoredPool = createPool(loadDbEnv({ DATABASE_URL: scratchUrl.toString(), DATABASE_POOL_MAX: '1', DATABASE_STATEMENT_TIMEOUT_MS: '0' }));
    let restored: Record<string, number>;
    try {
      restored = await countUserTableRows(restoredPool);
    } finally {
      await closePool(restoredPool);
    }

    // 4. compare
    const mismatches: string[] = [];
    for (const [table, rows] of Object.entries(latest.tables)) {
      if (restored[table] !== rows) mismatches.push(`${table}: ${rows} in the backup's snapshot, ${restored[table] ?? 'no table'} restored`);
    }
    for (const table of Object.keys(restored)) if (!(table in latest.tables)) mismatches.push(`${table}: restored but not in the metadata`);
    if (mismatches.length > 0) throw fail(`row counts differ: ${mismatches.slice(0, 10).join('; ')}`);

    const result: VerifyResult = {
      backup_name: latest.backup_name,
      verified_at: deps.now().toISOString(),
      checksum: latest.checksum,
      tables: Object.keys(restored).length,
      rows: Object.values(restored).reduce((a, b) => a + b, 0),
    };
    await deps.backupStore.put(verificationKey(latest.backup_name), Readable.from([Buffer.from(JSON.stringify(result, null, 2))]), {
      contentType: 'application/json',
      signal,
    });
    deps.metrics.verifySucceeded(deps.now());
    log.info('backup verified', { ...result });
    return result;
  } finally {
    if (created) await dropScratchDatabase(admin, scratch).catch((err: Error) => log.warn('scratch database not dropped', { scratch, error: err.message }));
    await closePool(admin);
    await rm(dir, { recursive: true, force: true });
  }
}
