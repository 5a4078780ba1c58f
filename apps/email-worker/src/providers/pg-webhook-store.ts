import {
  addSuppression,
  applyDeliveryStatus,
  endEnrolment,
  findSendByMessageId,
  getCampaign,
  getCampaignEmail,
  getCampaignStep,
  getEnrolment,
  getMailbox,
  insertEmailEvent,
  markCampaignEmailSent,
  markLeadContacted,
  type Pool,
  type PoolClient,
  recordEngagement,
  recordEnrolmentSend,
  recordWebhookEvent,
  sendReputation,
  setCampaignStatus,
  setMailboxStatus,
  withTransaction,
  type JsonObject,
} from '@coldcopy/db';
import { nextSendTime } from '../domain/next-send.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { WebhookStore, WebhookTarget } from './webhook-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (v: string) => UUID.test(v);

export function createPgWebhookStore(pool: Pool): WebhookStore {
  return {
    async findTarget(event) {
      const sendId = event.tags.send_id;
      const ws = event.tags.workspace_id;
      if (sendId && ws && isUuid(sendId) && isUuid(ws)) {
        // scoped lookup: a send_id of another workspace is refused (TenancyError, permanent)
        const row = await getCampaignEmail(pool, ws, sendId);
        return { workspaceId: ws, campaignEmailId: row.id, campaignId: row.campaign_id, mailboxId: row.mailbox_id };
      }
      const found = await findSendByMessageId(pool, event.messageId);
      if (!found) return null;
      const row = await getCampaignEmail(pool, found.workspace_id, found.id);
      return { workspaceId: found.workspace_id, campaignEmailId: row.id, campaignId: row.campaign_id, mailboxId: row.mailbox_id };
    },

    applyEvent(target, snsMessageId, event) {
      return withTransaction(pool, async (tx) => {
        if ((await recordWebhookEvent(tx, target.workspaceId, 'ses', snsMessageId)) === 'duplicate') return { duplicate: true, changes: [] };
        return { duplicate: false, changes: await apply(tx, target, snsMessageId, event) };
      });
    },

    reputation: (ws, of, since) => sendReputation(pool, ws, of, since),

    async pauseMailbox(ws, mailboxId, reason) {
      const mailbox = await getMailbox(pool, ws, mailboxId);
      if (mailbox.status === 'paused' || mailbox.status === 'disabled') return false;
      await setMailboxStatus(pool, ws, mailboxId, 'paused', reason);
      return true;
    },
    async pauseCampaign(ws, campaignId, reason) {
      const campaign = await getCampaign(pool, ws, campaignId);
      if (campaign.status !== 'active') return false;
      await setCampaignStatus(pool, ws, campaignId, 'paused', reason);
      return true;
    },
  };
}

async function apply(tx: PoolClient, target: WebhookTarget, snsMessageId: string, event: SesEvent): Promise<string[]> {
  const ws = target.workspaceId;
  const id = target.campaignEmailId;
  const send = await getCampaignEmail(tx, ws, id);
  const changes: string[] = [];
  const common = { campaignEmailId: id, provider: 'ses', providerMessageId: event.messageId, providerEventId: snsMessageId, occurredAt: event.occurredAt };
  const event_ = (eventType: Parameters<typeof insertEmailEvent>[2]['eventType'], metadata: JsonObject = {}) =>
    insertEmailEvent(tx, ws, { ...common, eventType, metadata });
  const enrolment = () => getEnrolment(tx, ws, send.campaign_id, send.lead_id);
  const end = async (outcome: 'bounced' | 'unsubscribed') => {
    const e = await enrolment();
    if (e.status === 'pending' || e.status === 'in_progress') {
      await endEnrolment(tx, ws, e.id, outcome, event.occurredAt);
      changes.push(`enrolment:${outcome}`);
    }
  };
  const suppress = async (emails: readonly string[], type: 'bounce' | 'complaint' | 'unsubscribe', reason: string) => {
    for (const email of new Set(emails)) {
      await addSuppression(tx, ws, { email, type, source: 'webhook', reason, campaignId: send.campaign_id, metadata: { sns_message_id: snsMessageId } });
      changes.push(`suppressed:${email}`);
    }
  };

  switch (event.type) {
    case 'Send': {
      // reconciles an unknown outcome (timeout, 5xx, a worker killed mid-send) by the send_id tag
      if (send.status === 'unknown' || send.status === 'sending') {
        await markCampaignEmailSent(tx, ws, id, { messageId: event.messageId, sentAt: event.occurredAt });
        await event_('sent', { reconciled: true });
        const campaign = await getCampaign(tx, ws, send.campaign_id);
        const next = await getCampaignStep(tx, ws, send.campaign_id, send.step_number + 1);
        await recordEnrolmentSend(tx, ws, (await enrolment()).id, {
          stepNumber: send.step_number,
          sentAt: event.occurredAt,
          nextEmailAt: nextSendTime(campaign, next, event.occurredAt),
        });
        await markLeadContacted(tx, ws, send.lead_id, event.occurredAt);
        changes.push('status:sent');
      }
      break;
    }
    case 'Delivery': {
      if ((await applyDeliveryStatus(tx, ws, id, 'delivered', event.occurredAt)).applied) changes.push('delivery_status:delivered');
      await event_('delivered', { smtp_response: event.delivery?.smtpResponse ?? null });
      break;
    }
    case 'Bounce': {
      const b = event.bounce!;
      const hard = b.type === 'Permanent';
      await event_('bounced', {
        bounce_type: b.type,
        bounce_sub_type: b.subType,
        hard,
        diagnostics: b.recipients.map((r) => ({ email: r.email, status: r.status ?? null, diagnostic: r.diagnosticCode ?? null })),
      });
      if (hard) {
        if ((await applyDeliveryStatus(tx, ws, id, 'bounced', event.occurredAt, `${b.type}/${b.subType}`)).applied) changes.push('delivery_status:bounced');
        await suppress(b.recipients.map((r) => r.email), 'bounce', `hard bounce ${b.subType}`);
        await end('bounced');
      }
      break;
    }
    case 'Complaint': {
      const c = event.complaint!;
      if ((await applyDeliveryStatus(tx, ws, id, 'complained', event.occurredAt)).applied) changes.push('delivery_status:complained');
      await event_('complained', { feedback_type: c.feedbackType ?? null, sub_type: c.subType ?? null });
      if (c.feedbackType !== 'not-spam') {
        await suppress(c.recipients, 'complaint', `complaint ${c.feedbackType ?? ''}`.trim());
        await end('unsubscribed');
      }
      break;
    }
    case 'Open':
      await recordEngagement(tx, ws, id, 'open', event.occurredAt);
      await event_('opened', { ip: event.open?.ipAddress ?? null, user_agent: event.open?.userAgent ?? null });
      changes.push('opened');
      break;
    case 'Click':
      await recordEngagement(tx, ws, id, 'click', event.occurredAt);
      await event_('clicked', { url: event.click?.link ?? null, ip: event.click?.ipAddress ?? null, user_agent: event.click?.userAgent ?? null });
      changes.push('clicked');
      break;
    case 'Reject':
      // SES refused the message after accepting the call (virus): a bounce in our vocabulary, no suppression
      await event_('bounced', { kind: 'rejected', reason: event.reject?.reason ?? null });
      changes.push('rejected');
      break;
    case 'Subscription':
      // SES list management unsubscribe (we keep our own list, but honour it anyway)
      await suppress(event.destination, 'unsubscribe', `SES subscription ${event.subscription?.source ?? ''}`.trim());
      await event_('unsubscribed', { source: event.subscription?.source ?? null, contact_list: event.subscription?.contactList ?? null });
      await end('unsubscribed');
      break;
    case 'Rendering Failure':
    case 'DeliveryDelay':
      // no ledger change: we send raw MIME (no templates), and a delay is not an outcome yet;
      // the handler logs and alerts on them
      break;
  }
  return changes;
}
