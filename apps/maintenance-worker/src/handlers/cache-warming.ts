import { campaignAnalyticsForWarming, listWarmWorkspaces, topLeadScores, workspaceAnalyticsForWarming } from '@coldcopy/db';
import type { cacheWarming } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';
import { WARM_TTL_SECONDS, warmKeys } from '../providers/warm-cache.js';

export interface CacheWarmingResult {
  readonly warmed: number;
  readonly workspaces: number;
  readonly errors: Array<{ workspaceId: string; scope: string; error: string }>;
  /** set when the run did nothing because Redis was unreachable */
  readonly skipped?: string;
}

const ALL_SCOPES = ['campaign-performance', 'lead-scores', 'workspace-analytics'] as const;

/**
 * cache-warming: for the most recently active workspaces, copies campaign analytics (active
 * campaigns, from mv_campaign_analytics), the top lead scores and the workspace analytics row into
 * Redis keys `cache:{ws}:…` (45 minutes, longer than the 30-minute schedule). Redis down: the run
 * is skipped and succeeds (the cache is an optimisation; the web app falls back to Postgres). A
 * query that fails for one workspace is recorded and the others are still warmed.
 */
export const cacheWarmingHandler: Handler<typeof cacheWarming, MaintenanceDeps> = async (payload, ctx) => {
  const { pool, warmCache, config } = ctx.deps;
  if (!(await warmCache.available())) {
    ctx.log.warn('cache-warming skipped: Redis unreachable');
    return { warmed: 0, workspaces: 0, errors: [], skipped: 'redis unavailable' } satisfies CacheWarmingResult;
  }
  const scopes = new Set(payload.scopes ?? ALL_SCOPES);
  const maxWorkspaces = payload.limits?.maxWorkspaces ?? config.cacheWarming.maxWorkspaces;
  const maxKeys = payload.limits?.maxKeysPerWorkspace ?? config.cacheWarming.maxKeysPerWorkspace;
  const workspaces = await listWarmWorkspaces(pool, maxWorkspaces);
  let warmed = 0;
  const errors: CacheWarmingResult['errors'] = [];
  for (const ws of workspaces) {
    ctx.signal.throwIfAborted();
    const entries: Array<{ key: string; value: unknown }> = [];
    const scope = async (name: (typeof ALL_SCOPES)[number], fn: () => Promise<void>) => {
      if (!scopes.has(name)) return;
      try {
        await fn();
      } catch (err) {
        errors.push({ workspaceId: ws, scope: name, error: (err as Error).message });
      }
    };
    await scope('campaign-performance', async () => {
      for (const row of await campaignAnalyticsForWarming(pool, ws, maxKeys)) entries.push({ key: warmKeys.campaign(ws, row.campaign_id), value: row });
    });
    await scope('lead-scores', async () => {
      entries.push({ key: warmKeys.leadScores(ws), value: await topLeadScores(pool, ws, maxKeys) });
    });
    await scope('workspace-analytics', async () => {
      const row = await workspaceAnalyticsForWarming(pool, ws);
      if (row) entries.push({ key: warmKeys.workspace(ws), value: row });
    });
    try {
      await warmCache.write(entries, WARM_TTL_SECONDS);
      warmed += entries.length;
    } catch (err) {
      // Redis went away mid-run: stop, what is warmed stays warmed
      ctx.log.warn('cache-warming stopped: Redis write failed', { error: (err as Error).message, warmed });
      return { warmed, workspaces: workspaces.length, errors, skipped: 'redis unavailable' } satisfies CacheWarmingResult;
    }
  }
  if (errors.length > 0) ctx.log.warn('cache-warming: some scopes failed', { errors: errors.length });
  return { warmed, workspaces: workspaces.length, errors } satisfies CacheWarmingResult;
};
