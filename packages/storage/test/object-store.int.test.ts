import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFakeObjectStore,
  createLocalObjectStore,
  createS3Client,
  createS3ObjectStore,
  exportObjectKey,
  type ObjectStore,
  verifyLocalUrl,
} from '../src/index.js';
import { startS3TestServer, type S3TestServer } from '../src/testing.js';

const WS = '11111111-2222-4333-8444-555555555555';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** A body of `total` bytes made on demand, counting how far ahead of the consumer it was read. */
function generated(total: number, chunk = 64 * 1024) {
  let produced = 0;
  const hash = createHash('sha256');
  const stream = new Readable({
    read() {
      if (produced >= total) return this.push(null);
      const n = Math.min(chunk, total - produced);
      const buf = randomBytes(n);
      hash.update(buf);
      produced += n;
      this.push(buf);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

/** The same behaviour from every adapter (bull-board's contract-suite idea). */
function objectStoreContract(name: string, make: () => ObjectStore) {
  describe(`ObjectStore contract: ${name}`, () => {
    it('streams a body into an object and reads it back with its type and metadata', async () => {
      const store = make();
      const key = exportObjectKey(WS, 'leads', 'csv');
      const put = await store.put(key, Readable.from([Buffer.from('a,b\r\n'), Buffer.from('1,2\r\n')]), {
        contentType: 'text/csv',
        metadata: { rows: '1' },
      });
      expect(put).toEqual({ key, size: 10 });
      expect(await store.head(key)).toMatchObject({ size: 10, contentType: 'text/csv', metadata: { rows: '1' } });
      expect((await readAll(await store.get(key))).toString()).toBe('a,b\r\n1,2\r\n');
      expect(await store.list(`workspaces/${WS}/exports/`)).toContain(key);
    });

    it('replaces an object written again at the same key (a retried export leaves one object)', async () => {
      const store = make();
      const key = exportObjectKey(WS, 'events', 'json');
      await store.put(key, Readable.from([Buffer.from('[1]')]), { contentType: 'application/json' });
      await store.put(key, Readable.from([Buffer.from('[1,2]')]), { contentType: 'application/json' });
      const prefix = key.slice(0, key.lastIndexOf('/') + 1);
      expect(await store.list(prefix)).toEqual([key]);
      expect((await readAll(await store.get(key))).toString()).toBe('[1,2]');
    });

    it('leaves no object when the body fails mid-upload', async () => {
      const store = make();
      const key = exportObjectKey(WS, 'broken', 'csv');
      const body = new Readable({ read() {} });
      body.push(Buffer.alloc(1024, 1));
      setTimeout(() => body.destroy(new Error('database went away')), 20);
      await expect(store.put(key, body, { contentType: 'text/csv' })).rejects.toThrow();
      expect(await store.head(key)).toBeNull();
      await store.abortIncompleteUploads(key);
      expect(await store.list(key)).toEqual([]);
    });

    it('deletes, and head answers null for a missing object', async () => {
      const store = make();
      const key = exportObjectKey(WS, 'gone', 'json');
      await store.put(key, Readable.from([Buffer.from('{}')]), { contentType: 'application/json' });
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
      await store.delete(key);
    });
  });
}

let s3: S3TestServer;
let localDir: string;
beforeAll(async () => {
  s3 = await startS3TestServer();
  localDir = await mkdtemp(join(tmpdir(), 'coldcopy-local-store-'));
});
afterAll(async () => {
  await s3?.close();
  if (localDir) await rm(localDir, { recursive: true, force: true });
});

const s3Store = () =>
  createS3ObjectStore(createS3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }), {
    bucket: s3.bucket,
    partSize: 5 * 1024 * 1024,
  });

objectStoreContract('S3 (real SDK against a local S3 server)', s3Store);
objectStoreContract('local disk', () => createLocalObjectStore({ dir: localDir, bucket: 'coldcopy-exports' }));
objectStoreContract('fake', () => createFakeObjectStore());

describe('S3 adapter', () => {
  it('uploads 23 MB in multipart parts pulled from the stream, byte-identical', async () => {
    const store = s3Store();
    const key = exportObjectKey(WS, 'big', 'bin');
    const body = generated(23 * 1024 * 1024);
    const put = await store.put(key, body.stream, { contentType: 'application/octet-stream' });
    expect(put.size).toBe(23 * 1024 * 1024);
    const back = createHash('sha256')
      .update(await readAll(await store.get(key)))
      .digest('hex');
    expect(back).toBe(body.sha256());
  });

  it('an exact multiple of the part size, and an empty body, store byte-identical objects', async () => {
    const store = s3Store();
    for (const bytes of [10 * 1024 * 1024, 0]) {
      const key = exportObjectKey(WS, `exact-${bytes}`, 'bin');
      const body = generated(bytes);
      expect((await store.put(key, body.stream, { contentType: 'application/octet-stream' })).size).toBe(bytes);
      expect(
        createHash('sha256')
          .update(await readAll(await store.get(key)))
          .digest('hex'),
      ).toBe(body.sha256());
      expect((await store.head(key))?.size).toBe(bytes);
    }
  });

  it('signs a GET URL that downloads the private object without credentials', async () => {
    const store = s3Store();
    const key = exportObjectKey(WS, 'report', 'pdf');
    await store.put(key, Readable.from([Buffer.from('%PDF-1.7')]), { contentType: 'application/pdf' });
    const url = await store.presignGet(key, 3600, { downloadName: 'report.pdf' });
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('3600');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('%PDF-1.7');
    // (s3rver also serves unsigned reads, so refusals are not testable here; Spaces refuses them on a private bucket)
  });
});

describe('local adapter', () => {
  it('signs URLs that verify until they expire and leaves no partial file after a failed upload', async () => {
    const store = createLocalObjectStore({ dir: localDir, bucket: 'coldcopy-exports', baseUrl: 'http://127.0.0.1:9/files' });
    const key = exportObjectKey(WS, 'x', 'csv');
    await store.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/csv' });
    const url = new URL(await store.presignGet(key, 60));
    expect(verifyLocalUrl(url, 'coldcopy-exports', key)).toBe(true);
    expect(verifyLocalUrl(url, 'coldcopy-exports', key, undefined, Date.now() + 61_000)).toBe(false);
    expect(verifyLocalUrl(url, 'coldcopy-exports', `${key}x`)).toBe(false);
    const dir = join(localDir, 'coldcopy-exports', ...key.split('/').slice(0, -1));
    expect((await readdir(dir)).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});
