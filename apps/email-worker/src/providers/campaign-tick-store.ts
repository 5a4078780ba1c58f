import {
  countCampaignEmailsSince,
  expireSendingLease,
  getCampaign,
  listCampaignMailboxes,
  listDueCampaignEmails,
  listUnsettledCampaignEmails,
  markCampaignEmailsEnqueued,
  resolveUnknownCampaignEmail,
  type CampaignRow,
  type MailboxRow,
  type Pool,
  scheduleCampaignEmails,
} from '@coldcopy/db';
import { sendBulkEmail } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';

/** How an enrolment ends when its lead may not be emailed any more. */
export type EnrolmentEnd = 'unsubscribed' | 'bounced' | 'failed';

/** A due enrolment of the campaign whose next step has no ledger row yet. */
export interface DueEnrolment {
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

/**
 * What the campaign tick (send-bulk-email) reads and writes in Postgres. Every method takes the
 * job's workspace first and scopes every statement by it, except the two fan-out methods, which
 * select across workspaces by design (the fan-out has no tenant) and return only ids: each
 * per-campaign tick then loads its campaign through the scoped methods.
 */
export interface CampaignTickStore {
  campaign(workspaceId: string, campaignId: string): Promise<CampaignRow>;
  activeMailboxes(workspaceId: string, campaignId: string): Promise<MailboxRow[]>;
  /** ledger rows created since `since` (the campaign's daily limit) */
  sendsSince(workspaceId: string, campaignId: string, since: Date): Promise<number>;
  /**
   * Due enrolments (pending or in progress, next_email_at reached) whose next step exists and has
   * no ledger row yet, lead not deleted; suppressed leads and unmet conditions included and
   * flagged, so the tick can end or skip them. Oldest due first.
   */
  dueEnrolments(workspaceId: string, campaignId: string, now: Date, limit: number): Promise<DueEnrolment[]>;
  /** inserts `scheduled` rows; existing (campaign, lead, step) rows are left alone */
  schedule(workspaceId: string, campaignId: string, rows: ReadonlyArray<{ leadId: string; stepNumber: number; mailboxId: string; scheduledAt: Date }>): Promise<number>;
  /**
   * Claimable (scheduled, retryable) rows due by `before` that need a send-email job, oldest due
   * first: never enqueued by a tick, claimed since their last enqueue (the claim used that job up),
   * or enqueued and due before `enqueuedBefore` (the job may be lost). Rows whose job is still
   * waiting, or that a deferral gave a delayed follow-up job, are left out.
   */
  dueSends(workspaceId: string, campaignId: string, before: Date, limit: number, enqueuedBefore: Date): Promise<Array<{ id: string; attempt: number }>>;
  /**
   * Marks rows whose send-email jobs were just handed to the queue (`enqueued_at = at`, rows still
   * claimable only). Called after the enqueue with a time taken before it; returns how many it marked.
   */
  markEnqueued(workspaceId: string, campaignId: string, campaignEmailIds: readonly string[], at: Date): Promise<number>;
  /**
   * Settles outcomes: `sending` rows past their lease → unknown; unknown rows whose SES Send event
   * did not come within the window → failed_unknown (review) or, once, retryable (resend-once).
   */
  settle(
    workspaceId: string,
    campaignId: string,
    options: { leaseMs: number; windowMs: number; policy: 'review' | 'resend-once'; now: Date },
  ): Promise<{ expired: number; resolved: number }>;
  /** Ends enrolments that are still pending or in progress; returns how many it ended. */
  endEnrolments(workspaceId: string, campaignId: string, ends: ReadonlyArray<{ enrolmentId: string; as: EnrolmentEnd }>, at: Date): Promise<number>;
  /**
   * Skips a step whose condition does not hold: current_step moves to it without a send, and the
   * enrolment is due again at `nextEmailAt`, or completes when null (no further step). Guarded by
   * the current step, so a repeated tick skips nothing twice; returns how many it skipped.
   */
  skipSteps(workspaceId: string, campaignId: string, skips: ReadonlyArray<{ enrolmentId: string; stepNumber: number; nextEmailAt: Date | null }>): Promise<number>;
  /** scheduled → active, started_at set; null when the campaign is no longer scheduled */
  start(workspaceId: string, campaignId: string): Promise<CampaignRow | null>;
  /**
   * active → completed when the campaign has enrolments and every one is finished: not pending or
   * in progress, or without a further step (leads deleted since count as finished), and no send of
   * the campaign is scheduled, sending, retryable or unknown. True when this call completed it.
   */
  completeIfFinished(workspaceId: string, campaignId: string): Promise<boolean>;
  /**
   * Fan-out, every workspace: campaigns that are active or scheduled, not deleted, and not yet
   * ticked for the slot starting at `slotStart` (next_run_at empty or reached), by id after
   * `after`. Scheduled ones are returned whatever their start date; the caller decides.
   */
  campaignsToTick(options: { slotStart: Date; after?: string; limit: number }): Promise<CampaignToTick[]>;
  /** Fan-out: next_run_at = `until` for these campaigns (the slot is done); returns how many moved. */
  markTicked(campaigns: ReadonlyArray<{ workspaceId: string; campaignId: string }>, until: Date): Promise<number>;
}

/** One per-campaign tick to enqueue. */
export interface CampaignTickRequest {
  readonly workspaceId: string;
  readonly campaignId: string;
  readonly windowSlot: string;
  readonly batchSize: number;
  readonly traceId?: string;
}

/** Where the fan-out puts per-campaign ticks. */
export interface CampaignTickQueue {
  /**
   * Enqueues per-campaign send-bulk-email jobs, keyed `bulk:{campaignId}:{windowSlot}` (Bull id
   * `send-bulk-email.<campaignId>.<slot>`): a tick whose id is still known to Redis is not added
   * again. Returns how many were handed over (existing ids included).
   */
  enqueueTicks(ticks: readonly CampaignTickRequest[]): Promise<number>;
}

/** The real queue: the worker's producer, one addBulk per call (producer.enqueueBulk). */
export function createProducerCampaignTickQueue(producer: Producer): CampaignTickQueue {
  return {
    async enqueueTicks(ticks) {
      if (ticks.length === 0) return 0;
      const added = await producer.enqueueBulk(
        sendBulkEmail,
        ticks.map((t) => ({
          data: {
            workspaceId: t.workspaceId,
            campaignId: t.campaignId,
            windowSlot: t.windowSlot,
            batchSize: t.batchSize,
            requestedBy: 'system',
            ...(t.traceId !== undefined ? { traceId: t.traceId } : {}),
          },
        })),
      );
      return added.length;
    },
  };
}

// The statements below belong in @coldcopy/db (repositories/sending.ts) next to
// findEnrolmentsToSchedule; they live here until that package grows them. Same rules: workspace
// first and in every WHERE clause, except the two fan-out statements.

const DUE_ENROLMENTS = `
  SELECT cl.id AS enrolment_id, cl.lead_id, l.email, st.step_number AS next_step,
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
  FROM campaign_leads cl
  JOIN leads l ON l.id = cl.lead_id AND l.workspace_id = cl.workspace_id
  JOIN campaign_sequences st
    ON st.campaign_id = cl.campaign_id AND st.workspace_id = cl.workspace_id AND st.step_number = cl.current_step + 1
  LEFT JOIN campaign_sequences nx
    ON nx.campaign_id = cl.campaign_id AND nx.workspace_id = cl.workspace_id AND nx.step_number = cl.current_step + 2
  CROSS JOIN LATERAL (
    SELECT CASE WHEN st.condition_value ~ '^[0-9]{1,6}$' THEN st.condition_value::int END AS step) ref
  LEFT JOIN LATERAL (
    SELECT s.suppression_type FROM suppression_list s
    WHERE s.email = l.email AND s.is_active AND (s.workspace_id = cl.workspace_id OR s.is_global)
    ORDER BY s.is_global, s.created_at
    LIMIT 1) sup ON true
  WHERE cl.campaign_id = $1 AND cl.workspace_id = $2
    AND cl.status IN ('pending', 'in_progress')
    AND (cl.next_email_at IS NULL OR cl.next_email_at <= $3)
    AND l.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM campaign_emails ce
                    WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id AND ce.step_number = st.step_number)
  ORDER BY cl.next_email_at NULLS FIRST, cl.id
  LIMIT $4`;

const END_ENROLMENTS = `
  UPDATE campaign_leads cl SET
    status = t.outcome,
    next_email_at = NULL,
    unsubscribed_at = CASE WHEN t.outcome = 'unsubscribed' THEN coalesce(cl.unsubscribed_at, $5) ELSE cl.unsubscribed_at END,
    bounced_at = CASE WHEN t.outcome = 'bounced' THEN coalesce(cl.bounced_at, $5) ELSE cl.bounced_at END
  FROM unnest($3::uuid[], $4::text[]) AS t(id, outcome)
  WHERE cl.id = t.id AND cl.workspace_id = $1 AND cl.campaign_id = $2 AND cl.status IN ('pending', 'in_progress')`;

const SKIP_STEPS = `
  UPDATE campaign_leads cl SET
    current_step = t.step,
    next_email_at = t.next_at,
    status = CASE WHEN t.next_at IS NULL THEN 'completed' ELSE 'in_progress' END
  FROM unnest($3::uuid[], $4::int[], $5::timestamptz[]) AS t(id, step, next_at)
  WHERE cl.id = t.id AND cl.workspace_id = $1 AND cl.campaign_id = $2
    AND cl.status IN ('pending', 'in_progress') AND cl.current_step = t.step - 1`;

const START = `
  UPDATE campaigns SET status = 'active', started_at = coalesce(started_at, now())
  WHERE id = $1 AND workspace_id = $2 AND status = 'scheduled' AND deleted_at IS NULL
  RETURNING *`;

const COMPLETE_IF_FINISHED = `
  UPDATE campaigns c SET status = 'completed', completed_at = coalesce(c.completed_at, now())
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
  RETURNING c.id`;

// Fan-out, across workspaces (ids only). Keyset pagination by id; campaigns_next_run_idx serves
// the active ones.
const CAMPAIGNS_TO_TICK = `
  SELECT id, workspace_id, status, timezone, schedule_settings FROM campaigns
  WHERE deleted_at IS NULL AND status IN ('active', 'scheduled')
    AND (next_run_at IS NULL OR next_run_at <= $1)
    AND ($2::uuid IS NULL OR id > $2::uuid)
  ORDER BY id
  LIMIT $3`;

const MARK_TICKED = `
  UPDATE campaigns c SET next_run_at = $3
  FROM unnest($1::uuid[], $2::uuid[]) AS t(workspace_id, id)
  WHERE c.id = t.id AND c.workspace_id = t.workspace_id AND (c.next_run_at IS NULL OR c.next_run_at < $3)`;

export function createPgCampaignTickStore(pool: Pool): CampaignTickStore {
  return {
    campaign: (ws, id) => getCampaign(pool, ws, id),
    async activeMailboxes(ws, id) {
      return (await listCampaignMailboxes(pool, ws, id)).filter((m) => m.status === 'active');
    },
    sendsSince: (ws, id, since) => countCampaignEmailsSince(pool, ws, id, since),
    async dueEnrolments(ws, id, now, limit) {
      await getCampaign(pool, ws, id); // TenancyError / RecordNotFoundError for a foreign id
      const { rows } = await pool.query<DueEnrolment>(DUE_ENROLMENTS, [id, ws, now, limit]);
      return rows;
    },
    async schedule(ws, id, rows) {
      const result = await scheduleCampaignEmails(
        pool,
        ws,
        id,
        rows.map((r) => ({ leadId: r.leadId, stepNumber: r.stepNumber, mailboxId: r.mailboxId, scheduledAt: r.scheduledAt })),
      );
      return result.scheduled.length;
    },
    dueSends: (ws, id, before, limit, enqueuedBefore) => listDueCampaignEmails(pool, ws, id, { before, limit, enqueuedBefore }),
    markEnqueued: (ws, id, ids, at) => markCampaignEmailsEnqueued(pool, ws, id, ids, at),
    async settle(ws, id, { leaseMs, windowMs, policy, now }) {
      const stale = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - Math.min(leaseMs, windowMs)), limit: 500 });
      let expired = 0;
      let resolved = 0;
      for (const row of stale) {
        if (row.status === 'sending' && (await expireSendingLease(pool, ws, row.id, leaseMs))) expired++;
      }
      const overdue = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - windowMs), limit: 500 });
      for (const row of overdue) {
        if (row.status !== 'unknown') continue;
        const to = policy === 'resend-once' && row.attempt === 1 ? 'retryable' : 'failed_unknown';
        if (await resolveUnknownCampaignEmail(pool, ws, row.id, to)) resolved++;
      }
      return { expired, resolved };
    },
    async endEnrolments(ws, id, ends, at) {
      if (ends.length === 0) return 0;
      await getCampaign(pool, ws, id);
      const result = await pool.query(END_ENROLMENTS, [ws, id, ends.map((e) => e.enrolmentId), ends.map((e) => e.as), at]);
      return result.rowCount ?? 0;
    },
    async skipSteps(ws, id, skips) {
      if (skips.length === 0) return 0;
      await getCampaign(pool, ws, id);
      const result = await pool.query(SKIP_STEPS, [
        ws,
        id,
        skips.map((s) => s.enrolmentId),
        skips.map((s) => s.stepNumber),
        skips.map((s) => s.nextEmailAt),
      ]);
      return result.rowCount ?? 0;
    },
    async start(ws, id) {
      await getCampaign(pool, ws, id);
      const { rows } = await pool.query<CampaignRow>(START, [id, ws]);
      return rows[0] ?? null;
    },
    async completeIfFinished(ws, id) {
      await getCampaign(pool, ws, id);
      const result = await pool.query(COMPLETE_IF_FINISHED, [id, ws]);
      return (result.rowCount ?? 0) > 0;
    },
    async campaignsToTick({ slotStart, after, limit }) {
      const { rows } = await pool.query<CampaignToTick>(CAMPAIGNS_TO_TICK, [slotStart, after ?? null, limit]);
      return rows;
    },
    async markTicked(campaigns, until) {
      if (campaigns.length === 0) return 0;
      const result = await pool.query(MARK_TICKED, [campaigns.map((c) => c.workspaceId), campaigns.map((c) => c.campaignId), until]);
      return result.rowCount ?? 0;
    },
  };
}
