import { type CampaignPerformance, listActiveCampaignIds, recomputeAnalyticsSummary, recomputeCampaignStats } from '@coldcopy/db';
import type { calculateCampaignStats } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AnalyticsDeps } from '../deps.js';

export interface CampaignStatsResult {
  readonly updated: number;
  /** campaigns whose recomputation failed (e.g. statement timeout); they keep their old counters */
  readonly failed: ReadonlyArray<{ campaignId: string; reason: string }>;
  /** analytics_summary days rewritten */
  readonly summaryDays: number;
}

const DAY_MS = 86_400_000;

/**
 * Recomputes counters per campaign (one bounded transaction each), caches each campaign's
 * performance for the web app, then rewrites the workspace's recent analytics_summary days.
 * With a campaign id, any failure fails the job; over all active campaigns, one slow campaign is
 * reported and the others still update (the run fails, to be retried, only if none did).
 */
export const calculateCampaignStatsHandler: Handler<typeof calculateCampaignStats, AnalyticsDeps> = async (payload, ctx) => {
  const { pool, cache, config, now } = ctx.deps;
  const { workspaceId } = payload;
  const ids = payload.campaignId ? [payload.campaignId] : await listActiveCampaignIds(pool, workspaceId);
  const updated: CampaignPerformance[] = [];
  const failed: Array<{ campaignId: string; reason: string }> = [];
  for (const campaignId of ids) {
    ctx.signal.throwIfAborted();
    try {
      updated.push(await recomputeCampaignStats(pool, workspaceId, campaignId, { statementTimeoutMs: config.stats.statementTimeoutMs }));
    } catch (err) {
      if (payload.campaignId) throw err;
      const reason = (err as { code?: string }).code === '57014' ? 'statement timeout' : (err as Error).message;
      ctx.log.warn('campaign stats not recomputed', { campaignId, reason });
      failed.push({ campaignId, reason });
    }
  }
  await cache.put(updated);
  const today = now();
  const from = new Date(today.getTime() - (config.stats.summaryDays - 1) * DAY_MS);
  const summaryDays = await recomputeAnalyticsSummary(pool, workspaceId, {
    from: from.toISOString().slice(0, 10),
    to: today.toISOString().slice(0, 10),
  });
  if (failed.length > 0 && updated.length === 0) {
    throw new Error(`no campaign recomputed: ${failed.map((f) => `${f.campaignId} (${f.reason})`).join(', ')}`);
  }
  return { updated: updated.length, failed, summaryDays } satisfies CampaignStatsResult;
};
