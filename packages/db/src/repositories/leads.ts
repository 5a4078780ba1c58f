import type { Queryable } from '../pool.js';
import type { LeadRow } from '../types.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/** A lead of the workspace (deleted ones count as missing). */
export async function getLead(db: Queryable, workspaceId: string, leadId: string): Promise<LeadRow> {
  assertWorkspaceId(workspaceId);
  assertId('leads', leadId);
  const { rows } = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL', [
    leadId,
    workspaceId,
  ]);
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
