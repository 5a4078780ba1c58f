import type { Pool } from '../pool.js';
import type { Queryable } from '../pool.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/**
 * calculate-campaign-stats (domain.md §5): counters recomputed from the send ledger and the
 * events, never incremented. One campaign per transaction, each statement bounded by a
 * statement_timeout and driven by the per-campaign indexes (campaign_emails and campaign_leads
 * by campaign_id, email_events by workspace and time), so one huge campaign cannot stall the rest.
 */

/** What the web app's campaign page shows; also cached in Redis (`campaign:{ws}:{id}:performance`). */
export interface CampaignPerformance {
  readonly campaignId: string;
  readonly workspaceId: string;
  readonly totalLeads: number;
  readonly sent: number;
  readonly delivered: number;
  readonly opened: number;
  readonly clicked: number;
  readonly replied: number;
  readonly bounced: number;
  readonly complained: number;
  readonly openRate: number;
  readonly clickRate: number;
  readonly replyRate: number;
  readonly bounceRate: number;
  readonly calculatedAt: string;
}

/** Active campaigns of the workspace (calculate-campaign-stats without a campaign id). */
export async function listActiveCampaignIds(db: Queryable, workspaceId: string): Promise<string[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM campaigns WHERE workspace_id = $1 AND status = 'active' AND deleted_at IS NULL ORDER BY id`, [
    workspaceId,
  ]);
  return rows.map((r) => r.id);
}

const rate = (n: number, d: number) => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : 0);

/**
 * Recomputes one campaign's counters and its enrolments' counters in one transaction whose
 * statements each run under `statementTimeoutMs`. Throws TenancyError / RecordNotFoundError for a
 * campaign outside the workspace, and Postgres 57014 when a statement runs out of time.
 */
export async function recomputeCampaignStats(
  pool: Pool,
  workspaceId: string,
  campaignId: string,
  options: { readonly statementTimeoutMs: number },
): Promise<CampaignPerformance> {
  assertWorkspaceId(workspaceId);
  assertId('campaigns', campaignId);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(options.statementTimeoutMs)]);
    const { rows } = await client.query<{
      total_leads: number;
      sent: number;
      delivered: number;
      opened: number;
      clicked: number;
      replied: number;
      bounced: number;
      complained: number;
      calculated_at: Date;
    }>(
      `WITH ledger AS (
         SELECT count(*) FILTER (WHERE sent_at IS NOT NULL)::int              AS sent,
                count(*) FILTER (WHERE delivered_at IS NOT NULL)::int         AS delivered,
                count(*) FILTER (WHERE opened_at IS NOT NULL)::int            AS opened,
                count(*) FILTER (WHERE clicked_at IS NOT NULL)::int           AS clicked,
                count(*) FILTER (WHERE replied_at IS NOT NULL)::int           AS replied,
                count(*) FILTER (WHERE delivery_status = 'bounced')::int      AS bounced,
                count(*) FILTER (WHERE delivery_status = 'complained')::int   AS complained
         FROM campaign_emails WHERE campaign_id = $1 AND workspace_id = $2
       ), enrolled AS (
         SELECT count(*)::int AS total_leads FROM campaign_leads WHERE campaign_id = $1 AND workspace_id = $2
       )
       UPDATE campaigns c SET
         total_leads = e.total_leads, sent_count = l.sent, open_count = l.opened,
         click_count = l.clicked, reply_count = l.replied, bounce_count = l.bounced
       FROM ledger l, enrolled e
       WHERE c.id = $1 AND c.workspace_id = $2 AND c.deleted_at IS NULL
       RETURNING e.total_leads, l.sent, l.delivered, l.opened, l.clicked, l.replied, l.bounced, l.complained, now() AS calculated_at`,
      [campaignId, workspaceId],
    );
    const r = rows[0];
    if (!r) {
      await client.query('ROLLBACK');
      return await refuse(pool, 'campaigns', workspaceId, campaignId);
    }
    // enrolment counters: only rows whose values changed are written
    await client.query(
      `UPDATE campaign_leads cl SET email_count = s.email_count, open_count = s.open_count, click_count = s.click_count
       FROM (
         SELECT cl2.id,
                count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL)::int AS email_count,
                coalesce(sum(ce.open_count), 0)::int                   AS open_count,
                coalesce(sum(ce.click_count), 0)::int                  AS click_count
         FROM campaign_leads cl2
         LEFT JOIN campaign_emails ce
           ON ce.campaign_id = cl2.campaign_id AND ce.lead_id = cl2.lead_id AND ce.workspace_id = cl2.workspace_id
         WHERE cl2.campaign_id = $1 AND cl2.workspace_id = $2
         GROUP BY cl2.id
       ) s
       WHERE cl.id = s.id AND cl.workspace_id = $2
         AND (cl.email_count, cl.open_count, cl.click_count) IS DISTINCT FROM (s.email_count, s.open_count, s.click_count)`,
      [campaignId, workspaceId],
    );
    await client.query('COMMIT');
    return {
      campaignId,
      workspaceId,
      totalLeads: r.total_leads,
      sent: r.sent,
      delivered: r.delivered,
      opened: r.opened,
      clicked: r.clicked,
      replied: r.replied,
      bounced: r.bounced,
      complained: r.complained,
      openRate: rate(r.opened, r.sent),
      clickRate: rate(r.clicked, r.sent),
      replyRate: rate(r.replied, r.sent),
      bounceRate: rate(r.bounced, r.sent),
      calculatedAt: r.calculated_at.toISOString(),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Recomputes the workspace's `analytics_summary` rows for the UTC days `from`..`to` (inclusive,
 * `YYYY-MM-DD`) from email_events and leads: days without activity are written as zeros, so a
 * recomputation also corrects rows. Returns the number of days written.
 */
export async function recomputeAnalyticsSummary(db: Queryable, workspaceId: string, range: { readonly from: string; readonly to: string }): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `WITH days AS (
       SELECT d::date AS date FROM generate_series($2::date, $3::date, interval '1 day') d
     ), ev AS (
       SELECT (created_at AT TIME ZONE 'UTC')::date AS date,
              count(*) FILTER (WHERE event_type = 'sent')::int         AS emails_sent,
              count(*) FILTER (WHERE event_type = 'delivered')::int    AS delivered,
              count(*) FILTER (WHERE event_type = 'opened')::int       AS opened,
              count(*) FILTER (WHERE event_type = 'clicked')::int      AS clicked,
              count(*) FILTER (WHERE event_type = 'replied')::int      AS replied,
              count(*) FILTER (WHERE event_type = 'bounced')::int      AS bounced,
              count(*) FILTER (WHERE event_type = 'complained')::int   AS complained,
              count(*) FILTER (WHERE event_type = 'unsubscribed')::int AS unsubscribed
       FROM email_events
       WHERE workspace_id = $1
         AND created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
         AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
       GROUP BY 1
     ), added AS (
       SELECT (created_at AT TIME ZONE 'UTC')::date AS date, count(*)::int AS leads_added
       FROM leads
       WHERE workspace_id = $1
         AND created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
         AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
       GROUP BY 1
     )
     INSERT INTO analytics_summary (workspace_id, date, emails_sent, delivered, opened, clicked, replied, bounced, complained, unsubscribed, leads_added)
     SELECT $1, d.date, coalesce(ev.emails_sent, 0), coalesce(ev.delivered, 0), coalesce(ev.opened, 0), coalesce(ev.clicked, 0),
            coalesce(ev.replied, 0), coalesce(ev.bounced, 0), coalesce(ev.complained, 0), coalesce(ev.unsubscribed, 0),
            coalesce(added.leads_added, 0)
     FROM days d LEFT JOIN ev USING (date) LEFT JOIN added USING (date)
     ON CONFLICT (workspace_id, date) DO UPDATE SET
       emails_sent = EXCLUDED.emails_sent, delivered = EXCLUDED.delivered, opened = EXCLUDED.opened,
       clicked = EXCLUDED.clicked, replied = EXCLUDED.replied, bounced = EXCLUDED.bounced,
       complained = EXCLUDED.complained, unsubscribed = EXCLUDED.unsubscribed, leads_added = EXCLUDED.leads_added`,
    [workspaceId, range.from, range.to],
  );
  return rowCount ?? 0;
}
