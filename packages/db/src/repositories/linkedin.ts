import type { Queryable } from '../pool.js';
import { insertUserNotice, type UserNotice } from './user-notices.js';
import { assertWorkspaceId } from './scope.js';

/**
 * LinkedIn, identity only (providers.md §10): one row per workspace member who signed in with
 * LinkedIn (OpenID Connect), holding the member's own OIDC identity and the access token's expiry.
 * Self-serve apps get no refresh token, so an expired or revoked token means the member signs in
 * again: the row stops (`expired` / `revoked`, token wiped) with a notice to that member. The token
 * reaches this module already encrypted (bytea).
 */
export interface LinkedinIntegrationRow {
  id: string;
  workspace_id: string;
  user_id: string;
  linkedin_member_id: string | null;
  access_token_encrypted: Buffer | null;
  token_key_id: string | null;
  expires_at: Date | null;
  status: 'active' | 'expired' | 'revoked';
  last_checked_at: Date | null;
}

const COLUMNS = 'id, workspace_id, user_id, linkedin_member_id, access_token_encrypted, token_key_id, expires_at, status, last_checked_at';

/** Creates or replaces a member's LinkedIn sign-in (the OAuth callback, seeds and tests); it starts active. */
export async function saveLinkedinIntegration(
  db: Queryable,
  workspaceId: string,
  row: { id?: string; userId: string; accessToken: Buffer; keyId: string; expiresAt: Date },
): Promise<LinkedinIntegrationRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<LinkedinIntegrationRow>(
    `INSERT INTO linkedin_integrations (id, workspace_id, user_id, access_token_encrypted, token_key_id, expires_at, status)
     VALUES (coalesce($2::uuid, gen_random_uuid()), $1, $3, $4, $5, $6, 'active')
     ON CONFLICT (workspace_id, user_id) DO UPDATE SET access_token_encrypted = EXCLUDED.access_token_encrypted, token_key_id = EXCLUDED.token_key_id,
       expires_at = EXCLUDED.expires_at, status = 'active'
     RETURNING ${COLUMNS}`,
    [workspaceId, row.id ?? null, row.userId, row.accessToken, row.keyId, row.expiresAt],
  );
  return rows[0]!;
}

/** The workspace's active LinkedIn sign-ins. */
export async function activeLinkedinIntegrations(db: Queryable, workspaceId: string): Promise<LinkedinIntegrationRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<LinkedinIntegrationRow>(
    `SELECT ${COLUMNS} FROM linkedin_integrations WHERE workspace_id = $1 AND status = 'active' AND access_token_encrypted IS NOT NULL ORDER BY created_at, id`,
    [workspaceId],
  );
  return rows;
}

/** The member's OIDC identity as LinkedIn answered it now. */
export async function recordLinkedinIdentity(
  db: Queryable,
  workspaceId: string,
  id: string,
  identity: { memberId: string; name: string | null; email: string | null; pictureUrl: string | null },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE linkedin_integrations SET linkedin_member_id = $3, name = $4, email = $5, picture_url = $6, last_checked_at = now()
     WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id, identity.memberId, identity.name, identity.email === null ? null : identity.email.trim().toLowerCase(), identity.pictureUrl],
  );
}

/**
 * Stops a sign-in whose token expired or was revoked (token wiped) and tells its member, in one
 * transaction's statement order; true for the call that changed the row.
 */
export async function stopLinkedinIntegration(
  db: Queryable,
  workspaceId: string,
  id: string,
  status: 'expired' | 'revoked',
  notice: UserNotice,
): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `UPDATE linkedin_integrations SET status = $3, access_token_encrypted = NULL, last_checked_at = now()
     WHERE workspace_id = $1 AND id = $2 AND status = 'active'`,
    [workspaceId, id, status],
  );
  if (!rowCount) return false;
  await insertUserNotice(db, workspaceId, notice);
  return true;
}

/** Workspaces with an active LinkedIn sign-in, a page at a time (global: the daily check's fan-out). */
export async function workspacesWithLinkedin(db: Queryable, page: { afterWorkspaceId?: string; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ workspace_id: string }>(
    `SELECT DISTINCT workspace_id FROM linkedin_integrations
     WHERE status = 'active' AND workspace_id > coalesce($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
     ORDER BY workspace_id LIMIT $2`,
    [page.afterWorkspaceId ?? null, page.limit],
  );
  return rows.map((r) => r.workspace_id);
}
