import { RecordNotFoundError } from '../errors.js';
import type { Queryable } from '../pool.js';
import type { CampaignLeadRow, EnrolmentStatus } from '../types.js';
import { getCampaign } from './campaigns.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/** The enrolment of a lead in a campaign. */
export async function getEnrolment(db: Queryable, workspaceId: string, campaignId: string, leadId: string): Promise<CampaignLeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaigns', campaignId);
  assertId('leads', leadId);
  const { rows } = await db.query<CampaignLeadRow>('SELECT * FROM campaign_leads WHERE campaign_id = $1 AND lead_id = $2 AND workspace_id = $3', [
    campaignId,
    leadId,
    workspaceId,
  ]);
  if (rows[0]) return rows[0];
  // tell which id is foreign (campaign first, then lead) before saying "not enrolled"
  await getCampaign(db, workspaceId, campaignId);
  const lead = await db.query('SELECT 1 FROM leads WHERE id = $1 AND workspace_id = $2', [leadId, workspaceId]);
  if (lead.rowCount === 0) await refuse(db, 'leads', workspaceId, leadId);
  throw new RecordNotFoundError('campaign_leads', `${campaignId}/${leadId}`);
}

export interface DueEnrolment {
  enrolment_id: string;
  lead_id: string;
  email: string;
  status: 'pending' | 'in_progress';
  current_step: number;
  next_email_at: Date | null;
}

export interface DueEnrolmentOptions {
  /** default: now */
  readonly now?: Date;
  /** default 50 (the tick's batchSize) */
  readonly limit?: number;
}

/**
 * Enrolments of an active campaign tick that are due: pending or in progress, next_email_at
 * reached (pending rows may have none yet), lead not deleted and not suppressed (workspace or
 * global). Oldest due first. Uses the partial index on (campaign_id, status, next_email_at).
 */
export async function findDueEnrolments(db: Queryable, workspaceId: string, campaignId: string, options: DueEnrolmentOptions = {}): Promise<DueEnrolment[]> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<DueEnrolment>(
    `SELECT cl.id AS enrolment_id, cl.lead_id, l.email, cl.status, cl.current_step, cl.next_email_at
     FROM campaign_leads cl
     JOIN leads l ON l.id = cl.lead_id AND l.workspace_id = cl.workspace_id
     WHERE cl.campaign_id = $1
       AND cl.workspace_id = $2
       AND cl.status IN ('pending', 'in_progress')
       AND (cl.next_email_at IS NULL OR cl.next_email_at <= $3)
       AND l.deleted_at IS NULL
       AND l.status <> 'unsubscribed'
       AND NOT EXISTS (
         SELECT 1 FROM suppression_list s
         WHERE s.email = l.email AND s.is_active AND (s.workspace_id = cl.workspace_id OR s.is_global))
     ORDER BY cl.next_email_at NULLS FIRST, cl.id
     LIMIT $4`,
    [campaignId, workspaceId, options.now ?? new Date(), options.limit ?? 50],
  );
  return rows;
}

export interface EnrolmentProgress {
  /** the step that was just sent */
  readonly stepNumber: number;
  readonly sentAt: Date;
  /** when the next step is due; null when this was the last step (enrolment completes) */
  readonly nextEmailAt: Date | null;
}

/** After a send: step, counters, next_email_at; completes the enrolment after the last step. */
export async function recordEnrolmentSend(db: Queryable, workspaceId: string, enrolmentId: string, progress: EnrolmentProgress): Promise<CampaignLeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_leads', enrolmentId);
  const { rows } = await db.query<CampaignLeadRow>(
    `UPDATE campaign_leads SET
       current_step = greatest(current_step, $3),
       email_count = email_count + 1,
       last_email_at = $4,
       next_email_at = $5,
       status = CASE WHEN $5::timestamptz IS NULL THEN 'completed' ELSE 'in_progress' END
     WHERE id = $1 AND workspace_id = $2 AND status IN ('pending', 'in_progress')
     RETURNING *`,
    [enrolmentId, workspaceId, progress.stepNumber, progress.sentAt, progress.nextEmailAt],
  );
  if (rows[0]) return rows[0];
  // not in progress any more (replied, unsubscribed...): return it unchanged
  const current = await db.query<CampaignLeadRow>('SELECT * FROM campaign_leads WHERE id = $1 AND workspace_id = $2', [enrolmentId, workspaceId]);
  return current.rows[0] ?? refuse(db, 'campaign_leads', workspaceId, enrolmentId);
}

/** Terminal outcomes the webhook applies to an enrolment (stop_on_reply, unsubscribe, bounce). */
export type EnrolmentOutcome = Extract<EnrolmentStatus, 'replied' | 'unsubscribed' | 'bounced' | 'failed'>;

/** Ends an enrolment with an outcome and its timestamp; next_email_at is cleared. */
export async function endEnrolment(
  db: Queryable,
  workspaceId: string,
  enrolmentId: string,
  outcome: EnrolmentOutcome,
  at: Date = new Date(),
): Promise<CampaignLeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaign_leads', enrolmentId);
  const { rows } = await db.query<CampaignLeadRow>(
    `UPDATE campaign_leads SET
       status = $3,
       next_email_at = NULL,
       replied_at = CASE WHEN $3 = 'replied' THEN coalesce(replied_at, $4) ELSE replied_at END,
       unsubscribed_at = CASE WHEN $3 = 'unsubscribed' THEN coalesce(unsubscribed_at, $4) ELSE unsubscribed_at END,
       bounced_at = CASE WHEN $3 = 'bounced' THEN coalesce(bounced_at, $4) ELSE bounced_at END
     WHERE id = $1 AND workspace_id = $2
     RETURNING *`,
    [enrolmentId, workspaceId, outcome, at],
  );
  return rows[0] ?? refuse(db, 'campaign_leads', workspaceId, enrolmentId);
}

/** The enrolment of a lead in a campaign (id and status only), or null; never refuses. */
export async function findEnrolmentStatus(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  leadId: string,
): Promise<{ id: string; status: EnrolmentStatus } | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string; status: EnrolmentStatus }>(
    'SELECT id, status FROM campaign_leads WHERE workspace_id = $1 AND campaign_id = $2 AND lead_id = $3',
    [workspaceId, campaignId, leadId],
  );
  return rows[0] ?? null;
}

/** The lead replied but the enrolment goes on (stop_on_reply false): replied_at set once, status kept. */
export async function markEnrolmentReplied(db: Queryable, workspaceId: string, enrolmentId: string, at: Date): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query('UPDATE campaign_leads SET replied_at = coalesce(replied_at, $3) WHERE id = $1 AND workspace_id = $2', [enrolmentId, workspaceId, at]);
}
