import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import 'vitest';

/** Provided by the integration global setup through vitest's `inject('redisUrl')`. */
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** A Bull key prefix unique to one test, so tests never see each other's jobs. */
export function testPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Deletes only the keys under one test prefix (never FLUSHALL: the server may not be ours). */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
