import { Redis } from 'ioredis';

/**
 * Where cache-warming writes: plain Redis keys for the web app, outside Bull's prefix. Every key
 * starts with `cache:{workspaceId}:` (domain.md §8.4). The real adapter fails fast when Redis is
 * unreachable (no offline queue, one attempt), so a warming run with Redis down ends at once.
 */
export interface WarmCache {
  /** true when Redis answers PING */
  available(): Promise<boolean>;
  /** SET with expiry, pipelined */
  write(entries: ReadonlyArray<{ key: string; value: unknown }>, ttlSeconds: number): Promise<void>;
  close(): Promise<void>;
}

export const WARM_TTL_SECONDS = 45 * 60;

export const warmKeys = {
  campaign: (workspaceId: string, campaignId: string) => `cache:${workspaceId}:campaign:${campaignId}:analytics`,
  leadScores: (workspaceId: string) => `cache:${workspaceId}:lead-scores:top`,
  workspace: (workspaceId: string) => `cache:${workspaceId}:workspace-analytics`,
};

export function createRedisWarmCache(url: string): WarmCache {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    connectionName: 'coldcopy-maintenance-worker-cache',
    retryStrategy: (times) => Math.min(times * 500, 5_000),
  });
  redis.on('error', () => {}); // reported by available()/write() when they fail
  const connect = async () => {
    if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => {});
  };
  return {
    async available() {
      await connect();
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async write(entries, ttlSeconds) {
      if (entries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const e of entries) pipeline.set(e.key, JSON.stringify(e.value), 'EX', ttlSeconds);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err)?.[0];
      if (failed) throw failed;
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** A WarmCache with memory (`entries`), for handler tests and benches that do not warm. */
export function createFakeWarmCache(options: { available?: boolean } = {}) {
  const entries = new Map<string, unknown>();
  const cache: WarmCache = {
    async available() {
      return options.available ?? true;
    },
    async write(items) {
      for (const e of items) entries.set(e.key, e.value);
    },
    async close() {},
  };
  return Object.assign(cache, { entries });
}
