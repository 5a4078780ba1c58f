import {
  ANALYTICS_VIEWS,
  type AnalyticsView,
  analyticsViewIsEmpty,
  analyticsViewStates,
  logViewRefresh,
  refreshViewBounded,
  type ViewState,
} from '@coldcopy/db';
import type { refreshAnalytics } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AnalyticsDeps } from '../deps.js';

export interface RefreshAnalyticsResult {
  readonly refreshed: ReadonlyArray<{ view: AnalyticsView; ms: number; concurrently: boolean }>;
  readonly skipped: ReadonlyArray<{ view: AnalyticsView; reason: string }>;
}

/** The views a run refreshes, in the registry's dependency order. */
export function viewsToRefresh(group: string, views?: readonly AnalyticsView[]): AnalyticsView[] {
  const wanted = views ? new Set(views) : undefined;
  return ANALYTICS_VIEWS.filter((d) => (wanted ? wanted.has(d.view) : group === 'manual' || d.group === group)).map((d) => d.view);
}

/** Why a refresh failed, in the words of domain.md §3's failure modes (Postgres SQLSTATE). */
export function refreshFailureReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e.code) {
    case '57014':
      return 'statement timeout';
    case '55P03':
      return 'lock timeout: a table lock was not granted in time';
    case '42501':
      return 'ownership: the worker role may not refresh this view (needs the owner or the SECURITY DEFINER function)';
    case '55000':
      return `not refreshable: ${e.message ?? 'prerequisite missing'}`;
    case '42P01':
      return 'view missing (migration not applied)';
    default:
      return `failed: ${e.message ?? String(err)}`;
  }
}

/**
 * Refreshes a group of views in dependency order, CONCURRENTLY (readers are never blocked), the
 * first time of an unpopulated view plainly. One refresher per view (the advisory lock inside
 * refresh_analytics_view); every skip and failure is logged with its reason. A run with failures
 * still refreshes the views that do not depend on the failed ones, then fails so Bull retries.
 */
export const refreshAnalyticsHandler: Handler<typeof refreshAnalytics, AnalyticsDeps> = async (payload, ctx) => {
  const { pool, config, metrics, now } = ctx.deps;
  const selected = viewsToRefresh(payload.group, payload.views);
  const states = await analyticsViewStates(
    pool,
    ANALYTICS_VIEWS.map((d) => d.view),
  );
  const refreshed: Array<{ view: AnalyticsView; ms: number; concurrently: boolean }> = [];
  const skipped: Array<{ view: AnalyticsView; reason: string }> = [];
  const failed = new Set<AnalyticsView>();
  const notFresh = new Set<AnalyticsView>();

  const skip = async (view: AnalyticsView, reason: string, startedAt: Date, status: 'skipped' | 'failed' = 'skipped') => {
    skipped.push({ view, reason });
    if (status === 'failed') failed.add(view);
    metrics.viewRefreshed(view, status);
    await logViewRefresh(pool, {
      view,
      status,
      concurrently: states.get(view)?.populated ?? false,
      reason,
      startedAt,
      durationMs: Date.now() - startedAt.getTime(),
    });
    (status === 'failed' ? ctx.log.error : ctx.log.warn)('view not refreshed', { view, status, reason });
  };

  for (const view of selected) {
    ctx.signal.throwIfAborted();
    const startedAt = now();
    const state: ViewState | undefined = states.get(view);
    const definition = ANALYTICS_VIEWS.find((d) => d.view === view)!;
    if (!state) {
      await skip(view, 'view missing (migration not applied)', startedAt, 'failed');
      continue;
    }
    if (state.populated && !state.concurrentIndex) {
      // a plain refresh would lock readers out for its whole duration
      await skip(view, 'missing unique index on plain columns: CONCURRENTLY impossible', startedAt, 'failed');
      continue;
    }
    const blocker = definition.dependsOn.find((d) => failed.has(d) || notFresh.has(d) || states.get(d)?.populated === false);
    if (blocker) {
      const why = failed.has(blocker) ? 'failed in this run' : states.get(blocker)?.populated === false ? 'is not populated' : 'was not refreshed';
      await skip(view, `dependency ${blocker} ${why}`, startedAt);
      notFresh.add(view);
      continue;
    }
    const ageMs = state.lastSuccessAt ? startedAt.getTime() - state.lastSuccessAt.getTime() : Number.POSITIVE_INFINITY;
    if (!payload.force && state.populated && ageMs < definition.minIntervalMs) {
      await skip(view, `refreshed ${Math.round(ageMs / 1000)} s ago (minimum interval ${definition.minIntervalMs / 1000} s)`, startedAt);
      continue;
    }
    try {
      const outcome = await refreshViewBounded(pool, view, {
        concurrently: true,
        statementTimeoutMs: config.refresh.statementTimeoutMs,
        lockTimeoutMs: config.refresh.lockTimeoutMs,
      });
      if (outcome.status === 'skipped') {
        // the function logged it; another refresher holds the view's advisory lock
        skipped.push({ view, reason: 'refresh already running (advisory lock held)' });
        notFresh.add(view);
        metrics.viewRefreshed(view, 'skipped');
        ctx.log.info('view refresh skipped: another refresher holds it', { view });
        continue;
      }
      refreshed.push({ view, ms: outcome.durationMs, concurrently: outcome.concurrently });
      metrics.viewRefreshed(view, 'success');
      metrics.viewFreshAt(view, now());
      states.set(view, { ...state, populated: true, lastSuccessAt: now() });
      if (await analyticsViewIsEmpty(pool, view)) ctx.log.warn('analytics view is empty after its refresh', { view });
    } catch (err) {
      await skip(view, refreshFailureReason(err), startedAt, 'failed');
    }
  }

  // domain.md §3: a view older than its staleness limit raises a warning
  for (const [view, state] of states) {
    if (!selected.includes(view)) continue;
    if (state.lastSuccessAt) metrics.viewFreshAt(view, state.lastSuccessAt);
    const age = state.lastSuccessAt ? now().getTime() - state.lastSuccessAt.getTime() : Number.POSITIVE_INFINITY;
    if (age > config.refresh.staleAfterMs) ctx.log.warn('analytics view is stale', { view, lastSuccessAt: state.lastSuccessAt?.toISOString() ?? null });
  }

  const result: RefreshAnalyticsResult = { refreshed, skipped };
  if (failed.size > 0) {
    const reasons = skipped.filter((s) => failed.has(s.view)).map((s) => `${s.view}: ${s.reason}`);
    throw Object.assign(new Error(`refresh-analytics: ${reasons.join('; ')}`), { result });
  }
  return result;
};
