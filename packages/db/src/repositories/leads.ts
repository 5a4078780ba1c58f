import type { Queryable } from '../pool.js';
import type { LeadRow } from '../types.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/** A lead of the workspace (deleted ones count as missing). */
export async function getLead(db: Queryable, workspaceId: string, leadId: string): Promise<LeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('leads', leadId);
  const { rows } = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL', [leadId, workspaceId]);
  return rows[0] ?? refuse(db, 'leads', workspaceId, leadId);
}

/** After a send: last_contacted_at, and status new → contacted (other statuses are kept). */
export async function markLeadContacted(db: Queryable, workspaceId: string, leadId: string, at: Date = new Date()): Promise<LeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('leads', leadId);
  const { rows } = await db.query<LeadRow>(
    `UPDATE leads SET
       status = CASE WHEN status = 'new' THEN 'contacted' ELSE status END,
       last_contacted_at = greatest(coalesce(last_contacted_at, $3), $3),
       last_activity_at = greatest(coalesce(last_activity_at, $3), $3)
     WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL
     RETURNING *`,
    [leadId, workspaceId, at],
  );
  return rows[0] ?? refuse(db, 'leads', workspaceId, leadId);
}

/** The lead of the workspace with this address (not deleted), or null. */
export async function findLeadIdByEmail(db: Queryable, workspaceId: string, email: string): Promise<string | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string }>('SELECT id FROM leads WHERE workspace_id = $1 AND email = $2 AND deleted_at IS NULL', [workspaceId, email]);
  return rows[0]?.id ?? null;
}

/**
 * Adds engagement points (an open, a click, a reply) to a lead, capped at `cap` (a score already
 * above the cap is kept, never lowered), and moves last_activity_at forward to `at`. A deleted
 * lead, or one of another workspace, is left alone.
 */
export async function addLeadEngagement(db: Queryable, workspaceId: string, leadId: string, points: number, cap: number, at: Date): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE leads SET
       engagement_score = greatest(engagement_score, least($4, engagement_score + $3)),
       last_activity_at = greatest(coalesce(last_activity_at, $5), $5)
     WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL`,
    [leadId, workspaceId, points, cap, at],
  );
}

/**
 * A person answered: status new|contacted → replied (other statuses are kept). Returns the lead's
 * status after the update; null for a deleted lead or one of another workspace (nothing changed).
 */
export async function markLeadReplied(db: Queryable, workspaceId: string, leadId: string): Promise<LeadRow['status'] | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ status: LeadRow['status'] }>(
    `UPDATE leads SET status = CASE WHEN status IN ('new', 'contacted') THEN 'replied' ELSE status END
     WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL RETURNING status`,
    [leadId, workspaceId],
  );
  return rows[0]?.status ?? null;
}
