import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/**
 * generate-report (domain.md §5): the figures of a PDF report, read from the analytics views and
 * always filtered by workspace, and the report_runs row that makes the PDF and its email two
 * separate steps (a failed email never renders the PDF again).
 */

export interface ReportPeriod {
  /** `YYYY-MM-DD`, inclusive */
  readonly start: string;
  readonly end: string;
  readonly campaignId?: string;
}

export interface ReportCampaignRow {
  campaign_id: string;
  name: string;
  status: string;
  sent: number;
  delivered: number;
  unique_opens: number;
  unique_clicks: number;
  replies: number;
  bounces: number;
  complaints: number;
}

export interface ReportDayRow {
  day: string;
  sent: number;
  opens: number;
  clicks: number;
  replies: number;
}

export interface ReportDeliverabilityRow {
  day: string;
  sent: number;
  delivered: number;
  bounced: number;
  complained: number;
}

export interface ReportData {
  readonly campaigns: ReportCampaignRow[];
  /** one row per day of the period (zeros on quiet days) */
  readonly days: ReportDayRow[];
  readonly deliverability: ReportDeliverabilityRow[];
}

/** The figures of a report: per campaign, per day, and deliverability per day. */
export async function loadReportData(db: Queryable, workspaceId: string, period: ReportPeriod): Promise<ReportData> {
  assertWorkspaceId(workspaceId);
  const values = [workspaceId, period.start, period.end, period.campaignId ?? null];
  const campaigns = await db.query<ReportCampaignRow>(
    `SELECT c.id AS campaign_id, c.name, c.status,
            coalesce(sum(d.sent), 0)::int AS sent, coalesce(sum(d.delivered), 0)::int AS delivered,
            coalesce(sum(d.unique_opens), 0)::int AS unique_opens, coalesce(sum(d.unique_clicks), 0)::int AS unique_clicks,
            coalesce(sum(d.replies), 0)::int AS replies, coalesce(sum(d.bounces), 0)::int AS bounces,
            coalesce(sum(d.complaints), 0)::int AS complaints
     FROM campaigns c
     JOIN mv_campaign_daily d ON d.campaign_id = c.id AND d.workspace_id = c.workspace_id AND d.day BETWEEN $2::date AND $3::date
     WHERE c.workspace_id = $1 AND ($4::uuid IS NULL OR c.id = $4) AND c.deleted_at IS NULL
     GROUP BY c.id, c.name, c.status
     ORDER BY sum(d.sent) DESC, c.name`,
    values,
  );
  const days = await db.query<ReportDayRow>(
    `SELECT to_char(g.day, 'YYYY-MM-DD') AS day,
            coalesce(sum(d.sent), 0)::int AS sent, coalesce(sum(d.unique_opens), 0)::int AS opens,
            coalesce(sum(d.unique_clicks), 0)::int AS clicks, coalesce(sum(d.replies), 0)::int AS replies
     FROM generate_series($2::date, $3::date, interval '1 day') AS g(day)
     LEFT JOIN mv_campaign_daily d ON d.day = g.day::date AND d.workspace_id = $1 AND ($4::uuid IS NULL OR d.campaign_id = $4)
     GROUP BY g.day ORDER BY g.day`,
    values,
  );
  // mv_deliverability has no campaign column: a campaign report shows the workspace's domains
  const deliverability = await db.query<ReportDeliverabilityRow>(
    `SELECT to_char(g.day, 'YYYY-MM-DD') AS day,
            coalesce(sum(v.sent), 0)::int AS sent, coalesce(sum(v.delivered), 0)::int AS delivered,
            coalesce(sum(v.bounced), 0)::int AS bounced, coalesce(sum(v.complained), 0)::int AS complained
     FROM generate_series($2::date, $3::date, interval '1 day') AS g(day)
     LEFT JOIN mv_deliverability v ON v.day = g.day::date AND v.workspace_id = $1
     GROUP BY g.day ORDER BY g.day`,
    values.slice(0, 3),
  );
  return { campaigns: campaigns.rows, days: days.rows, deliverability: deliverability.rows };
}

export interface ReportRunRow {
  id: string;
  workspace_id: string;
  report_id: string | null;
  report_type: string;
  campaign_id: string | null;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  object_key: string | null;
  recipients: string[];
  emailed_at: Date | null;
  completed_at: Date | null;
}

/**
 * The run of this report and period: the existing one (a retry finds the PDF it already stored)
 * or a new one. Saved reports are unique per (report_id, period_start); ad-hoc runs are matched
 * on type, campaign and period.
 */
export async function findOrStartReportRun(
  db: Queryable,
  workspaceId: string,
  run: {
    readonly reportId?: string;
    readonly reportType: string;
    readonly campaignId?: string;
    readonly start: string;
    readonly end: string;
    readonly recipients: readonly string[];
  },
): Promise<ReportRunRow> {
  assertWorkspaceId(workspaceId);
  const values = [workspaceId, run.reportId ?? null, run.reportType, run.campaignId ?? null, run.start, run.end, run.recipients];
  if (run.reportId) {
    const { rows } = await db.query<ReportRunRow>(
      `INSERT INTO report_runs (workspace_id, report_id, report_type, campaign_id, period_start, period_end, recipients, status, started_at)
       VALUES ($1, $2, $3, $4, ($5::date)::timestamp AT TIME ZONE 'UTC', ($6::date + 1)::timestamp AT TIME ZONE 'UTC', $7, 'processing', now())
       ON CONFLICT (report_id, period_start) WHERE report_id IS NOT NULL
       DO UPDATE SET recipients = EXCLUDED.recipients
       WHERE report_runs.workspace_id = EXCLUDED.workspace_id
       RETURNING *`,
      values,
    );
    if (!rows[0]) throw Object.assign(new Error(`report ${run.reportId} belongs to another workspace`), { name: 'TenancyError', permanent: true });
    return rows[0];
  }
  const existing = await db.query<ReportRunRow>(
    `SELECT * FROM report_runs
     WHERE workspace_id = $1 AND report_id IS NULL AND report_type = $2 AND campaign_id IS NOT DISTINCT FROM $3
       AND period_start = ($4::date)::timestamp AT TIME ZONE 'UTC' AND period_end = ($5::date + 1)::timestamp AT TIME ZONE 'UTC' AND status <> 'failed'
     ORDER BY created_at DESC LIMIT 1`,
    [workspaceId, run.reportType, run.campaignId ?? null, run.start, run.end],
  );
  if (existing.rows[0]) return existing.rows[0];
  const { rows } = await db.query<ReportRunRow>(
    `INSERT INTO report_runs (workspace_id, report_id, report_type, campaign_id, period_start, period_end, recipients, status, started_at)
     VALUES ($1, $2, $3, $4, ($5::date)::timestamp AT TIME ZONE 'UTC', ($6::date + 1)::timestamp AT TIME ZONE 'UTC', $7, 'processing', now()) RETURNING *`,
    values,
  );
  return rows[0]!;
}

export async function completeReportRun(db: Queryable, workspaceId: string, runId: string, objectKey: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE report_runs SET status = 'completed', object_key = $3, completed_at = now(), error = NULL WHERE id = $1 AND workspace_id = $2`, [
    runId,
    workspaceId,
    objectKey,
  ]);
}

/** Records that the email step went out (or why it failed: the PDF stays completed). */
export async function recordReportEmail(db: Queryable, workspaceId: string, runId: string, outcome: { readonly error?: string }): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    outcome.error === undefined
      ? `UPDATE report_runs SET emailed_at = now(), error = NULL WHERE id = $1 AND workspace_id = $2`
      : `UPDATE report_runs SET error = $3 WHERE id = $1 AND workspace_id = $2`,
    outcome.error === undefined ? [runId, workspaceId] : [runId, workspaceId, outcome.error.slice(0, 2000)],
  );
}

export async function failReportRun(db: Queryable, workspaceId: string, runId: string, error: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE report_runs SET status = 'failed', error = $3 WHERE id = $1 AND workspace_id = $2 AND status <> 'completed'`, [
    runId,
    workspaceId,
    error.slice(0, 2000),
  ]);
}

/** Fixes the run's object key on its first attempt; later attempts get the same key back (one object per run). */
export async function claimReportObjectKey(db: Queryable, workspaceId: string, runId: string, objectKey: string): Promise<string> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ object_key: string }>(
    `UPDATE report_runs SET object_key = coalesce(object_key, $3), status = 'processing', started_at = coalesce(started_at, now())
     WHERE id = $1 AND workspace_id = $2 AND status <> 'completed' RETURNING object_key`,
    [runId, workspaceId, objectKey],
  );
  if (!rows[0]) throw new Error(`report run ${runId} is not open in workspace ${workspaceId}`);
  return rows[0].object_key;
}
