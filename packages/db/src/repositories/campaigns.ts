import type { Queryable } from '../pool.js';
import type { CampaignRow, CampaignStatus, CampaignStepRow, MailboxRow } from '../types.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/** A campaign of the workspace (deleted ones count as missing). */
export async function getCampaign(db: Queryable, workspaceId: string, campaignId: string): Promise<CampaignRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaigns', campaignId);
  const { rows } = await db.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL', [campaignId, workspaceId]);
  return rows[0] ?? refuse(db, 'campaigns', workspaceId, campaignId);
}

/** The campaign's steps in order. */
export async function listCampaignSteps(db: Queryable, workspaceId: string, campaignId: string): Promise<CampaignStepRow[]> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<CampaignStepRow>('SELECT * FROM campaign_sequences WHERE campaign_id = $1 AND workspace_id = $2 ORDER BY step_number', [
    campaignId,
    workspaceId,
  ]);
  return rows;
}

/** One step, or null when the campaign has no such step (the sequence ended). */
export async function getCampaignStep(db: Queryable, workspaceId: string, campaignId: string, stepNumber: number): Promise<CampaignStepRow | null> {
  assertWorkspaceId(workspaceId);
  assertId('campaigns', campaignId);
  const { rows } = await db.query<CampaignStepRow>('SELECT * FROM campaign_sequences WHERE campaign_id = $1 AND workspace_id = $2 AND step_number = $3', [
    campaignId,
    workspaceId,
    stepNumber,
  ]);
  if (rows[0]) return rows[0];
  await getCampaign(db, workspaceId, campaignId); // throws TenancyError / RecordNotFoundError
  return null;
}

/** Mailboxes assigned to the campaign, active ones first. */
export async function listCampaignMailboxes(db: Queryable, workspaceId: string, campaignId: string): Promise<MailboxRow[]> {
  await getCampaign(db, workspaceId, campaignId);
  const { rows } = await db.query<MailboxRow>(
    `SELECT m.* FROM campaign_mailboxes cm
     JOIN mailboxes m ON m.id = cm.mailbox_id AND m.workspace_id = cm.workspace_id
     WHERE cm.campaign_id = $1 AND cm.workspace_id = $2
     ORDER BY (m.status = 'active') DESC, m.email`,
    [campaignId, workspaceId],
  );
  return rows;
}

/**
 * Moves a campaign to a status (start, pause with a reason, complete). started_at is set on the
 * first activation, completed_at on completion. Returns the updated row.
 */
export async function setCampaignStatus(
  db: Queryable,
  workspaceId: string,
  campaignId: string,
  status: CampaignStatus,
  pausedReason?: string,
): Promise<CampaignRow> {
  assertWorkspaceId(workspaceId);
  assertId('campaigns', campaignId);
  const { rows } = await db.query<CampaignRow>(
    `UPDATE campaigns SET
       status = $3,
       paused_reason = CASE WHEN $3 = 'paused' THEN $4 ELSE NULL END,
       started_at = CASE WHEN $3 = 'active' THEN coalesce(started_at, now()) ELSE started_at END,
       completed_at = CASE WHEN $3 = 'completed' THEN coalesce(completed_at, now()) ELSE completed_at END
     WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL
     RETURNING *`,
    [campaignId, workspaceId, status, pausedReason ?? null],
  );
  return rows[0] ?? refuse(db, 'campaigns', workspaceId, campaignId);
}

/** The campaign's settings, deleted campaigns included (a reply to one is still a reply); null when the workspace has no such campaign. */
export async function findCampaignSettings(db: Queryable, workspaceId: string, campaignId: string): Promise<CampaignRow['settings'] | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ settings: CampaignRow['settings'] }>('SELECT settings FROM campaigns WHERE id = $1 AND workspace_id = $2', [
    campaignId,
    workspaceId,
  ]);
  return rows[0]?.settings ?? null;
}
