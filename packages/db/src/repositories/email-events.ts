import { MissingPartitionError, TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';
import type { EmailEventRow, EmailEventType, JsonObject } from '../types.js';
import { getCampaignEmail } from './campaign-emails.js';
import { assertAllInWorkspace, assertWorkspaceId } from './scope.js';

export interface NewEmailEvent {
  readonly eventType: EmailEventType;
  /** the send the event is about; campaign and lead are taken from it */
  readonly campaignEmailId?: string;
  readonly campaignId?: string;
  readonly leadId?: string;
  readonly provider?: string;
  readonly providerMessageId?: string;
  readonly providerEventId?: string;
  /** url, user agent, ip, bounce type/subtype, diagnostic, complaint feedback type, reply score */
  readonly metadata?: JsonObject;
  /** when it happened (partition key); default now */
  readonly occurredAt?: Date;
}

/**
 * Appends an event. Every referenced id must belong to the workspace; when a campaignEmailId is
 * given, campaign and lead must match the send (or are filled in from it).
 */
export async function insertEmailEvent(db: Queryable, workspaceId: string, event: NewEmailEvent): Promise<EmailEventRow> {
  assertWorkspaceId(workspaceId);
  let campaignId = event.campaignId ?? null;
  let leadId = event.leadId ?? null;
  if (event.campaignEmailId) {
    const send = await getCampaignEmail(db, workspaceId, event.campaignEmailId);
    if (campaignId && campaignId !== send.campaign_id) await assertAllInWorkspace(db, 'campaigns', workspaceId, [campaignId]);
    if (leadId && leadId !== send.lead_id) await assertAllInWorkspace(db, 'leads', workspaceId, [leadId]);
    if ((campaignId && campaignId !== send.campaign_id) || (leadId && leadId !== send.lead_id)) {
      // ids of this workspace, but not of this send: a confused payload, refuse it the same way
      throw new TenancyError('campaign_emails', send.id, workspaceId);
    }
    campaignId = send.campaign_id;
    leadId = send.lead_id;
  } else {
    if (campaignId) await assertAllInWorkspace(db, 'campaigns', workspaceId, [campaignId]);
    if (leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [leadId]);
  }
  const occurredAt = event.occurredAt ?? new Date();
  try {
    const { rows } = await db.query<EmailEventRow>(
      `INSERT INTO email_events (workspace_id, campaign_id, lead_id, campaign_email_id, event_type, provider,
                                 provider_message_id, provider_event_id, metadata, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       RETURNING *`,
      [
        workspaceId,
        campaignId,
        leadId,
        event.campaignEmailId ?? null,
        event.eventType,
        event.provider ?? null,
        event.providerMessageId ?? null,
        event.providerEventId ?? null,
        event.metadata ?? {},
        occurredAt,
      ],
    );
    return rows[0]!;
  } catch (err) {
    if ((err as { code?: string }).code === '23514' && /no partition of relation/.test((err as Error).message)) {
      throw new MissingPartitionError('email_events', occurredAt, { cause: err });
    }
    throw err;
  }
}
