import { ClaimLostError, LedgerStateError, TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';
import type { CampaignEmailRow, DeliveryStatus, JsonObject, SendStatus } from '../types.js';
import { getCampaign } from './campaigns.js';
import { assertAllInWorkspace, assertId, assertWorkspaceId, refuse } from './scope.js';

/*
 * The send ledger (email-ses-sns.md §12). One row per (campaign, lead, step): the unique claim
 * key `campaign_emails_claim_key` makes scheduling idempotent, and the status machine
 *   scheduled|retryable --claim--> sending --> sent | unknown | retryable | failed
 *   sending --defer--> scheduled;  unknown --SES event--> sent
 * makes sure a row is handed to SES at most once per claim.
 */

export interface ScheduleEmail {
  readonly leadId: string;
  readonly stepNumber: number;
  readonly scheduledAt: Date;
  readonly mailboxId?: string | null;
}

/**
 * Inserts `scheduled` rows for one campaign tick; rows whose (campaign, lead, step) already exist
 * are left alone. Returns the new rows' ids (the children to enqueue) and how many existed.
 * Every campaign, lead and mailbox id is checked against the workspace first.
 */
export async function scheduleCampaignEmails(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  emails: readonly ScheduleEmail[],
): Promise<{ scheduled: Array<{ id: string; lead_id: string; step_number: number }>; alreadyScheduled: number }> {
  await getCampaign(db, workspaceId, campaignId);
  if (emails.length === 0) return { scheduled: [], alreadyScheduled: 0 };
  await assertAllInWorkspace(
    db,
    'leads',
    workspaceId,
    emails.map((e) => e.leadId),
  );
  await assertAllInWorkspace(
    db,
    'mailboxes',
    workspaceId,
    emails.flatMap((e) => (e.mailboxId ? [e.mailboxId] : [])),
  );
  const { rows } = await db.query<{ id: string; lead_id: string; step_number: number }>(
    `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, scheduled_at, mailbox_id)
     SELECT $1, $2, t.lead_id, t.step_number, t.scheduled_at, t.mailbox_id
     FROM unnest($3::uuid[], $4::int[], $5::timestamptz[], $6::uuid[]) AS t(lead_id, step_number, scheduled_at, mailbox_id)
     ON CONFLICT ON CONSTRAINT campaign_emails_claim_key DO NOTHING
     RETURNING id, lead_id, step_number`,
    [
      workspaceId,
      campaignId,
      emails.map((e) => e.leadId),
      emails.map((e) => e.stepNumber),
      emails.map((e) => e.scheduledAt),
      emails.map((e) => e.mailboxId ?? null),
    ],
  );
  return { scheduled: rows, alreadyScheduled: emails.length - rows.length };
}

/** A ledger row of the workspace. */
export async function getCampaignEmail(db: Queryable, workspaceId: string, campaignEmailId: string): Promise<CampaignEmailRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await db.query<CampaignEmailRow>('SELECT * FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [campaignEmailId, workspaceId]);
  return rows[0] ?? refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
}

/**
 * Webhook lookup by SES message id. Null when no send has that id (yet: the row may not be
 * committed); TenancyError when the send belongs to another workspace (ColdCopy updated sends by
 * message_id alone).
 */
export async function findCampaignEmailByMessageId(db: Queryable, workspaceId: string, messageId: string): Promise<CampaignEmailRow | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<CampaignEmailRow>('SELECT * FROM campaign_emails WHERE message_id = $1 AND workspace_id = $2', [messageId, workspaceId]);
  if (rows[0]) return rows[0];
  const other = await db.query<{ id: string }>('SELECT id FROM campaign_emails WHERE message_id = $1 LIMIT 1', [messageId]);
  if (other.rows[0]) throw new TenancyError('campaign_emails', other.rows[0].id, workspaceId);
  return null;
}

export type ClaimResult = { readonly claimed: true; readonly email: CampaignEmailRow } | { readonly claimed: false; readonly status: SendStatus };

/**
 * Claim before send: scheduled|retryable → sending, claimed_at = now(), attempt + 1. Exactly one
 * concurrent caller wins; the others get `claimed: false` with the row's current status and must
 * not send.
 */
export async function claimCampaignEmail(db: Queryable, workspaceId: string, campaignEmailId: string): Promise<ClaimResult> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await db.query<CampaignEmailRow>(
    `UPDATE campaign_emails SET status = 'sending', claimed_at = now(), attempt = attempt + 1, last_error = NULL
     WHERE id = $1 AND workspace_id = $2 AND (status IN ('scheduled', 'retryable')) IS TRUE
     RETURNING *`,
    [campaignEmailId, workspaceId],
  );
  if (rows[0]) return { claimed: true, email: rows[0] };
  const current = await db.query<{ status: SendStatus }>('SELECT status FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [
    campaignEmailId,
    workspaceId,
  ]);
  if (current.rows[0]) return { claimed: false, status: current.rows[0].status };
  return refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
}

/**
 * Runs a guarded transition; when it matched nothing, reports why: another workspace, missing, or
 * a status the transition does not start from.
 */
async function transition(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  to: SendStatus,
  sql: string,
  values: unknown[],
  claim?: number,
): Promise<CampaignEmailRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await db.query<CampaignEmailRow>(sql, [campaignEmailId, workspaceId, ...values]);
  if (rows[0]) return rows[0];
  const current = await db.query<{ status: SendStatus; attempt: number }>('SELECT status, attempt FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [
    campaignEmailId,
    workspaceId,
  ]);
  const row = current.rows[0];
  if (row && claim !== undefined && row.attempt !== claim) throw new ClaimLostError(campaignEmailId, row.status, to, claim, row.attempt);
  if (row) throw new LedgerStateError(campaignEmailId, row.status, to);
  return refuse(db, 'campaign_emails', workspaceId, campaignEmailId);
}

/**
 * The fence of a write after a claim. Without a claim token: the row must be `sending`. With one
 * (campaign_emails.attempt as the claim returned it): the row must still carry that token, and may
 * also be `unknown` or `failed_unknown`, which a lease expiry or the unknown-outcome policy set
 * while the claiming attempt was stalled: it knows what happened, they only guessed. `$n` is the
 * token's parameter.
 */
const claimHeld = (n: number) =>
  `((status = 'sending' AND $${n}::int IS NULL) OR (status IN ('sending', 'unknown', 'failed_unknown') AND attempt = $${n}::int))`;

export interface SentDetails {
  readonly messageId: string;
  readonly sentAt?: Date;
  readonly mailboxId?: string | null;
  readonly fromEmail?: string;
  readonly subject?: string;
  readonly contentHtml?: string;
  readonly contentText?: string;
  readonly consentProof?: JsonObject;
  /**
   * Also from `retryable`: an SES Send event of the row's current claim that came after the row was
   * made retryable (found unsent) and before another claim (the caller checks the claim token)
   */
  readonly alsoFromRetryable?: boolean;
}

/**
 * SES accepted the message: sending|unknown (or, asked for, retryable) → sent with its message id.
 * Repeating the same call (the write is retried, never the send) returns the row unchanged.
 */
export async function markCampaignEmailSent(db: Queryable, workspaceId: string, campaignEmailId: string, details: SentDetails): Promise<CampaignEmailRow> {
  if (details.mailboxId) await assertAllInWorkspace(db, 'mailboxes', workspaceId, [details.mailboxId]);
  try {
    return await transition(
      db,
      workspaceId,
      campaignEmailId,
      'sent',
      `UPDATE campaign_emails SET
         status = 'sent', message_id = $3, sent_at = coalesce($4, now()),
         mailbox_id = coalesce($5, mailbox_id), from_email = coalesce($6, from_email), subject = coalesce($7, subject),
         content_html = coalesce($8, content_html), content_text = coalesce($9, content_text),
         consent_proof = coalesce($10, consent_proof), last_error = NULL
       WHERE id = $1 AND workspace_id = $2 AND (status IN ('sending', 'unknown') OR ($11 AND status = 'retryable'))
       RETURNING *`,
      [
        details.messageId,
        details.sentAt ?? null,
        details.mailboxId ?? null,
        details.fromEmail ?? null,
        details.subject ?? null,
        details.contentHtml ?? null,
        details.contentText ?? null,
        details.consentProof ?? null,
        details.alsoFromRetryable === true,
      ],
    );
  } catch (err) {
    if (err instanceof LedgerStateError && err.from === 'sent') {
      const row = await getCampaignEmail(db, workspaceId, campaignEmailId);
      if (row.message_id === details.messageId) return row;
    }
    throw err;
  }
}

/**
 * Ambiguous outcome (timeout, 5xx, socket error): sending → unknown. No automatic resend; the SES
 * event carrying the send_id tag moves it to sent, reconciliation to failed_unknown.
 */
export function markCampaignEmailUnknown(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  error: string,
  /** the claim token: written only while that claim holds the row (ClaimLostError otherwise) */
  claim?: number,
): Promise<CampaignEmailRow> {
  return transition(
    db,
    workspaceId,
    campaignEmailId,
    'unknown',
    `UPDATE campaign_emails SET status = 'unknown', last_error = $3
     WHERE id = $1 AND workspace_id = $2 AND status = 'sending' AND ($4::int IS NULL OR attempt = $4::int) RETURNING *`,
    [error, claim ?? null],
    claim,
  );
}

/** Definite failure: sending → retryable (throttling; a later claim may send) or failed (rejection). */
export function markCampaignEmailFailed(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  failure: { readonly error: string; readonly retryable: boolean; readonly claim?: number },
): Promise<CampaignEmailRow> {
  const to: SendStatus = failure.retryable ? 'retryable' : 'failed';
  return transition(
    db,
    workspaceId,
    campaignEmailId,
    to,
    `UPDATE campaign_emails SET status = $4, last_error = $3
     WHERE id = $1 AND workspace_id = $2 AND ${claimHeld(5)} RETURNING *`,
    [failure.error, to, failure.claim ?? null],
    failure.claim,
  );
}

/** A cap was hit after the claim: sending → scheduled at `until` (the claim is given back). */
export function deferCampaignEmail(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  until: Date,
  reason: string,
  /** the claim token: given back only while that claim holds the row (ClaimLostError otherwise) */
  claim?: number,
): Promise<CampaignEmailRow> {
  return transition(
    db,
    workspaceId,
    campaignEmailId,
    'scheduled',
    `UPDATE campaign_emails SET status = 'scheduled', scheduled_at = $3, claimed_at = NULL, last_error = $4
     WHERE id = $1 AND workspace_id = $2 AND ${claimHeld(5)} RETURNING *`,
    [until, reason, claim ?? null],
    claim,
  );
}

const DELIVERY_RANK: Record<DeliveryStatus, number> = { delivered: 1, bounced: 2, complained: 3 };

/**
 * Applies a delivery event monotonically (complained beats bounced beats delivered): a late
 * `delivered` never overwrites a bounce. Returns whether the status changed.
 */
export async function applyDeliveryStatus(
  db: Queryable,
  workspaceId: string,
  campaignEmailId: string,
  status: DeliveryStatus,
  at: Date,
  bounceType?: string,
): Promise<{ applied: boolean; email: CampaignEmailRow }> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_emails', campaignEmailId);
  const { rows } = await db.query<CampaignEmailRow>(
    `UPDATE campaign_emails SET
       delivery_status = $3,
       delivered_at = CASE WHEN $3 = 'delivered' THEN coalesce(delivered_at, $4) ELSE delivered_at END,
       bounced_at = CASE WHEN $3 = 'bounced' THEN coalesce(bounced_at, $4) ELSE bounced_at END,
       complained_at = CASE WHEN $3 = 'complained' THEN coalesce(complained_at, $4) ELSE complained_at END,
       bounce_type = CASE WHEN $3 = 'bounced' THEN coalesce($5, bounce_type) ELSE bounce_type END
     WHERE id = $1 AND workspace_id = $2
       AND coalesce(CASE delivery_status WHEN 'delivered' THEN 1 WHEN 'bounced' THEN 2 WHEN 'complained' THEN 3 END, 0) < $6
     RETURNING *`,
    [campaignEmailId, workspaceId, status, at, bounceType ?? null, DELIVERY_RANK[status]],
  );
  if (rows[0]) return { applied: true, email: rows[0] };
  return { applied: false, email: await getCampaignEmail(db, workspaceId, campaignEmailId) };
}

/** The ids a reply is matched by: a send, its campaign, lead and mailbox. */
export interface SendRef {
  readonly id: string;
  readonly campaign_id: string;
  readonly lead_id: string;
  readonly mailbox_id: string | null;
}

/** The send's ids, or null when the workspace has no such send; never refuses (a reference in mail is not a payload). */
export async function findSendRef(db: Queryable, workspaceId: string, campaignEmailId: string): Promise<SendRef | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<SendRef>('SELECT id, campaign_id, lead_id, mailbox_id FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [
    campaignEmailId,
    workspaceId,
  ]);
  return rows[0] ?? null;
}

/** Sends of the workspace with these SES message ids. */
export async function findSendRefsByMessageIds(
  db: Queryable,
  workspaceId: string,
  messageIds: readonly string[],
): Promise<Array<SendRef & { readonly message_id: string }>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<SendRef & { message_id: string }>(
    'SELECT id, campaign_id, lead_id, mailbox_id, message_id FROM campaign_emails WHERE workspace_id = $1 AND message_id = ANY($2::text[])',
    [workspaceId, messageIds],
  );
  return rows;
}

/** The latest sent email of the workspace to a lead (optionally: from these mailboxes, of this campaign), or null. */
export async function findLatestSendRef(
  db: Queryable,
  workspaceId: string,
  leadId: string,
  options: { readonly mailboxIds?: readonly string[] | null; readonly campaignId?: string | null } = {},
): Promise<SendRef | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<SendRef>(
    `SELECT id, campaign_id, lead_id, mailbox_id FROM campaign_emails
     WHERE workspace_id = $1 AND lead_id = $2 AND status = 'sent'
       AND ($3::uuid[] IS NULL OR mailbox_id = ANY($3::uuid[]))
       AND ($4::uuid IS NULL OR campaign_id = $4)
     ORDER BY sent_at DESC NULLS LAST LIMIT 1`,
    [workspaceId, leadId, options.mailboxIds ?? null, options.campaignId ?? null],
  );
  return rows[0] ?? null;
}

/** The first reply to a send: replied_at set once. True when this call set it. */
export async function markCampaignEmailReplied(db: Queryable, workspaceId: string, campaignEmailId: string, at: Date): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const first = await db.query('UPDATE campaign_emails SET replied_at = $3 WHERE id = $1 AND workspace_id = $2 AND replied_at IS NULL', [
    campaignEmailId,
    workspaceId,
    at,
  ]);
  return (first.rowCount ?? 0) > 0;
}

/**
 * Cancels the lead's sends of the campaign that are still scheduled or retryable (a reply stopped
 * the sequence); a send already claimed (`sending`) is left alone. Returns how many it cancelled.
 */
export async function cancelLeadCampaignEmails(db: Queryable, workspaceId: string, campaignId: string, leadId: string, reason: string): Promise<number> {
  assertWorkspaceId(workspaceId);
  const cancelled = await db.query(
    `UPDATE campaign_emails SET status = 'cancelled', cancelled_at = now(), cancelled_reason = $4
     WHERE workspace_id = $1 AND campaign_id = $2 AND lead_id = $3 AND status IN ('scheduled', 'retryable')`,
    [workspaceId, campaignId, leadId, reason],
  );
  return cancelled.rowCount ?? 0;
}
