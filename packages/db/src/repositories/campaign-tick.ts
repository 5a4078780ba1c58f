import type { Queryable } from '../pool.js';
import type { CampaignRow } from '../types.js';
import { getCampaign } from './campaigns.js';
import { NEEDS_JOB_KEY } from './sending.js';

/*
 * The campaign tick (send-bulk-email): which due enrolments get a ledger row, which end or skip a
 * step, when a campaign starts and completes, and the fan-out across workspaces. Workspace first
 * and in every WHERE clause, except the two fan-out statements (listCampaignsToTick,
 * markCampaignsTicked), which select across workspaces by design (the fan-out has no tenant) and
 * return only ids: each per-campaign tick then works through the scoped functions.
 */

/** How an enrolment ends when its lead may not be emailed any more. */
export type EnrolmentEnd = 'unsubscribed' | 'bounced' | 'failed';

/** A due enrolment of the campaign whose next step has no ledger row yet. */
export interface EnrolmentToTick {
  readonly enrolment_id: string;
  readonly lead_id: string;
  readonly email: string;
  /** the step to send next (current_step + 1) */
  readonly next_step: number;
  /**
   * Not null when the lead may not be emailed: unsubscribed lead or active suppression (workspace
   * or global). The value is how the enrolment ends: unsubscribe, complaint and GDPR request →
   * `unsubscribed`, bounce → `bounced`, manual and invalid → `failed`.
   */
  readonly suppressed: EnrolmentEnd | null;
  /**
   * Whether the next step's condition holds. `always`; `no_reply`: no reply from the lead in this
   * campaign; `no_open` / `opened` / `clicked`: about the lead's earlier sends of this campaign.
   * A numeric `condition_value` narrows the check to that step's send.
   */
  readonly condition_met: boolean;
  /** delays of the step after `next_step`; null when `next_step` is the last step */
  readonly following_step: { readonly delay_days: number; readonly delay_hours: number } | null;
}

/** A campaign the fan-out may tick (any workspace). */
export interface CampaignToTick {
  readonly id: string;
  readonly workspace_id: string;
  readonly status: 'active' | 'scheduled';
  readonly timezone: string;
  readonly schedule_settings: CampaignRow['schedule_settings'];
}

/** The index key of campaign_leads_to_schedule_idx (named exactly so, for the planner to use it). */
const DUE_KEY = `(CASE WHEN cl.status IN ('pending', 'in_progress') AND cl.scheduled_step <= cl.current_step THEN coalesce(cl.next_email_at, '-infinity'::timestamptz) END)`;

/*
 * One page of candidates: the next $4 enrolments still to schedule and due, after the key ($5, $6),
 * in the index's order (campaign_leads_to_schedule_idx, stopping at the LIMIT), then their lead,
 * steps, suppression and conditions. A candidate the tick cannot act on (lead deleted, no next
 * step, a ledger row already there) comes back with `eligible` false, so the caller pages past it:
 * filtering after the LIMIT keeps the read proportional to the batch (a join of the whole campaign
 * before the LIMIT read every enrolment while most were due), and paging by key keeps such rows
 * from blocking the tick.
 */
const ENROLMENTS_TO_TICK = `
  WITH cand AS MATERIALIZED (
    SELECT cl.id, cl.lead_id, cl.campaign_id, cl.workspace_id, cl.current_step, cl.replied_at,
           ${DUE_KEY} AS due
    FROM campaign_leads cl
    WHERE cl.campaign_id = $1 AND cl.workspace_id = $2
      AND ${DUE_KEY} <= $3
      AND (${DUE_KEY}, cl.id) > ($5::timestamptz, $6::uuid)
    ORDER BY ${DUE_KEY}, cl.id
    LIMIT $4)
  SELECT cl.id AS enrolment_id, cl.lead_id, l.email, st.step_number AS next_step,
    cl.due::text AS due_key,
    (l.id IS NOT NULL AND l.deleted_at IS NULL AND st.step_number IS NOT NULL AND done.found IS NULL) AS eligible,
    CASE
      WHEN l.status = 'unsubscribed' THEN 'unsubscribed'
      WHEN sup.suppression_type IS NULL THEN NULL
      WHEN sup.suppression_type IN ('unsubscribe', 'complaint', 'gdpr_request') THEN 'unsubscribed'
      WHEN sup.suppression_type = 'bounce' THEN 'bounced'
      ELSE 'failed'
    END AS suppressed,
    CASE st.condition_type
      WHEN 'no_reply' THEN cl.replied_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.workspace_id = cl.workspace_id
          AND ce.lead_id = cl.lead_id AND ce.step_number < st.step_number AND ce.replied_at IS NOT NULL
          AND (ref.step IS NULL OR ce.step_number = ref.step))
      WHEN 'no_open' THEN NOT EXISTS (
        SELECT 1 FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.workspace_id = cl.workspace_id
          AND ce.lead_id = cl.lead_id AND ce.step_number < st.step_number AND ce.opened_at IS NOT NULL
          AND (ref.step IS NULL OR ce.step_number = ref.step))
      WHEN 'opened' THEN EXISTS (
        SELECT 1 FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.workspace_id = cl.workspace_id
          AND ce.lead_id = cl.lead_id AND ce.step_number < st.step_number AND ce.opened_at IS NOT NULL
          AND (ref.step IS NULL OR ce.step_number = ref.step))
      WHEN 'clicked' THEN EXISTS (
        SELECT 1 FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.workspace_id = cl.workspace_id
          AND ce.lead_id = cl.lead_id AND ce.step_number < st.step_number AND ce.clicked_at IS NOT NULL
          AND (ref.step IS NULL OR ce.step_number = ref.step))
      ELSE true
    END AS condition_met,
    CASE WHEN nx.step_number IS NULL THEN NULL
         ELSE json_build_object('delay_days', nx.delay_days, 'delay_hours', nx.delay_hours) END AS following_step
  FROM cand cl
  -- one lookup by id per candidate (LIMIT 1 keeps the planner from hashing the campaign's leads)
  LEFT JOIN LATERAL (
    SELECT l.id, l.email, l.status, l.deleted_at FROM leads l
    WHERE l.id = cl.lead_id AND l.workspace_id = cl.workspace_id LIMIT 1) l ON true
  LEFT JOIN campaign_sequences st
    ON st.campaign_id = cl.campaign_id AND st.workspace_id = cl.workspace_id AND st.step_number = cl.current_step + 1
  LEFT JOIN campaign_sequences nx
    ON nx.campaign_id = cl.campaign_id AND nx.workspace_id = cl.workspace_id AND nx.step_number = cl.current_step + 2
  -- the step's ledger row, one lookup by the claim key per candidate (a NOT EXISTS was planned as a
  -- hashed subplan: the campaign's whole ledger read on every tick)
  LEFT JOIN LATERAL (
    SELECT true AS found FROM campaign_emails ce
    WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id AND ce.step_number = st.step_number LIMIT 1) done ON true
  CROSS JOIN LATERAL (
    SELECT CASE WHEN st.condition_value ~ '^[0-9]{1,6}$' THEN st.condition_value::int END AS step) ref
  LEFT JOIN LATERAL (
    SELECT s.suppression_type FROM suppression_list s
    WHERE l.email IS NOT NULL AND s.email = l.email AND s.is_active AND (s.workspace_id = cl.workspace_id OR s.is_global)
    ORDER BY s.is_global, s.created_at
    LIMIT 1) sup ON true
  ORDER BY cl.due, cl.id`;

/** The lowest key of the index order: every due key is at least -infinity, every id above the nil uuid. */
const FIRST_KEY: readonly [string, string] = ['-infinity', '00000000-0000-0000-0000-000000000000'];

/**
 * Due enrolments (pending or in progress, next_email_at reached) whose next step exists and has
 * no ledger row yet (`scheduled_step`, kept by the ledger's insert trigger, read through the
 * index campaign_leads_to_schedule_idx: enrolments already scheduled cost nothing), lead not deleted; suppressed leads and unmet conditions included and
 * flagged, so the tick can end or skip them. Oldest due first.
 *
 * Read in pages of `limit` candidates by the index's order: the read is proportional to the batch,
 * not to the campaign. Candidates the tick cannot act on (lead deleted, no next step) are paged
 * past, so they never hold back those after them; each one costs a tick one index entry.
 */
export async function listEnrolmentsToTick(db: Queryable, workspaceId: string, campaignId: string, now: Date, limit: number): Promise<EnrolmentToTick[]> {
  await getCampaign(db, workspaceId, campaignId); // TenancyError / RecordNotFoundError for a foreign id
  const found: EnrolmentToTick[] = [];
  if (limit <= 0) return found;
  let after = FIRST_KEY;
  for (;;) {
    const { rows } = await db.query<EnrolmentToTick & { due_key: string; eligible: boolean }>(ENROLMENTS_TO_TICK, [
      campaignId,
      workspaceId,
      now,
      limit,
      after[0],
      after[1],
    ]);
    for (const { due_key: _due, eligible, ...row } of rows) {
      if (eligible) found.push(row);
      if (found.length === limit) return found;
    }
    const last = rows.at(-1);
    if (rows.length < limit || last === undefined) return found;
    after = [last.due_key, last.enrolment_id];
  }
}

/** Ends enrolments of the campaign that are still pending or in progress; returns how many it ended. */
export async function endEnrolments(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  ends: ReadonlyArray<{ enrolmentId: string; as: EnrolmentEnd }>,
  at: Date,
): Promise<number> {
  if (ends.length === 0) return 0;
  await getCampaign(db, workspaceId, campaignId);
  const result = await db.query(
    `UPDATE campaign_leads cl SET
       status = t.outcome,
       next_email_at = NULL,
       unsubscribed_at = CASE WHEN t.outcome = 'unsubscribed' THEN coalesce(cl.unsubscribed_at, $5) ELSE cl.unsubscribed_at END,
       bounced_at = CASE WHEN t.outcome = 'bounced' THEN coalesce(cl.bounced_at, $5) ELSE cl.bounced_at END
     FROM unnest($3::uuid[], $4::text[]) AS t(id, outcome)
     WHERE cl.id = t.id AND cl.workspace_id = $1 AND cl.campaign_id = $2 AND cl.status IN ('pending', 'in_progress')`,
    [workspaceId, campaignId, ends.map((e) => e.enrolmentId), ends.map((e) => e.as), at],
  );
  return result.rowCount ?? 0;
}

/**
 * Skips a step whose condition does not hold: current_step moves to it without a send, and the
 * enrolment is due again at `nextEmailAt`, or completes when null (no further step). Guarded by
 * the current step, so a repeated tick skips nothing twice; returns how many it skipped.
 */
export async function skipEnrolmentSteps(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  skips: ReadonlyArray<{ enrolmentId: string; stepNumber: number; nextEmailAt: Date | null }>,
): Promise<number> {
  if (skips.length === 0) return 0;
  await getCampaign(db, workspaceId, campaignId);
  const result = await db.query(
    `UPDATE campaign_leads cl SET
       current_step = t.step,
       next_email_at = t.next_at,
       status = CASE WHEN t.next_at IS NULL THEN 'completed' ELSE 'in_progress' END
     FROM unnest($3::uuid[], $4::int[], $5::timestamptz[]) AS t(id, step, next_at)
     WHERE cl.id = t.id AND cl.workspace_id = $1 AND cl.campaign_id = $2
       AND cl.status IN ('pending', 'in_progress') AND cl.current_step = t.step - 1`,
    [workspaceId, campaignId, skips.map((s) => s.enrolmentId), skips.map((s) => s.stepNumber), skips.map((s) => s.nextEmailAt)],
  );
  return result.rowCount ?? 0;
}

/** scheduled → active, started_at set; null when the campaign is no longer scheduled. */
export async function startScheduledCampaign(db: Queryable, workspaceId: string, campaignId: string): Promise<CampaignRow | null> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<CampaignRow>(
    `UPDATE campaigns SET status = 'active', started_at = coalesce(started_at, now())
     WHERE id = $1 AND workspace_id = $2 AND status = 'scheduled' AND deleted_at IS NULL
     RETURNING *`,
    [campaignId, workspaceId],
  );
  return rows[0] ?? null;
}

/**
 * active → completed when the campaign has enrolments and every one is finished: not pending or
 * in progress, or without a further step (leads deleted since count as finished), and no send of
 * the campaign is scheduled, sending, retryable or unknown. True when this call completed it.
 */
export async function completeCampaignIfFinished(db: Queryable, workspaceId: string, campaignId: string): Promise<boolean> {
  await getCampaign(db, workspaceId, campaignId);
  // a send still open ends it at once, before the enrolments are looked at: while a campaign sends,
  // the tick asks this on every run. Each lookup reads the first entry of a partial index in its
  // order (campaign_emails_needs_job_idx, campaign_emails_unsettled_idx), as ORDER BY ... LIMIT 1 in
  // a scalar subquery: an EXISTS was planned as a sequential scan expected to stop early, which read
  // the campaign's sent rows before its first open one on every tick once everything was scheduled
  const open = await db.query(
    `SELECT 1 WHERE coalesce((SELECT true FROM campaign_emails WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable')
                              ORDER BY ${NEEDS_JOB_KEY}, scheduled_at, id LIMIT 1), false)
        OR coalesce((SELECT true FROM campaign_emails WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('sending', 'unknown')
                     ORDER BY claimed_at LIMIT 1), false)`,
    [campaignId, workspaceId],
  );
  if ((open.rowCount ?? 0) > 0) return false;
  const result = await db.query(
    `UPDATE campaigns c SET status = 'completed', completed_at = coalesce(c.completed_at, now())
     WHERE c.id = $1 AND c.workspace_id = $2 AND c.status = 'active' AND c.deleted_at IS NULL
       AND EXISTS (SELECT 1 FROM campaign_leads cl WHERE cl.campaign_id = c.id AND cl.workspace_id = c.workspace_id)
       AND NOT EXISTS (
         SELECT 1 FROM campaign_leads cl
         JOIN leads l ON l.id = cl.lead_id AND l.workspace_id = cl.workspace_id AND l.deleted_at IS NULL
         JOIN campaign_sequences s
           ON s.campaign_id = cl.campaign_id AND s.workspace_id = cl.workspace_id AND s.step_number = cl.current_step + 1
         WHERE cl.campaign_id = c.id AND cl.workspace_id = c.workspace_id AND cl.status IN ('pending', 'in_progress'))
       AND NOT EXISTS (
         SELECT 1 FROM campaign_emails ce
         WHERE ce.campaign_id = c.id AND ce.workspace_id = c.workspace_id
           AND ce.status IN ('scheduled', 'sending', 'retryable', 'unknown'))
     RETURNING c.id`,
    [campaignId, workspaceId],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * Fan-out, every workspace: campaigns that are active or scheduled, not deleted, and not yet
 * ticked for the slot starting at `slotStart` (next_run_at empty or reached), by id after
 * `after`. Scheduled ones are returned whatever their start date; the caller decides. Keyset
 * pagination by id; campaigns_next_run_idx serves the active ones.
 */
export async function listCampaignsToTick(db: Queryable, options: { slotStart: Date; after?: string; limit: number }): Promise<CampaignToTick[]> {
  const { rows } = await db.query<CampaignToTick>(
    `SELECT id, workspace_id, status, timezone, schedule_settings FROM campaigns
     WHERE deleted_at IS NULL AND status IN ('active', 'scheduled')
       AND (next_run_at IS NULL OR next_run_at <= $1)
       AND ($2::uuid IS NULL OR id > $2::uuid)
     ORDER BY id
     LIMIT $3`,
    [options.slotStart, options.after ?? null, options.limit],
  );
  return rows;
}

/**
 * Fan-out: next_run_at = `until` for these campaigns (the slot is done; never moved back);
 * returns how many moved. Each pair matches only a campaign of that workspace.
 */
export async function markCampaignsTicked(db: Queryable, campaigns: ReadonlyArray<{ workspaceId: string; campaignId: string }>, until: Date): Promise<number> {
  if (campaigns.length === 0) return 0;
  const result = await db.query(
    `UPDATE campaigns c SET next_run_at = $3
     FROM unnest($1::uuid[], $2::uuid[]) AS t(workspace_id, id)
     WHERE c.id = t.id AND c.workspace_id = t.workspace_id AND (c.next_run_at IS NULL OR c.next_run_at < $3)`,
    [campaigns.map((c) => c.workspaceId), campaigns.map((c) => c.campaignId), until],
  );
  return result.rowCount ?? 0;
}
