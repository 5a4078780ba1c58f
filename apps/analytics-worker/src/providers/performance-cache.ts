import type { CampaignPerformance } from '@coldcopy/db';
import type { Redis, Cluster } from 'ioredis';

/**
 * Where calculate-campaign-stats leaves each campaign's figures for the web app:
 * `campaign:{workspaceId}:{campaignId}:performance`, JSON, 10 minutes (domain.md §5).
 */
export interface PerformanceCache {
  put(items: readonly CampaignPerformance[]): Promise<void>;
}

export const PERFORMANCE_TTL_SECONDS = 600;

export const performanceKey = (workspaceId: string, campaignId: string) => `campaign:${workspaceId}:${campaignId}:performance`;

/** One pipelined round trip per run (on a cluster ioredis splits it by slot). */
export function createRedisPerformanceCache(redis: Redis | Cluster): PerformanceCache {
  return {
    async put(items) {
      if (items.length === 0) return;
      const pipeline = redis.pipeline();
      for (const p of items) pipeline.set(performanceKey(p.workspaceId, p.campaignId), JSON.stringify(p), 'EX', PERFORMANCE_TTL_SECONDS);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err)?.[0];
      if (failed) throw failed;
    },
  };
}

export function createFakePerformanceCache() {
  const entries = new Map<string, CampaignPerformance>();
  const cache: PerformanceCache = {
    async put(items) {
      for (const p of items) entries.set(performanceKey(p.workspaceId, p.campaignId), p);
    },
  };
  return Object.assign(cache, { entries });
}
