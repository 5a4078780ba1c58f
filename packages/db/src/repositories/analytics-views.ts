import type { AnalyticsView } from '../maintenance.js';
import type { Pool, Queryable } from '../pool.js';

/**
 * refresh-analytics (domain.md §3): what the worker checks before refreshing a view, the refresh
 * itself under a statement and lock timeout (through the owner-side refresh_analytics_view(),
 * which takes the per-view advisory lock), and the refresh log. Views are global (every
 * workspace's rows), so nothing here takes a workspace.
 */

export interface ViewState {
  readonly view: AnalyticsView;
  /** false for a view created WITH NO DATA and never refreshed */
  readonly populated: boolean;
  /** a UNIQUE index on plain columns (no expression, no WHERE): what CONCURRENTLY needs */
  readonly concurrentIndex: boolean;
  /** end of the last successful refresh (from the log), null when never */
  readonly lastSuccessAt: Date | null;
}

/** The state of each existing view (a view missing from the database is absent from the map). */
export async function analyticsViewStates(db: Queryable, views: readonly AnalyticsView[]): Promise<Map<AnalyticsView, ViewState>> {
  const { rows } = await db.query<{ view: AnalyticsView; populated: boolean; concurrent_index: boolean; last_success_at: Date | null }>(
    `SELECT m.matviewname AS view, m.ispopulated AS populated,
            EXISTS (
              SELECT 1 FROM pg_index i
              WHERE i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
            ) AS concurrent_index,
            (SELECT max(l.finished_at) FROM materialized_view_refresh_log l
             WHERE l.view_name = m.matviewname AND l.status = 'success') AS last_success_at
     FROM pg_matviews m
     WHERE m.schemaname = 'public' AND m.matviewname = ANY($1::text[])`,
    [views],
  );
  return new Map(rows.map((r) => [r.view, { view: r.view, populated: r.populated, concurrentIndex: r.concurrent_index, lastSuccessAt: r.last_success_at }]));
}

export interface ViewRefreshOutcome {
  readonly status: 'success' | 'skipped';
  readonly concurrently: boolean;
  readonly durationMs: number;
}

/**
 * Refreshes one view (CONCURRENTLY when `concurrently` and the view is populated) in its own
 * transaction, so the advisory lock taken inside refresh_analytics_view() is held exactly as long
 * as the refresh. `skipped` means another refresher holds the view's lock. Postgres errors
 * (57014 statement timeout, 55P03 lock timeout, 42501 privilege, 55000 prerequisite) propagate
 * after a rollback; the caller logs them with logViewRefresh().
 */
export async function refreshViewBounded(
  pool: Pool,
  view: AnalyticsView,
  options: { readonly concurrently: boolean; readonly statementTimeoutMs: number; readonly lockTimeoutMs: number },
): Promise<ViewRefreshOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)`, [
      String(options.statementTimeoutMs),
      String(options.lockTimeoutMs),
    ]);
    const { rows } = await client.query<{ status: 'success' | 'skipped'; used_concurrently: boolean; duration_ms: number }>(
      'SELECT status, used_concurrently, duration_ms FROM refresh_analytics_view($1, $2)',
      [view, options.concurrently],
    );
    await client.query('COMMIT');
    const r = rows[0]!;
    return { status: r.status, concurrently: r.used_concurrently, durationMs: r.duration_ms };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** A refresh that never reached the refresh function, or failed in it (its own log row rolled back). */
export async function logViewRefresh(
  db: Queryable,
  entry: {
    readonly view: AnalyticsView;
    readonly status: 'failed' | 'skipped';
    readonly concurrently: boolean;
    readonly reason: string;
    readonly startedAt: Date;
    readonly durationMs: number;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO materialized_view_refresh_log (view_name, used_concurrently, status, duration_ms, error, started_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [entry.view, entry.concurrently, entry.status, entry.durationMs, entry.reason.slice(0, 2000), entry.startedAt],
  );
}

/** Whether a populated view has no rows (a warning after a refresh: domain.md §3). */
export async function analyticsViewIsEmpty(db: Queryable, view: AnalyticsView): Promise<boolean> {
  // the name is one of the AnalyticsView literals (checked by the caller's registry)
  const { rows } = await db.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM public.${quoteView(view)}) AS empty`);
  return rows[0]!.empty;
}

function quoteView(view: string): string {
  if (!/^mv_[a-z_]+$/.test(view)) throw new TypeError(`not an analytics view: ${view}`);
  return `"${view}"`;
}
