import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/*
 * cache-warming (domain.md §5): read-only queries whose rows the maintenance worker copies into
 * Redis. Materialized views have no RLS: every query filters by workspace_id (domain.md §8.5).
 */

/** Workspaces worth warming: trial or active, most recently active first. */
export async function listWarmWorkspaces(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM workspaces WHERE status IN ('trial', 'active') AND deleted_at IS NULL
     ORDER BY last_active_at DESC NULLS LAST, created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

/** mv_campaign_analytics rows of the workspace's active campaigns, most recently sent first. */
export async function campaignAnalyticsForWarming(
  db: Queryable,
  workspaceId: string,
  limit: number,
): Promise<Array<Record<string, unknown> & { campaign_id: string }>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<Record<string, unknown> & { campaign_id: string }>(
    `SELECT * FROM mv_campaign_analytics WHERE workspace_id = $1 AND campaign_status = 'active'
     ORDER BY last_sent_at DESC NULLS LAST, campaign_id LIMIT $2`,
    [workspaceId, limit],
  );
  return rows;
}

/** The workspace's highest lead scores (with the lead's name and company), highest first. */
export async function topLeadScores(db: Queryable, workspaceId: string, limit: number): Promise<Array<Record<string, unknown>>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query(
    `SELECT s.lead_id, s.total, s.engagement, s.profile, s.behavior, s.intent, s.fit, s.calculated_at,
            l.first_name, l.last_name, l.company
     FROM lead_scores s JOIN leads l ON l.workspace_id = s.workspace_id AND l.id = s.lead_id
     WHERE s.workspace_id = $1 AND l.deleted_at IS NULL
     ORDER BY s.total DESC, s.lead_id LIMIT $2`,
    [workspaceId, limit],
  );
  return rows;
}

/** The workspace's mv_workspace_analytics row, or null before its first refresh. */
export async function workspaceAnalyticsForWarming(db: Queryable, workspaceId: string): Promise<Record<string, unknown> | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query(`SELECT * FROM mv_workspace_analytics WHERE workspace_id = $1`, [workspaceId]);
  return rows[0] ?? null;
}
