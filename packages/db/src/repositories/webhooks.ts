import { TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/**
 * Webhook dedupe by provider event id (SNS MessageId, SendGrid sg_event_id). 'new' the first
 * time, 'duplicate' on a replay for the same workspace; a replay that names another workspace is
 * refused with TenancyError.
 */
export async function recordWebhookEvent(db: Queryable, workspaceId: string, provider: string, providerEventId: string): Promise<'new' | 'duplicate'> {
  assertWorkspaceId(workspaceId);
  const inserted = await db.query(
    `INSERT INTO webhook_dedupe (provider, provider_event_id, workspace_id) VALUES ($1, $2, $3)
     ON CONFLICT (provider, provider_event_id) DO NOTHING`,
    [provider, providerEventId, workspaceId],
  );
  if (inserted.rowCount === 1) return 'new';
  const { rows } = await db.query<{ workspace_id: string | null }>('SELECT workspace_id FROM webhook_dedupe WHERE provider = $1 AND provider_event_id = $2', [
    provider,
    providerEventId,
  ]);
  const owner = rows[0]?.workspace_id;
  if (owner && owner !== workspaceId) throw new TenancyError('webhook_dedupe', `${provider}:${providerEventId}`, workspaceId);
  return 'duplicate';
}
