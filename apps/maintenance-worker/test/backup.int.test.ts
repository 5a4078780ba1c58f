import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { countUserTableRows } from '@coldcopy/db';
import { seedDemo } from '@coldcopy/db/seed';
import { isPermanentError } from '@coldcopy/queue-core';
import { createS3Client, createS3ObjectStore, type ObjectStore } from '@coldcopy/storage';
import { startS3TestServer, type S3TestServer } from '@coldcopy/storage/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../src/domain/backup.js';
import { type BackupOutcome, backupDataHandler } from '../src/handlers/backup-data.js';
import { testContext, useMaintenanceHarness } from './harness.js';

process.env.AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING ??= '1';

const h = useMaintenanceHarness();
let s3: S3TestServer;
let store: ObjectStore;
beforeAll(async () => {
  s3 = await startS3TestServer('coldcopy-backups');
  store = createS3ObjectStore(
    createS3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
    { bucket: s3.bucket },
  );
  const client = await h.pool.connect();
  await seedDemo(client, { seed: 17, leads: 200, refreshViews: true });
  client.release();
});
afterAll(async () => {
  await s3?.close();
});

type Payload = Parameters<typeof backupDataHandler>[0];
const DAY = 86_400_000;

async function bytesOf(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

function depsAt(now: Date, backup: Parameters<typeof h.deps>[0] extends infer O ? (O extends { backup?: infer B } ? B : never) : never = {}) {
  return { ...h.deps({ now: () => now, backup }), backupStore: store };
}

const backup = async (payload: Partial<Payload>, now = new Date(), overrides = {}) =>
  (await backupDataHandler(
    { kind: 'full', retentionCategory: 'standard', requestedBy: 'system', ...payload } as Payload,
    testContext(depsAt(now, overrides)),
  )) as BackupOutcome & {
    metadata: BackupMetadata;
    pruned: string[];
  };
const verify = async (now = new Date(), overrides = {}) =>
  (await backupDataHandler({ kind: 'verify', retentionCategory: 'standard', requestedBy: 'system' } as Payload, testContext(depsAt(now, overrides)))) as {
    verified: { backup_name: string; tables: number; rows: number; checksum: string };
  };

describe('backup-data', () => {
  it('backs up and verifies: checksum of the stored object, metadata beside it, restored row counts equal the source', async () => {
    const source = await countUserTableRows(h.pool);
    const { metadata } = await backup({ date: '2026-11-30' });
    const name = metadata.backup_name;
    expect(name).toMatch(/-full-2026-11-30$/);
    expect(await store.list('backups/')).toEqual(expect.arrayContaining([`backups/${name}.dump.enc`, `backups/metadata/${name}.json`]));
    const stored = await bytesOf(`backups/${name}.dump.enc`);
    expect(metadata).toMatchObject({ encrypted: true, type: 'full', retention_category: 'standard', size_bytes: stored.length, cipher: 'aes-256-gcm' });
    expect(metadata.checksum).toBe(createHash('sha256').update(stored).digest('hex'));
    // the dump is encrypted: pg_dump's custom format starts with PGDMP, the stored object does not
    expect(stored.subarray(0, 5).toString()).toBe('CCBK1');
    expect(stored.includes(Buffer.from('PGDMP'))).toBe(false);
    expect(JSON.parse((await bytesOf(`backups/metadata/${name}.json`)).toString())).toEqual(metadata);
    // the snapshot's counts are the source's (nothing wrote in between)
    expect(metadata.tables).toEqual(source);
    expect(source['public.leads']).toBeGreaterThanOrEqual(200);
    expect(Object.values(source).reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);

    const { verified } = await verify();
    expect(verified).toMatchObject({ backup_name: name, checksum: metadata.checksum, tables: Object.keys(source).length });
    expect(verified.rows).toBe(Object.values(source).reduce((a, b) => a + b, 0));
    expect(await store.list('backups/verifications/')).toEqual([`backups/verifications/${name}.json`]);
    // the scratch database is gone
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'coldcopy_verify_%'`);
    expect(rows[0].n).toBe(0);
  });

  it('a flipped byte in the stored object fails the verify with a clear error; so does an object altered with its checksum', async () => {
    const { metadata } = await backup({ date: '2026-12-01' });
    const key = `backups/${metadata.backup_name}.dump.enc`;
    const original = await bytesOf(key);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await store.put(key, Readable.from([flipped]), { contentType: 'application/octet-stream' });
    const failure = await verify().catch((err: Error) => err);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      new RegExp(
        `^backup verify of ${metadata.backup_name} failed: checksum mismatch: the stored object's SHA-256 is [0-9a-f]{64}, the metadata says ${metadata.checksum}$`,
      ),
    );
    expect(isPermanentError(failure)).toBe(true);

    // altered together with its checksum (or damaged before it was hashed): the GCM tag catches it
    const forged = { ...metadata, checksum: createHash('sha256').update(flipped).digest('hex') };
    await store.put(`backups/metadata/${metadata.backup_name}.json`, Readable.from([Buffer.from(JSON.stringify(forged))]), { contentType: 'application/json' });
    await expect(verify()).rejects.toThrow(
      `backup verify of ${metadata.backup_name} failed: backup failed authentication (AES-256-GCM tag mismatch): the object was altered or the key is wrong`,
    );
    // restored, the same backup verifies again
    await store.put(key, Readable.from([original]), { contentType: 'application/octet-stream' });
    await store.put(`backups/metadata/${metadata.backup_name}.json`, Readable.from([Buffer.from(JSON.stringify(metadata))]), {
      contentType: 'application/json',
    });
    expect((await verify()).verified.backup_name).toBe(metadata.backup_name);
  });

  it('a missing encryption key is permanent and writes nothing', async () => {
    const before = await store.list('backups/');
    const failure = await backup({ date: '2026-12-02' }, new Date(), { key: undefined }).catch((err: Error) => err);
    expect((failure as Error).message).toBe('backup-data: BACKUP_ENCRYPTION_KEY is not set; no backup is written unencrypted');
    expect(isPermanentError(failure)).toBe(true);
    expect(await store.list('backups/')).toEqual(before);
    await expect(verify(new Date(), { key: undefined })).rejects.toThrow('BACKUP_ENCRYPTION_KEY is not set');
  });

  it('keeps standard backups 30 days and compliance backups 365 days, pruning after each backup', async () => {
    const now = Date.now();
    const old = new Date(now - 40 * DAY);
    const standard = (await backup({ kind: 'schema', date: '2026-10-20' }, old)).metadata.backup_name;
    const compliance = (await backup({ kind: 'schema', date: '2026-10-01', retentionCategory: 'compliance' }, old)).metadata.backup_name;
    const { pruned, metadata } = await backup({ kind: 'schema', date: '2026-12-03' }, new Date(now));
    expect(pruned).toContain(standard);
    expect(pruned).not.toContain(compliance);
    const keys = await store.list('backups/');
    expect(keys).not.toContain(`backups/${standard}.dump.enc`);
    expect(keys).not.toContain(`backups/metadata/${standard}.json`);
    expect(keys).toContain(`backups/${compliance}.dump.enc`);
    expect(keys).toContain(`backups/${metadata.backup_name}.dump.enc`);
    // and a year later the compliance copy goes too
    const later = await backup({ kind: 'schema', date: '2027-12-03' }, new Date(now + 366 * DAY));
    expect(later.pruned).toContain(compliance);
  });
});
