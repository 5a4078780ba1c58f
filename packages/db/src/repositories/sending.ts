import type pg from 'pg';
import { ClaimLostError, LedgerStateError, MissingPartitionError, RecordNotFoundError } from '../errors.js';
import type { Queryable } from '../pool.js';
import type {
  CampaignEmailRow,
  CampaignLeadRow,
  CampaignRow,
  CampaignStepRow,
  LeadRow,
  MailboxRow,
  MailboxStatus,
  SendStatus,
  WorkspaceRow,
} from '../types.js';
import type { ClaimResult } from './campaign-emails.js';
import { getCampaign } from './campaigns.js';
import { getEnrolment } from './enrolments.js';
import { getLead } from './leads.js';
import { getMailbox } from './mailboxes.js';
import { assertAllInWorkspace, assertId, assertWorkspaceId, refuse } from './scope.js';
import { getWorkspace } from './workspaces.js';

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
     WHERE id = $1 AND workspace_id = $2 AND (status IN ('scheduled', 'retryable')) IS TRUE RETURNING *`,
    [until, reason],
  );
}

/**
 * The send must not happen (suppressed address, campaign or enrolment ended, no consent):
 * scheduled|retryable|sending → cancelled with a reason. Null when the row is in another state.
 */
export function cancelCampaignEmail(db: Queryable, workspaceId: string, campaignEmailId: string, reason: string): Promise<CampaignEmailRow | null> {
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
export function expireSendingLease(db: Queryable, workspaceId: string, campaignEmailId: string, leaseMs: number): Promise<CampaignEmailRow | null> {
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
 * `unknown` rows of the campaign whose lease has run out by the database's clock (claimed more than
 * `leaseMs` ago), oldest claim first. No attempt can still put such a row's request on the wire:
 * each checks its own lease on the monotonic clock, with a margin, right before the request leaves.
 * So once this returned a row, whether its attempt marked the request as on the wire is settled,
 * and the campaign tick asks those marks (the email worker's wire marks).
 */
export async function listLapsedUnknownCampaignEmails(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  options: { leaseMs: number; limit: number },
): Promise<Array<{ id: string; attempt: number; claimed_at: Date }>> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<{ id: string; attempt: number; claimed_at: Date }>(
    `SELECT id, attempt, claimed_at FROM campaign_emails
     WHERE campaign_id = $1 AND workspace_id = $2 AND status = 'unknown'
       AND claimed_at < now() - make_interval(secs => $3::double precision / 1000)
     ORDER BY claimed_at LIMIT $4`,
    [campaignId, workspaceId, options.leaseMs, options.limit],
  );
  return rows;
}

/**
 * An unknown outcome proven unsent (its attempt never marked its request as on the wire, or SES
 * never got it: `why`): unknown → retryable, so the campaign tick sends it again. Fenced by the
 * claim token and the lease: null when the row moved on (a Send event reconciled it, the policy
 * resolved it, another claim) or its lease has not run out by the database's clock.
 */
export function releaseUnsentCampaignEmail(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  claim: number,
  leaseMs: number,
  why = 'claim lapsed before the request went on the wire: sent again',
): Promise<CampaignEmailRow | null> {
  return guarded(
    db,
    workspaceId,
    campaignEmailId,
    `UPDATE campaign_emails SET status = 'retryable', last_error = $5
     WHERE id = $1 AND workspace_id = $2 AND status = 'unknown' AND attempt = $3
       AND claimed_at < now() - make_interval(secs => $4::double precision / 1000) RETURNING *`,
    [claim, leaseMs, why],
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
  const { rows } = await db.query<{ id: string; workspace_id: string }>('SELECT id, workspace_id FROM campaign_emails WHERE message_id = $1 LIMIT 1', [
    messageId,
  ]);
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
       AND (CASE WHEN cl.status IN ('pending', 'in_progress') AND cl.scheduled_step <= cl.current_step THEN coalesce(cl.next_email_at, '-infinity'::timestamptz) END) <= $3
       AND l.deleted_at IS NULL AND l.status <> 'unsubscribed'
       AND EXISTS (SELECT 1 FROM campaign_sequences s
                   WHERE s.campaign_id = cl.campaign_id AND s.workspace_id = cl.workspace_id AND s.step_number = cl.current_step + 1)
       AND NOT EXISTS (SELECT 1 FROM campaign_emails ce
                       WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id AND ce.step_number = cl.current_step + 1)
       AND NOT EXISTS (SELECT 1 FROM suppression_list s
                       WHERE s.email = l.email AND s.is_active AND (s.workspace_id = cl.workspace_id OR s.is_global))
     ORDER BY (CASE WHEN cl.status IN ('pending', 'in_progress') AND cl.scheduled_step <= cl.current_step THEN coalesce(cl.next_email_at, '-infinity'::timestamptz) END), cl.id
     LIMIT $4`,
    [campaignId, workspaceId, options.now ?? new Date(), options.limit ?? 50],
  );
  return rows;
}

/**
 * Ledger rows of the campaign created since `since` and not cancelled (the campaign's daily limit),
 * from campaign_send_counts (kept by the ledger's triggers, per 15-minute slot): at most 96 counter
 * rows for a day, whatever the campaign has sent. `since` counts from the start of its 15-minute
 * slot (a local midnight is always one).
 */
export async function countCampaignEmailsSince(db: Queryable, workspaceId: string, campaignId: string, since: Date): Promise<number> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<{ n: number }>(
    `SELECT coalesce(sum(created), 0)::int AS n FROM campaign_send_counts
     WHERE campaign_id = $1 AND workspace_id = $2 AND slot >= send_count_slot($3)`,
    [campaignId, workspaceId, since],
  );
  return rows[0]!.n;
}

/**
 * When a claimable row needs a send-email job (the index key of campaign_emails_needs_job_idx):
 * -infinity when it never had one or was claimed since its last, else the later of its enqueue mark
 * and due time. It needs one when the key is before `enqueuedBefore`.
 */
export const NEEDS_JOB_KEY = `(CASE WHEN enqueued_at IS NULL OR claimed_at >= enqueued_at THEN '-infinity'::timestamptz ELSE greatest(enqueued_at, scheduled_at) END)`;

/**
 * Claimable rows of the campaign due before `before`, oldest first: the rows the campaign tick
 * enqueues a send-email job for.
 *
 * With `enqueuedBefore`, only rows that need a job (markCampaignEmailsEnqueued keeps the mark):
 *   - never enqueued (`enqueued_at` NULL: new, or left by a crash before the enqueue);
 *   - claimed since the mark (`claimed_at >= enqueued_at`): that claim used the job up, so a row
 *     back in scheduled|retryable (a retryable failure, an unknown outcome resolved to one resend)
 *     has no job waiting, unless the send path enqueued its own (a duplicate is harmless: the
 *     claim lets one job send);
 *   - mark and due time both before `enqueuedBefore`: the job should have run by now and may be
 *     lost (Redis restarted without persistence). The due time counts because a deferral moves
 *     `scheduled_at` and enqueues its own delayed follow-up job, which runs only then.
 * Those never enqueued or claimed since come first (oldest due first), then those whose job may be
 * lost; read through campaign_emails_needs_job_idx, so rows whose job is still waiting cost nothing.
 * Without it, every claimable due row (the tick's behaviour before the mark existed).
 */
export async function listDueCampaignEmails(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  options: { before: Date; limit: number; enqueuedBefore?: Date },
): Promise<Array<{ id: string; attempt: number }>> {
  await getCampaign(db, workspaceId, campaignId);
  // with enqueuedBefore: by the key of campaign_emails_needs_job_idx, named exactly so, in its order
  const needsJob = options.enqueuedBefore === undefined ? '' : `AND ${NEEDS_JOB_KEY} < $5`;
  const { rows } = await db.query<{ id: string; attempt: number }>(
    `SELECT id, attempt FROM campaign_emails
     WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable') AND scheduled_at <= $3
       ${needsJob}
     ORDER BY ${options.enqueuedBefore === undefined ? '' : `${NEEDS_JOB_KEY}, `}scheduled_at, id LIMIT $4`,
    options.enqueuedBefore === undefined
      ? [campaignId, workspaceId, options.before, options.limit]
      : [campaignId, workspaceId, options.before, options.limit, options.enqueuedBefore],
  );
  return rows;
}

/**
 * The campaign tick handed these rows' send-email jobs to the queue: `enqueued_at = at` on those
 * still claimable (a row claimed meanwhile is left alone: its claim is newer than any mark). Call
 * it after the enqueue, with a time taken before it, so a claim by one of those jobs is never
 * older than the mark. Never moves a mark back. Returns how many rows it marked; ids of other
 * campaigns or workspaces match nothing (foreign campaign: TenancyError).
 *
 * `at` comes from the worker's clock, `claimed_at` from the database's. A worker clock ahead by δ
 * can hide a claim made within δ of the tick's start: such a row, if it comes back claimable
 * without a job, is enqueued after the re-enqueue interval instead of at once (late, never lost);
 * a clock behind only adds a duplicate enqueue.
 */
export async function markCampaignEmailsEnqueued(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  campaignEmailIds: readonly string[],
  at: Date,
): Promise<number> {
  await getCampaign(db, workspaceId, campaignId);
  if (campaignEmailIds.length === 0) return 0;
  for (const id of campaignEmailIds) assertId('campaign_emails', id);
  const result = await db.query(
    // the ids through a subquery (ARRAY(...)), whose length the planner does not know and takes for
    // small: one index lookup per id; `id = ANY($3)` with a tick's 500 ids was planned as a
    // sequential scan of the ledger, whose cost grows with the campaign
    `UPDATE campaign_emails SET enqueued_at = $4
     WHERE id = ANY (ARRAY(SELECT unnest($3::uuid[]))) AND workspace_id = $1 AND campaign_id = $2
       AND (status IN ('scheduled', 'retryable')) IS TRUE AND (enqueued_at IS NULL OR enqueued_at < $4)`,
    [workspaceId, campaignId, campaignEmailIds, at],
  );
  return result.rowCount ?? 0;
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

/**
 * Sends, bounces and complaints of a mailbox or a campaign sent since `since`, from
 * send_reputation_counts (kept by the ledger's triggers, per UTC day of the send): at most one
 * counter row per day of the window, whatever the volume. `since` counts from the start of its UTC day.
 */
export async function sendReputation(
  db: Queryable,
  workspaceId: string,
  of: { readonly mailboxId: string } | { readonly campaignId: string },
  since: Date,
): Promise<SendReputation> {
  assertWorkspaceId(workspaceId);
  const subject = 'mailboxId' in of ? 'mailbox' : 'campaign';
  const id = 'mailboxId' in of ? of.mailboxId : of.campaignId;
  assertId('mailboxId' in of ? 'mailboxes' : 'campaigns', id);
  const { rows } = await db.query<SendReputation>(
    `SELECT coalesce(sum(sent), 0)::int AS sent, coalesce(sum(bounced), 0)::int AS bounced, coalesce(sum(complained), 0)::int AS complained
     FROM send_reputation_counts
     WHERE subject = $4 AND subject_id = $1 AND workspace_id = $2 AND day >= ($3::timestamptz AT TIME ZONE 'UTC')::date`,
    [id, workspaceId, since, subject],
  );
  const table = 'mailboxId' in of ? 'mailboxes' : 'campaigns';
  const owner = await db.query(`SELECT 1 FROM ${table} WHERE id = $1 AND workspace_id = $2`, [id, workspaceId]);
  if (owner.rowCount === 0) await refuse(db, table, workspaceId, id);
  return rows[0]!;
}

/** Pauses (or re-activates) a mailbox with a reason. */
export async function setMailboxStatus(db: Queryable, workspaceId: string, mailboxId: string, status: MailboxStatus, reason?: string): Promise<MailboxRow> {
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

/*
 * The send path in three statements (email-ses-sns.md §12): load everything a send needs, claim
 * (with the suppression check in the same statement, right before SES), record the success. Each
 * is one round trip and a named prepared statement (parsed and planned once per connection); the
 * slow, precise diagnosis (TenancyError, RecordNotFoundError, LedgerStateError) runs only when the
 * fast statement matched nothing.
 */

/** pg's Pool and clients also run named (prepared) statements. */
type PreparedQueryable = Queryable & {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
};

/** Top-level `*_at` columns of a row read through to_json back to Date, as node-postgres gives them natively. */
function revive<T>(json: Record<string, unknown> | null): T | null {
  if (json === null) return null;
  for (const key of Object.keys(json)) {
    const value = json[key];
    if (typeof value === 'string' && key.endsWith('_at')) json[key] = new Date(value);
  }
  return json as T;
}

/** Everything one send reads, from one statement. */
export interface SendRows {
  readonly email: CampaignEmailRow;
  readonly campaign: CampaignRow;
  readonly lead: LeadRow;
  readonly enrolment: CampaignLeadRow;
  /** the row's step; null when the sequence no longer has it */
  readonly step: CampaignStepRow | null;
  /** the step after it; null when this is the last one */
  readonly nextStep: CampaignStepRow | null;
  /** the row's mailbox, else the campaign's first active one (by address); null when there is none */
  readonly mailbox: MailboxRow | null;
  readonly workspace: Pick<WorkspaceRow, 'settings'>;
}

const LOAD_SEND_SQL = `
SELECT to_json(ce) AS email, to_json(c) AS campaign, to_json(l) AS lead, to_json(cl) AS enrolment,
       to_json(s1) AS step, to_json(s2) AS next_step, to_json(m) AS mailbox,
       w.settings AS workspace_settings, w.id IS NOT NULL AS has_workspace
FROM campaign_emails ce
LEFT JOIN campaigns c ON c.id = ce.campaign_id AND c.workspace_id = ce.workspace_id AND c.deleted_at IS NULL
LEFT JOIN leads l ON l.id = ce.lead_id AND l.workspace_id = ce.workspace_id AND l.deleted_at IS NULL
LEFT JOIN workspaces w ON w.id = ce.workspace_id AND w.deleted_at IS NULL
LEFT JOIN campaign_leads cl ON cl.campaign_id = ce.campaign_id AND cl.lead_id = ce.lead_id AND cl.workspace_id = ce.workspace_id
LEFT JOIN campaign_sequences s1
  ON s1.campaign_id = ce.campaign_id AND s1.workspace_id = ce.workspace_id AND s1.step_number = ce.step_number
LEFT JOIN campaign_sequences s2
  ON s2.campaign_id = ce.campaign_id AND s2.workspace_id = ce.workspace_id AND s2.step_number = ce.step_number + 1
LEFT JOIN LATERAL (
  SELECT own.* FROM mailboxes own WHERE own.id = ce.mailbox_id AND own.workspace_id = ce.workspace_id
  UNION ALL
  (SELECT cm_m.* FROM campaign_mailboxes cm
   JOIN mailboxes cm_m ON cm_m.id = cm.mailbox_id AND cm_m.workspace_id = cm.workspace_id
   WHERE ce.mailbox_id IS NULL AND cm.campaign_id = ce.campaign_id AND cm.workspace_id = ce.workspace_id
     AND cm_m.status = 'active'
   ORDER BY cm_m.email LIMIT 1)
) m ON true
WHERE ce.id = $1 AND ce.workspace_id = $2`;

interface LoadSendRow {
  email: Record<string, unknown>;
  campaign: Record<string, unknown> | null;
  lead: Record<string, unknown> | null;
  enrolment: Record<string, unknown> | null;
  step: Record<string, unknown> | null;
  next_step: Record<string, unknown> | null;
  mailbox: Record<string, unknown> | null;
  workspace_settings: WorkspaceRow['settings'] | null;
  has_workspace: boolean;
}

/**
 * The ledger row with its campaign, lead, enrolment, steps, mailbox and workspace settings, in one
 * statement. Same results and errors as getCampaignEmail, getCampaign, getLead, getWorkspace,
 * getEnrolment, getCampaignStep ×2 and getMailbox/listCampaignMailboxes one after the other
 * (deleted campaigns, leads and workspaces count as missing).
 */
export async function loadSendRows(db: Queryable, workspaceId: string, campaignEmailId: string): Promise<SendRows> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await (db as PreparedQueryable).query<LoadSendRow>({
    name: 'coldcopy_load_send',
    text: LOAD_SEND_SQL,
    values: [campaignEmailId, workspaceId],
  });
  const r = rows[0];
  if (!r) return refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
  const email = revive<CampaignEmailRow>(r.email)!;
  if (!r.campaign) await getCampaign(db, workspaceId, email.campaign_id);
  if (!r.lead) await getLead(db, workspaceId, email.lead_id);
  if (!r.has_workspace) await getWorkspace(db, workspaceId);
  if (!r.enrolment) await getEnrolment(db, workspaceId, email.campaign_id, email.lead_id);
  if (email.mailbox_id && !r.mailbox) await getMailbox(db, workspaceId, email.mailbox_id);
  if (!r.campaign || !r.lead || !r.has_workspace || !r.enrolment || (email.mailbox_id && !r.mailbox)) {
    // the precise lookups found it after all: it changed between the two reads
    throw new RecordNotFoundError('campaign_emails', campaignEmailId);
  }
  return {
    email,
    campaign: revive<CampaignRow>(r.campaign)!,
    lead: revive<LeadRow>(r.lead)!,
    enrolment: revive<CampaignLeadRow>(r.enrolment)!,
    step: revive<CampaignStepRow>(r.step),
    nextStep: revive<CampaignStepRow>(r.next_step),
    mailbox: revive<MailboxRow>(r.mailbox),
    workspace: { settings: r.workspace_settings ?? {} },
  };
}

export type SendClaimResult = ClaimResult | { readonly claimed: false; readonly suppressed: true };

// `(status IN (...)) IS TRUE`, here and in the other statements that pick rows by id: the same
// condition, but one that does not imply campaign_emails_due_idx's predicate, so the planner cannot
// take that index (workspace_id, status) for the lookup by id, whose scan grows with the
// workspace's backlog of scheduled rows. A generic plan made on statistics from before the ledger
// had rows did (the email bench: 561 tuples read per send through that index).
const CLAIM_UNLESS_SUPPRESSED_SQL = `
WITH sup AS (SELECT is_email_suppressed($2, $3) AS suppressed),
claimed AS (
  UPDATE campaign_emails SET status = 'sending', claimed_at = now(), attempt = attempt + 1, last_error = NULL
  WHERE id = $1 AND workspace_id = $2 AND (status IN ('scheduled', 'retryable')) IS TRUE AND NOT (SELECT suppressed FROM sup)
  RETURNING *)
SELECT sup.suppressed AS "__suppressed", claimed.* FROM sup LEFT JOIN claimed ON true`;

/**
 * claimCampaignEmail, unless the recipient is suppressed (workspace or global, is_email_suppressed)
 * at that very moment: one statement, so nothing can be suppressed between the check and the
 * claim. A suppressed recipient claims nothing (`suppressed: true`); the caller cancels the row.
 */
export async function claimCampaignEmailUnlessSuppressed(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  recipient: string,
): Promise<SendClaimResult> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await (db as PreparedQueryable).query<CampaignEmailRow & { __suppressed: boolean }>({
    name: 'coldcopy_claim_unless_suppressed',
    text: CLAIM_UNLESS_SUPPRESSED_SQL,
    values: [campaignEmailId, workspaceId, recipient],
  });
  const { __suppressed: suppressed, ...row } = rows[0]!;
  if (row.id) return { claimed: true, email: row };
  if (suppressed) {
    // refuse a foreign or missing id before saying anything about the address
    const exists = await db.query('SELECT 1 FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [campaignEmailId, workspaceId]);
    if (exists.rowCount === 0) await refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
    return { claimed: false, suppressed: true };
  }
  const current = await db.query<{ status: SendStatus }>('SELECT status FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [
    campaignEmailId,
    workspaceId,
  ]);
  if (current.rows[0]) return { claimed: false, status: current.rows[0].status };
  return refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
}

export interface RecordSent {
  readonly campaignEmailId: string;
  readonly messageId: string;
  readonly sentAt: Date;
  readonly mailboxId: string;
  readonly fromEmail: string;
  readonly subject: string;
  readonly contentHtml: string;
  readonly contentText: string;
  /** the enrolment to move on (campaign_leads.id) and the lead to mark contacted */
  readonly enrolmentId: string;
  readonly leadId: string;
  /** when the next step is due; null completes the enrolment */
  readonly nextEmailAt: Date | null;
  /**
   * The claim token (campaign_emails.attempt as the claim returned it): written only while that
   * claim holds the row, which may then also be `failed_unknown` (ClaimLostError otherwise).
   * Without it: a `sending` or `unknown` row (the SES Send event's reconciliation).
   */
  readonly claim?: number;
}

const RECORD_SENT_SQL = `
WITH sent AS (
  UPDATE campaign_emails SET
    status = 'sent', message_id = $3::text, sent_at = $4::timestamptz, mailbox_id = $5::uuid, from_email = $6::text,
    subject = $7::text, content_html = $8::text, content_text = $9::text, last_error = NULL
  WHERE id = $1::uuid AND workspace_id = $2::uuid
    AND ((status IN ('sending', 'unknown') AND $13::int IS NULL) OR (status IN ('sending', 'unknown', 'failed_unknown') AND attempt = $13::int))
    AND EXISTS (SELECT 1 FROM mailboxes WHERE id = $5::uuid AND workspace_id = $2::uuid)
  RETURNING id, campaign_id, lead_id, step_number),
event AS (
  INSERT INTO email_events (workspace_id, campaign_id, lead_id, campaign_email_id, event_type, provider,
                            provider_message_id, metadata, created_at)
  SELECT $2, sent.campaign_id, sent.lead_id, sent.id, 'sent', 'ses', $3,
         jsonb_build_object('step', sent.step_number, 'mailbox_id', $5::uuid), $4
  FROM sent),
enrolment AS (
  UPDATE campaign_leads cl SET
    current_step = greatest(cl.current_step, sent.step_number),
    email_count = cl.email_count + 1,
    last_email_at = $4,
    next_email_at = $10,
    status = CASE WHEN $10::timestamptz IS NULL THEN 'completed' ELSE 'in_progress' END
  FROM sent
  WHERE cl.id = $11::uuid AND cl.workspace_id = $2 AND cl.lead_id = sent.lead_id AND cl.campaign_id = sent.campaign_id
    AND cl.status IN ('pending', 'in_progress')),
contacted AS (
  UPDATE leads l SET
    status = CASE WHEN l.status = 'new' THEN 'contacted' ELSE l.status END,
    last_contacted_at = greatest(coalesce(l.last_contacted_at, $4), $4),
    last_activity_at = greatest(coalesce(l.last_activity_at, $4), $4)
  FROM sent
  WHERE l.id = $12::uuid AND l.workspace_id = $2 AND l.id = sent.lead_id AND l.deleted_at IS NULL)
SELECT count(*)::int AS n FROM sent`;

/**
 * SES accepted the message, recorded in ONE statement (so atomically, without BEGIN/COMMIT round
 * trips): ledger sending|unknown → sent with its message id and content, a `sent` email event, the
 * enrolment's progress (recordEnrolmentSend: only while pending or in progress; completed after the
 * last step) and the lead contacted (markLeadContacted; a deleted lead is left alone).
 *
 * Safe to repeat after a lost commit acknowledgement: a row already `sent` with this message id
 * changes nothing (no second event, no second count). Otherwise a row in another state is a
 * LedgerStateError; foreign ids are refused.
 */
export async function recordCampaignEmailSent(db: Queryable, workspaceId: string, sent: RecordSent): Promise<void> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', sent.campaignEmailId);
  assertId('mailboxes', sent.mailboxId);
  assertId('campaign_leads', sent.enrolmentId);
  assertId('leads', sent.leadId);
  let n: number;
  try {
    const { rows } = await (db as PreparedQueryable).query<{ n: number }>({
      name: 'coldcopy_record_sent',
      text: RECORD_SENT_SQL,
      values: [
        sent.campaignEmailId,
        workspaceId,
        sent.messageId,
        sent.sentAt,
        sent.mailboxId,
        sent.fromEmail,
        sent.subject,
        sent.contentHtml,
        sent.contentText,
        sent.nextEmailAt,
        sent.enrolmentId,
        sent.leadId,
        sent.claim ?? null,
      ],
    });
    n = rows[0]!.n;
  } catch (err) {
    if ((err as { code?: string }).code === '23514' && /no partition of relation/.test((err as Error).message)) {
      throw new MissingPartitionError('email_events', sent.sentAt, { cause: err });
    }
    throw err;
  }
  if (n === 1) return;
  await assertAllInWorkspace(db, 'mailboxes', workspaceId, [sent.mailboxId]);
  const current = await db.query<{ status: SendStatus; message_id: string | null; attempt: number }>(
    'SELECT status, message_id, attempt FROM campaign_emails WHERE id = $1 AND workspace_id = $2',
    [sent.campaignEmailId, workspaceId],
  );
  const row = current.rows[0];
  if (!row) return refuse(db, 'campaign_emails', workspaceId, sent.campaignEmailId);
  if (row.status === 'sent' && row.message_id === sent.messageId) return; // recorded before
  if (sent.claim !== undefined && row.attempt !== sent.claim) throw new ClaimLostError(sent.campaignEmailId, row.status, 'sent', sent.claim, row.attempt);
  throw new LedgerStateError(sent.campaignEmailId, row.status, 'sent');
}
