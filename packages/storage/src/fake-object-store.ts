import { Readable } from 'node:stream';
import { assertObjectKey, ObjectNotFoundError, type ObjectInfo, type ObjectStore } from './object-store.js';

/** An in-memory ObjectStore with memory (`objects`), for handler tests. `failPuts` fails the next puts. */
export function createFakeObjectStore(options: { failPuts?: Error[] } = {}) {
  const objects = new Map<string, { body: Buffer } & ObjectInfo>();
  const failPuts = options.failPuts ?? [];
  let incomplete = 0;
  const store: ObjectStore = {
    location: 'memory://fake',
    async put(key, body, put) {
      assertObjectKey(key);
      const chunks: Buffer[] = [];
      const failure = failPuts.shift();
      for await (const chunk of body) {
        if (put.signal?.aborted) throw put.signal.reason;
        chunks.push(Buffer.from(chunk as Buffer));
        if (failure) {
          incomplete++;
          throw failure;
        }
      }
      const data = Buffer.concat(chunks);
      objects.set(key, { body: data, size: data.length, contentType: put.contentType, metadata: { ...put.metadata } });
      return { key, size: data.length };
    },
    async head(key) {
      const o = objects.get(key);
      return o ? { size: o.size, contentType: o.contentType, metadata: o.metadata } : null;
    },
    async get(key) {
      const o = objects.get(key);
      if (!o) throw new ObjectNotFoundError(key);
      return Readable.from([o.body]);
    },
    async presignGet(key, expiresInSeconds) {
      return `memory://fake/${key}?expires=${expiresInSeconds}`;
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
    async delete(key) {
      objects.delete(key);
    },
    async abortIncompleteUploads() {
      const n = incomplete;
      incomplete = 0;
      return n;
    },
  };
  return Object.assign(store, { objects });
}
