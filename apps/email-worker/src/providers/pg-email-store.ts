import {
  cancelCampaignEmail,
  claimCampaignEmail,
  endEnrolment,
  expireSendingLease,
  getCampaign,
  getCampaignEmail,
  getCampaignStep,
  getEnrolment,
  getLead,
  getMailbox,
  getWorkspace,
  insertEmailEvent,
  isEmailSuppressed,
  listCampaignMailboxes,
  markCampaignEmailFailed,
  markCampaignEmailSent,
  markCampaignEmailUnknown,
  markLeadContacted,
  type Pool,
  recordEnrolmentSend,
  rescheduleCampaignEmail,
  setMailboxStatus,
  withTransaction,
  workspaceEmailSettings,
} from '@coldcopy/db';
import type { EmailStore } from './email-store.js';

export function createPgEmailStore(pool: Pool): EmailStore {
  return {
    async loadSend(ws, id) {
      const email = await getCampaignEmail(pool, ws, id);
      const [campaign, lead, workspace, step, nextStep] = await Promise.all([
        getCampaign(pool, ws, email.campaign_id),
        getLead(pool, ws, email.lead_id),
        getWorkspace(pool, ws),
        getCampaignStep(pool, ws, email.campaign_id, email.step_number),
        getCampaignStep(pool, ws, email.campaign_id, email.step_number + 1),
      ]);
      const enrolment = await getEnrolment(pool, ws, email.campaign_id, email.lead_id);
      // the row's own mailbox, else the campaign's first active one; the handler checks its status
      const mailbox = email.mailbox_id
        ? await getMailbox(pool, ws, email.mailbox_id)
        : ((await listCampaignMailboxes(pool, ws, email.campaign_id)).find((m) => m.status === 'active') ?? null);
      return { email, campaign, lead, enrolment, step, nextStep, mailbox, sender: workspaceEmailSettings(workspace) };
    },
    isSuppressed: (ws, email) => isEmailSuppressed(pool, ws, email),
    async hasMarketingConsent(ws, leadId) {
      const { rows } = await pool.query<{ ok: boolean }>("SELECT check_consent($1, $2, 'marketing') AS ok", [ws, leadId]);
      return rows[0]?.ok === true;
    },
    claim: (ws, id) => claimCampaignEmail(pool, ws, id),
    async reschedule(ws, id, until, reason) {
      return (await rescheduleCampaignEmail(pool, ws, id, until, reason)) !== null;
    },
    async cancel(ws, id, reason, options) {
      await withTransaction(pool, async (tx) => {
        await cancelCampaignEmail(tx, ws, id, reason);
        if (options?.endEnrolmentId) await endEnrolment(tx, ws, options.endEnrolmentId, 'failed');
      });
    },
    async expireLease(ws, id, leaseMs) {
      return (await expireSendingLease(pool, ws, id, leaseMs)) !== null;
    },
    async recordSent(ws, context, sent) {
      await withTransaction(pool, async (tx) => {
        await markCampaignEmailSent(tx, ws, context.email.id, {
          messageId: sent.messageId,
          sentAt: sent.sentAt,
          mailboxId: sent.mailboxId,
          fromEmail: sent.fromEmail,
          subject: sent.subject,
          contentHtml: sent.html,
          contentText: sent.text,
        });
        await insertEmailEvent(tx, ws, {
          eventType: 'sent',
          campaignEmailId: context.email.id,
          provider: 'ses',
          providerMessageId: sent.messageId,
          occurredAt: sent.sentAt,
          metadata: { step: context.email.step_number, mailbox_id: sent.mailboxId },
        });
        await recordEnrolmentSend(tx, ws, context.enrolment.id, {
          stepNumber: context.email.step_number,
          sentAt: sent.sentAt,
          nextEmailAt: sent.nextEmailAt,
        });
        await markLeadContacted(tx, ws, context.lead.id, sent.sentAt);
      });
    },
    async recordUnknown(ws, id, error) {
      await markCampaignEmailUnknown(pool, ws, id, error);
    },
    async recordFailed(ws, id, failure) {
      await withTransaction(pool, async (tx) => {
        await markCampaignEmailFailed(tx, ws, id, { error: failure.error, retryable: failure.retryable });
        if (failure.endEnrolmentId) await endEnrolment(tx, ws, failure.endEnrolmentId, 'failed');
      });
    },
    async pauseMailbox(ws, mailboxId, reason) {
      await setMailboxStatus(pool, ws, mailboxId, 'paused', reason);
    },
  };
}
