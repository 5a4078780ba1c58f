import type { Queryable } from '../pool.js';
import type { CampaignEmailRow, MailboxRow, MailboxStatus } from '../types.js';
import { getCampaign } from './campaigns.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/*
 * What the email worker needs beyond campaign-emails.ts: deferring and cancelling sends,
 * reconciling unknown outcomes, the campaign tick's selections and the reputation counts that
 * auto-pause mailboxes and campaigns. Same rules: workspaceId first, every statement scoped.
 */

/** Returns the row when the guarded UPDATE matched; null when the row is in another state; refuses foreign/missing ids. */
async function guarded(db: Queryable, workspaceId: string, id: string, sql: string, values: unknown[]): Promise<CampaignEmailRow | null> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', id);
  const { rows } = await db.query<CampaignEmailRow>(sql, [id, workspaceId, ...values]);
  if (rows[0]) return rows[0];
  const exists = await db.query('SELECT 1 FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [id, workspaceId]);
  if (exists.rowCount === 0) await refuse(db, 'campaign_emails', workspaceId, id);
  return null;
}

/**
 * A cap or rate limit was hit before the claim: scheduled|retryable stays claimable but moves to
 * `until`. Null when the row is no longer claimable (someone else sent or cancelled it).
 */
export function rescheduleCampaignEmail(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  until: Date,
  reason: string,
): Promise<CampaignEmailRow | null> {
  return guarded(
    db,
    workspaceId,
    campaignEmailId,
    `UPDATE campaign_emails SET scheduled_at = $3, last_error = $4
     WHERE id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable') RETURNING *`,
    [until, reason],
  );
}

/**
 * The send must not happen (suppressed address, campaign or enrolment ended, no consent):
 * scheduled|retryable|sending → cancelled with a reason. Null when the row is in another state.
 */
export function cancelCampaignEmail(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  reason: string,
): Promise<CampaignEmailRow | null> {
  return guarded(
    db,
    workspaceId,
    campaignEmailId,
    `UPDATE campaign_emails SET status = 'cancelled', cancelled_at = now(), cancelled_reason = $3
     WHERE id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable', 'sending') RETURNING *`,
    [reason],
  );
}

/**
 * A `sending` row whose claim is older than the lease: the worker died between claim and outcome,
 * so SES may or may not have the message → unknown (never resent blindly). Null when the row is
 * not sending or its lease is still running.
 */
export function expireSendingLease(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  leaseMs: number,
): Promise<CampaignEmailRow | null> {
  return guarded(
    db,
    workspaceId,
    campaignEmailId,
    `UPDATE campaign_emails SET status = 'unknown', last_error = 'lease expired while sending'
     WHERE id = $1 AND workspace_id = $2 AND status = 'sending'
       AND claimed_at < now() - make_interval(secs => $3::double precision / 1000) RETURNING *`,
    [leaseMs],
  );
}

/**
 * No SES `Send` event arrived for an unknown outcome: failed_unknown (kept for review), or
 * retryable when the policy allows exactly one resend (only after the first unknown).
 */
export function resolveUnknownCampaignEmail(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  to: 'failed_unknown' | 'retryable',
): Promise<CampaignEmailRow | null> {
  return guarded(
    db,
    workspaceId,
    campaignEmailId,
    `UPDATE campaign_emails SET status = $3,
       last_error = coalesce(last_error, '') || ' / no SES Send event: ' || $3
     WHERE id = $1 AND workspace_id = $2 AND status = 'unknown' AND ($3 = 'failed_unknown' OR attempt = 1) RETURNING *`,
    [to],
  );
}

/**
 * The one lookup without a workspace: an SES event carries only the message id (identity
 * notifications have no tags), so the webhook learns the workspace from the send. Returns only the
 * ids; the caller then works through the scoped functions with that workspace.
 */
export async function findSendByMessageId(db: Queryable, messageId: string): Promise<{ id: string; workspace_id: string } | null> {
  const { rows } = await db.query<{ id: string; workspace_id: string }>(
    'SELECT id, workspace_id FROM campaign_emails WHERE message_id = $1 LIMIT 1',
    [messageId],
  );
  return rows[0] ?? null;
}

export interface EnrolmentToSchedule {
  enrolment_id: string;
  lead_id: string;
  email: string;
  /** the step to send next (current_step + 1) */
  next_step: number;
}

/**
 * Due enrolments of the campaign that have no ledger row for their next step yet (so a tick never
 * re-selects leads whose send is already scheduled), lead not deleted, not unsubscribed, not
 * suppressed. Oldest due first.
 */
export async function findEnrolmentsToSchedule(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  options: { now?: Date; limit?: number } = {},
): Promise<EnrolmentToSchedule[]> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<EnrolmentToSchedule>(
    `SELECT cl.id AS enrolment_id, cl.lead_id, l.email, cl.current_step + 1 AS next_step
     FROM campaign_leads cl
     JOIN leads l ON l.id = cl.lead_id AND l.workspace_id = cl.workspace_id
     WHERE cl.campaign_id = $1 AND cl.workspace_id = $2
       AND cl.status IN ('pending', 'in_progress')
       AND (cl.next_email_at IS NULL OR cl.next_email_at <= $3)
       AND l.deleted_at IS NULL AND l.status <> 'unsubscribed'
       AND EXISTS (SELECT 1 FROM campaign_sequences s
                   WHERE s.campaign_id = cl.campaign_id AND s.workspace_id = cl.workspace_id AND s.step_number = cl.current_step + 1)
       AND NOT EXISTS (SELECT 1 FROM campaign_emails ce
                       WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id AND ce.step_number = cl.current_step + 1)
       AND NOT EXISTS (SELECT 1 FROM suppression_list s
                       WHERE s.email = l.email AND s.is_active AND (s.workspace_id = cl.workspace_id OR s.is_global))
     ORDER BY cl.next_email_at NULLS FIRST, cl.id
     LIMIT $4`,
    [campaignId, workspaceId, options.now ?? new Date(), options.limit ?? 50],
  );
  return rows;
}

/** Ledger rows of the campaign created since `since` and not cancelled (the campaign's daily limit). */
export async function countCampaignEmailsSince(db: Queryable, workspaceId: string, campaignId: string, since: Date): Promise<number> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM campaign_emails
     WHERE campaign_id = $1 AND workspace_id = $2 AND created_at >= $3 AND status <> 'cancelled'`,
    [campaignId, workspaceId, since],
  );
  return rows[0]!.n;
}

/** Claimable rows of the campaign due before `before` (orphans to re-enqueue), oldest first. */
export async function listDueCampaignEmails(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  options: { before: Date; limit: number },
): Promise<Array<{ id: string; attempt: number }>> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<{ id: string; attempt: number }>(
    `SELECT id, attempt FROM campaign_emails
     WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable') AND scheduled_at <= $3
     ORDER BY scheduled_at, id LIMIT $4`,
    [campaignId, workspaceId, options.before, options.limit],
  );
  return rows;
}

/** Rows of the campaign whose outcome needs reconciling: sending past the lease, unknown past the event window. */
export async function listUnsettledCampaignEmails(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  options: { claimedBefore: Date; limit: number },
): Promise<Array<{ id: string; status: 'sending' | 'unknown'; attempt: number }>> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<{ id: string; status: 'sending' | 'unknown'; attempt: number }>(
    `SELECT id, status, attempt FROM campaign_emails
     WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('sending', 'unknown') AND claimed_at < $3
     ORDER BY claimed_at LIMIT $4`,
    [campaignId, workspaceId, options.claimedBefore, options.limit],
  );
  return rows;
}

export interface SendReputation {
  readonly sent: number;
  /** bounces that count toward SES's bounce rate (OnAccountSuppressionList excluded) */
  readonly bounced: number;
  readonly complained: number;
}

/** Sends, bounces and complaints of a mailbox or a campaign since `since`. */
export async function sendReputation(
  db: Queryable,
  workspaceId: string,
  of: { readonly mailboxId: string } | { readonly campaignId: string },
  since: Date,
): Promise<SendReputation> {
  assertWorkspaceId(workspaceId);
  const column = 'mailboxId' in of ? 'mailbox_id' : 'campaign_id';
  const id = 'mailboxId' in of ? of.mailboxId : of.campaignId;
  assertId('mailboxId' in of ? 'mailboxes' : 'campaigns', id);
  const { rows } = await db.query<SendReputation>(
    `SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent,
            count(*) FILTER (WHERE delivery_status = 'bounced' AND coalesce(bounce_type, '') NOT LIKE '%OnAccountSuppressionList%')::int AS bounced,
            count(*) FILTER (WHERE delivery_status = 'complained')::int AS complained
     FROM campaign_emails WHERE ${column} = $1 AND workspace_id = $2 AND sent_at >= $3`,
    [id, workspaceId, since],
  );
  const table = 'mailboxId' in of ? 'mailboxes' : 'campaigns';
  const owner = await db.query(`SELECT 1 FROM ${table} WHERE id = $1 AND workspace_id = $2`, [id, workspaceId]);
  if (owner.rowCount === 0) await refuse(db, table, workspaceId, id);
  return rows[0]!;
}

/** Pauses (or re-activates) a mailbox with a reason. */
export async function setMailboxStatus(
  db: Queryable,
  workspaceId: string,
  mailboxId: string,
  status: MailboxStatus,
  reason?: string,
): Promise<MailboxRow> {
  assertWorkspaceId(workspaceId);
  assertId('mailboxes', mailboxId);
  const { rows } = await db.query<MailboxRow>(
    `UPDATE mailboxes SET status = $3, paused_reason = CASE WHEN $3 IN ('paused', 'disabled') THEN $4 ELSE NULL END
     WHERE id = $1 AND workspace_id = $2 RETURNING *`,
    [mailboxId, workspaceId, status, reason ?? null],
  );
  return rows[0] ?? refuse(db, 'mailboxes', workspaceId, mailboxId);
}

/** An open or click of a send: first timestamp kept, counter incremented. */
export async function recordEngagement(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  kind: 'open' | 'click',
  at: Date,
): Promise<CampaignEmailRow> {
  const row = await guarded(
    db,
    workspaceId,
    campaignEmailId,
    kind === 'open'
      ? `UPDATE campaign_emails SET opened_at = coalesce(opened_at, $3), open_count = open_count + 1 WHERE id = $1 AND workspace_id = $2 RETURNING *`
      : `UPDATE campaign_emails SET clicked_at = coalesce(clicked_at, $3), click_count = click_count + 1 WHERE id = $1 AND workspace_id = $2 RETURNING *`,
    [at],
  );
  return row!;
}
