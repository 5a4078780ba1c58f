import { RecordNotFoundError, type ScopedTable, TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A workspace id that is not a uuid is a programming error, not a lookup miss. */
export function assertWorkspaceId(workspaceId: string): void {
  if (typeof workspaceId !== 'string' || !UUID.test(workspaceId)) {
    throw new TypeError(`workspaceId must be a uuid, got ${JSON.stringify(workspaceId)}`);
  }
}

/** An id that is not a uuid cannot exist. */
export function assertId(table: ScopedTable, id: string): void {
  if (typeof id !== 'string' || !UUID.test(id)) throw new RecordNotFoundError(table, String(id));
}

/** Tables refuse() may look into; the name is interpolated, so it must come from this list. */
const REFUSABLE = new Set<ScopedTable>(['campaigns', 'campaign_sequences', 'campaign_leads', 'campaign_emails', 'leads', 'mailboxes']);

/**
 * Called after a statement filtered by (id, workspace_id) matched nothing: tells "belongs to
 * another workspace" (TenancyError) from "does not exist" (RecordNotFoundError). It reads only
 * the row's workspace_id, never its data.
 */
export async function refuse(db: Queryable, table: ScopedTable, workspaceId: string, id: string): Promise<never> {
  if (!REFUSABLE.has(table)) throw new Error(`refuse(): unexpected table ${table}`);
  const { rows } = await db.query<{ workspace_id: string }>(`SELECT workspace_id FROM ${table} WHERE id = $1`, [id]);
  const owner = rows[0]?.workspace_id;
  if (owner !== undefined && owner !== workspaceId) throw new TenancyError(table, id, workspaceId);
  throw new RecordNotFoundError(table, id);
}

/**
 * Asserts that every id in `ids` is a row of `table` in the workspace (one query for a batch).
 * Throws TenancyError for the first id owned by another workspace, RecordNotFoundError for one
 * that does not exist.
 *
 * One primary-key lookup per id (a LATERAL subquery with LIMIT 1 cannot be turned into a join):
 * `id = ANY($1)` with a campaign tick's 500 ids was planned as a sequential scan of the table,
 * whose cost grows with the workspace's leads, not with the batch.
 */
export async function assertAllInWorkspace(
  db: Queryable,
  table: 'campaigns' | 'leads' | 'mailboxes',
  workspaceId: string,
  ids: readonly string[],
): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return;
  for (const id of unique) assertId(table, id);
  const { rows } = await db.query<{ id: string; workspace_id: string }>(
    `SELECT u.id, r.workspace_id FROM unnest($1::uuid[]) AS u(id)
     CROSS JOIN LATERAL (SELECT t.workspace_id FROM ${table} t WHERE t.id = u.id LIMIT 1) r`,
    [unique],
  );
  const owners = new Map(rows.map((r) => [r.id, r.workspace_id]));
  for (const id of unique) {
    const owner = owners.get(id);
    if (owner === undefined) throw new RecordNotFoundError(table, id);
    if (owner !== workspaceId) throw new TenancyError(table, id, workspaceId);
  }
}

/** Lower-cases and trims an address the way the schema stores it. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
