import type { Queryable } from '../pool.js';
import type { SuppressionRow, SuppressionSource, SuppressionType } from '../types.js';
import { assertAllInWorkspace, assertWorkspaceId, normaliseEmail } from './scope.js';

/** True when the address is suppressed for this workspace or globally (SQL is_email_suppressed). */
export async function isEmailSuppressed(db: Queryable, workspaceId: string, email: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ suppressed: boolean }>('SELECT is_email_suppressed($1, $2) AS suppressed', [workspaceId, email]);
  return rows[0]?.suppressed === true;
}

/**
 * True when the lead has a granted, unexpired consent of this type in the workspace (SQL
 * check_consent, the latest record wins). A lead of another workspace has none.
 */
export async function hasConsent(db: Queryable, workspaceId: string, leadId: string, consentType: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ ok: boolean }>('SELECT check_consent($1, $2, $3) AS ok', [workspaceId, leadId, consentType]);
  return rows[0]?.ok === true;
}

export interface NewSuppression {
  readonly email: string;
  readonly type: SuppressionType;
  readonly source: SuppressionSource;
  readonly reason?: string;
  /** the campaign that caused it (unsubscribe link, bounce); must belong to the workspace */
  readonly campaignId?: string;
  readonly metadata?: Record<string, unknown>;
}

/**
 * Adds (or re-activates) a workspace suppression. A repeated bounce increments bounce_count. The
 * suppression list is never purged.
 */
export async function addSuppression(db: Queryable, workspaceId: string, entry: NewSuppression): Promise<SuppressionRow> {
  assertWorkspaceId(workspaceId);
  if (entry.campaignId) await assertAllInWorkspace(db, 'campaigns', workspaceId, [entry.campaignId]);
  const email = normaliseEmail(entry.email);
  if (!email.includes('@')) throw new TypeError(`not an email address: ${JSON.stringify(entry.email)}`);
  const { rows } = await db.query<SuppressionRow>(
    `INSERT INTO suppression_list (workspace_id, email, suppression_type, source, reason, campaign_id, metadata, bounce_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $3 = 'bounce' THEN 1 ELSE 0 END)
     ON CONFLICT (workspace_id, email) DO UPDATE SET
       is_active = true,
       suppression_type = EXCLUDED.suppression_type,
       source = EXCLUDED.source,
       reason = coalesce(EXCLUDED.reason, suppression_list.reason),
       campaign_id = coalesce(EXCLUDED.campaign_id, suppression_list.campaign_id),
       metadata = suppression_list.metadata || EXCLUDED.metadata,
       bounce_count = suppression_list.bounce_count + EXCLUDED.bounce_count
     RETURNING *`,
    [workspaceId, email, entry.type, entry.source, entry.reason ?? null, entry.campaignId ?? null, entry.metadata ?? {}],
  );
  return rows[0]!;
}
