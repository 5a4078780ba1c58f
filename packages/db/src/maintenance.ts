import type { Queryable } from './pool.js';

/*
 * Global maintenance (no workspace): partitions and analytics views. Both run owner-side SQL
 * functions (SECURITY DEFINER), so the worker role needs only EXECUTE on them.
 */

export interface PartitionMaintenanceOptions {
  /** months created beyond the current one; default 3 */
  readonly monthsAhead?: number;
  /** whole months kept before the current one; default 13 (docs/schedules-and-retention.md) */
  readonly retentionMonths?: number;
  /** the clock, for tests */
  readonly now?: Date;
}

export interface PartitionChange {
  action: 'created' | 'dropped';
  partition_name: string;
}

/** Creates the current and next months of email_events and drops months past retention. */
export async function maintainEmailEventsPartitions(db: Queryable, options: PartitionMaintenanceOptions = {}): Promise<PartitionChange[]> {
  const { rows } = await db.query<PartitionChange>('SELECT * FROM maintain_email_events_partitions($1, $2, $3)', [
    options.monthsAhead ?? 3,
    options.retentionMonths ?? 13,
    options.now ?? new Date(),
  ]);
  return rows;
}

/** email_events partitions that exist, oldest first (`email_events_YYYY_MM`). */
export async function listEmailEventsPartitions(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.email_events'::regclass ORDER BY c.relname`,
  );
  return rows.map((r) => r.relname);
}

export type AnalyticsView =
  'mv_campaign_analytics' | 'mv_campaign_daily' | 'mv_workspace_analytics' | 'mv_send_time_performance' | 'mv_lead_engagement' | 'mv_deliverability';

export interface AnalyticsViewDefinition {
  readonly view: AnalyticsView;
  readonly dependsOn: readonly AnalyticsView[];
  /** skip a refresh requested sooner than this after the last one */
  readonly minIntervalMs: number;
  /** schedule group of refresh-analytics (domain.md §3/§6) */
  readonly group: 'every-15-min' | 'hourly' | 'every-6-hours' | 'every-30-min';
}

/** The registry refresh-analytics works from, in dependency order. */
export const ANALYTICS_VIEWS: readonly AnalyticsViewDefinition[] = [
  { view: 'mv_campaign_analytics', dependsOn: [], minIntervalMs: 10 * 60_000, group: 'every-15-min' },
  { view: 'mv_campaign_daily', dependsOn: [], minIntervalMs: 45 * 60_000, group: 'hourly' },
  { view: 'mv_workspace_analytics', dependsOn: ['mv_campaign_analytics'], minIntervalMs: 45 * 60_000, group: 'hourly' },
  { view: 'mv_send_time_performance', dependsOn: [], minIntervalMs: 45 * 60_000, group: 'hourly' },
  { view: 'mv_lead_engagement', dependsOn: [], minIntervalMs: 5 * 3_600_000, group: 'every-6-hours' },
  { view: 'mv_deliverability', dependsOn: [], minIntervalMs: 20 * 60_000, group: 'every-30-min' },
];

export interface RefreshResult {
  view_name: AnalyticsView;
  status: 'success' | 'skipped';
  used_concurrently: boolean;
  duration_ms: number;
}

/**
 * Refreshes one view, CONCURRENTLY unless it was never populated; 'skipped' when a refresh of the
 * same view is already running. Logged to materialized_view_refresh_log.
 */
export async function refreshAnalyticsView(db: Queryable, view: AnalyticsView, options: { readonly concurrently?: boolean } = {}): Promise<RefreshResult> {
  const { rows } = await db.query<RefreshResult>('SELECT * FROM refresh_analytics_view($1, $2)', [view, options.concurrently ?? true]);
  return rows[0]!;
}
