import type { Queryable } from '../pool.js';
import { LEAD_ANONYMIZED_SET } from './retention.js';
import { assertWorkspaceId } from './scope.js';

/**
 * Deleting a lead, and erasing one (GDPR), with the CRMs told in the same transaction
 * (providers.md §11.7, §11.8): for every active CRM connection of the workspace an outbox row,
 * `delete` (HubSpot archives the contact, Salesforce deletes the record) or `privacy_delete`
 * (HubSpot's GDPR delete), is added by the statement that changes the lead. A drain of a lead
 * that was never synced settles without a call.
 */

export type LeadDeletionOrigin = 'hubspot' | 'salesforce';

/**
 * Outbox `operation` rows (object_type contacts) for these leads, one per active CRM connection of
 * the workspace, except the provider the deletion came from (it already holds it).
 */
async function enqueueCrmDeletions(
  db: Queryable,
  workspaceId: string,
  operation: 'delete' | 'privacy_delete',
  leadIds: readonly string[],
  origin?: LeadDeletionOrigin,
): Promise<void> {
  if (leadIds.length === 0) return;
  await db.query(
    `INSERT INTO integration_outbox (workspace_id, provider, object_type, operation, local_id)
     SELECT $1, c.provider, 'contacts', $2, l.id
     FROM integration_connections c CROSS JOIN unnest($3::uuid[]) AS l(id)
     WHERE c.workspace_id = $1 AND c.status = 'active' AND c.provider IN ('hubspot', 'salesforce') AND c.provider IS DISTINCT FROM $4
     ON CONFLICT (workspace_id, provider, object_type, local_id, operation) WHERE status = 'pending'
     DO UPDATE SET change_seq = integration_outbox.change_seq + 1`,
    [workspaceId, operation, [...new Set(leadIds)], origin ?? null],
  );
}

/**
 * Soft-deletes leads of the workspace (kept, `deleted_at` set) and queues their deletion in the
 * CRMs. Leads already deleted are left alone. Returns the ids deleted now. Call it in a
 * transaction when it goes with other writes.
 */
export async function softDeleteLeads(db: Queryable, workspaceId: string, leadIds: readonly string[], origin?: LeadDeletionOrigin): Promise<string[]> {
  assertWorkspaceId(workspaceId);
  if (leadIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `UPDATE leads SET deleted_at = now() WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL RETURNING id`,
    [workspaceId, [...new Set(leadIds)]],
  );
  const ids = rows.map((r) => r.id);
  await enqueueCrmDeletions(db, workspaceId, 'delete', ids, origin);
  return ids;
}

export interface LeadErasure {
  /** who asked: a user (then actorUserId) or the system (a CRM's privacy deletion) */
  readonly actorType: 'user' | 'system';
  readonly actorUserId?: string;
  /** where the request came from, for the audit row (e.g. `hubspot:contact.privacyDeletion`) */
  readonly source: string;
  /** the CRM the erasure came from: it is not sent a privacy deletion back */
  readonly origin?: LeadDeletionOrigin;
}

/**
 * GDPR erasure of leads (domain.md §7): the original address is captured first and suppressed
 * (`gdpr_request`), the lead's personal data is replaced by the placeholders, the lead is
 * soft-deleted, a privacy deletion is queued for every other active CRM connection, and one
 * gdpr_audit_logs row per lead names the actor. Already erased leads are left alone. Must run in
 * a transaction (the caller's). Returns the ids erased now.
 *
 * Not covered here: the copies in email_events, campaign_emails content, threads and messages,
 * AI analyses, enrichment and consent rows.
 */
export async function eraseLeads(tx: Queryable, workspaceId: string, leadIds: readonly string[], erasure: LeadErasure): Promise<string[]> {
  assertWorkspaceId(workspaceId);
  if (leadIds.length === 0) return [];
  if (erasure.actorType === 'user' && !erasure.actorUserId) throw new TypeError('a user erasure names its actorUserId');
  const { rows } = await tx.query<{ id: string }>(
    `WITH subject AS (
       SELECT id, lower(btrim(email)) AS email FROM leads
       WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND anonymized_at IS NULL FOR UPDATE),
     suppressed AS (
       INSERT INTO suppression_list (workspace_id, email, suppression_type, reason, source)
       SELECT DISTINCT $1::uuid, s.email, 'gdpr_request', 'erasure', 'api' FROM subject s
       ON CONFLICT (workspace_id, email) DO UPDATE SET is_active = true),
     erased AS (
       UPDATE leads t SET ${LEAD_ANONYMIZED_SET}, deleted_at = coalesce(t.deleted_at, now())
       FROM subject s WHERE t.workspace_id = $1 AND t.id = s.id
       RETURNING t.id),
     audit AS (
       INSERT INTO gdpr_audit_logs (workspace_id, actor_user_id, actor_type, action, resource_type, resource_id, lead_id, details)
       SELECT $1, $3, $4, 'erasure', 'leads', e.id::text, e.id, jsonb_build_object('source', $5::text) FROM erased e)
     SELECT id FROM erased`,
    [workspaceId, [...new Set(leadIds)], erasure.actorUserId ?? null, erasure.actorType, erasure.source],
  );
  const ids = rows.map((r) => r.id);
  await enqueueCrmDeletions(tx, workspaceId, 'privacy_delete', ids, erasure.origin);
  return ids;
}
