import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { assertObjectKey, ObjectNotFoundError, type ObjectStore } from './object-store.js';

export interface LocalStoreOptions {
  /** root directory; objects live under `<dir>/<bucket>/<key>` */
  readonly dir: string;
  readonly bucket: string;
  /**
   * Base of the download URLs (`<base>/<bucket>/<key>?expires=…&signature=…`), for a dev server
   * that checks them with verifyLocalUrl(); default: `file://` URLs of the files.
   */
  readonly baseUrl?: string;
  /** HMAC key of the URL signatures (development only) */
  readonly signingKey?: string;
}

const PARTIAL = '.partial-';
const META = '.meta.json';

/**
 * ObjectStore on a local directory: the development default (no emulator to start). An upload
 * streams into `<key>.partial-<random>` and is renamed into place when complete, so a reader never
 * sees half an object and a crash leaves only a partial file that abortIncompleteUploads removes.
 */
export function createLocalObjectStore(options: LocalStoreOptions): ObjectStore {
  const root = join(options.dir, options.bucket);
  const signingKey = options.signingKey ?? 'coldcopy-local-storage';
  const pathOf = (key: string) => {
    assertObjectKey(key);
    return join(root, ...key.split('/'));
  };
  const sign = (key: string, expires: number) => createHmac('sha256', signingKey).update(`${options.bucket}/${key}\n${expires}`).digest('hex');

  async function walk(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    const files: string[] = [];
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) files.push(...(await walk(p)));
      else files.push(p);
    }
    return files;
  }
  const keyOf = (path: string) => relative(root, path).split(sep).join('/');

  return {
    location: pathToFileURL(root).href,

    async put(key, body, put) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}${PARTIAL}${randomBytes(6).toString('hex')}`;
      let size = 0;
      body.on('data', (chunk: Buffer | string) => (size += Buffer.byteLength(chunk)));
      try {
        await pipeline(body, createWriteStream(partial), { signal: put.signal });
        await writeFile(`${path}${META}`, JSON.stringify({ contentType: put.contentType, metadata: put.metadata ?? {} }));
        await rename(partial, path);
        return { key, size };
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
    },

    async head(key) {
      const path = pathOf(key);
      try {
        const s = await stat(path);
        const meta = JSON.parse(await readFile(`${path}${META}`, 'utf8').catch(() => '{}')) as { contentType?: string; metadata?: Record<string, string> };
        return { size: s.size, contentType: meta.contentType, metadata: meta.metadata ?? {} };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },

    async get(key) {
      const path = pathOf(key);
      try {
        await stat(path);
      } catch {
        throw new ObjectNotFoundError(key);
      }
      return createReadStream(path);
    },

    async presignGet(key, expiresInSeconds) {
      const path = pathOf(key);
      const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
      const url = options.baseUrl ? new URL(`${options.baseUrl.replace(/\/$/, '')}/${options.bucket}/${key}`) : pathToFileURL(path);
      url.searchParams.set('expires', String(expires));
      url.searchParams.set('signature', sign(key, expires));
      return url.href;
    },

    async list(prefix) {
      const files = await walk(root);
      return files
        .map(keyOf)
        .filter((k) => k.startsWith(prefix) && !k.includes(PARTIAL) && !k.endsWith(META))
        .sort();
    },

    async delete(key) {
      const path = pathOf(key);
      await rm(path, { force: true });
      await rm(`${path}${META}`, { force: true });
    },

    async abortIncompleteUploads(prefix) {
      const partials = (await walk(root)).filter((p) => keyOf(p).startsWith(prefix) && keyOf(p).includes(PARTIAL));
      await Promise.all(partials.map((p) => rm(p, { force: true })));
      return partials.length;
    },
  };
}

/** Checks a URL made by a local store's presignGet (for a development file server). */
export function verifyLocalUrl(url: URL, bucket: string, key: string, signingKey = 'coldcopy-local-storage', now = Date.now()): boolean {
  const expires = Number(url.searchParams.get('expires'));
  const given = Buffer.from(url.searchParams.get('signature') ?? '', 'hex');
  const wanted = createHmac('sha256', signingKey).update(`${bucket}/${key}\n${expires}`).digest();
  return Number.isFinite(expires) && expires * 1000 > now && given.length === wanted.length && timingSafeEqual(given, wanted);
}
