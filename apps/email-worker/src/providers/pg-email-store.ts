import {
  cancelCampaignEmail,
  claimCampaignEmailUnlessSuppressed,
  deferCampaignEmail,
  endEnrolment,
  expireSendingLease,
  hasConsent,
  loadSendRows,
  markCampaignEmailFailed,
  markCampaignEmailUnknown,
  type Pool,
  recordCampaignEmailSent,
  rescheduleCampaignEmail,
  setMailboxStatus,
  withTransaction,
  workspaceEmailSettings,
} from '@coldcopy/db';
import type { EmailStore } from './email-store.js';

export function createPgEmailStore(pool: Pool): EmailStore {
  return {
    async loadSend(ws, id) {
      // one statement (loadSendRows): ledger row, campaign, lead, enrolment, both steps, mailbox, workspace
      const { workspace, ...rows } = await loadSendRows(pool, ws, id);
      return { ...rows, sender: workspaceEmailSettings(workspace) };
    },
    hasMarketingConsent: (ws, leadId) => hasConsent(pool, ws, leadId, 'marketing'),
    claimUnlessSuppressed: (ws, id, recipient) => claimCampaignEmailUnlessSuppressed(pool, ws, id, recipient),
    async unclaim(ws, id, until, reason, claim) {
      await deferCampaignEmail(pool, ws, id, until, reason, claim);
    },
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
      // one statement, atomic without BEGIN/COMMIT: ledger sent, `sent` event, enrolment, lead
      await recordCampaignEmailSent(pool, ws, {
        campaignEmailId: context.email.id,
        messageId: sent.messageId,
        sentAt: sent.sentAt,
        mailboxId: sent.mailboxId,
        fromEmail: sent.fromEmail,
        subject: sent.subject,
        contentHtml: sent.html,
        contentText: sent.text,
        enrolmentId: context.enrolment.id,
        leadId: context.lead.id,
        nextEmailAt: sent.nextEmailAt,
        ...(sent.claim !== undefined ? { claim: sent.claim } : {}),
      });
    },
    async recordUnknown(ws, id, error, claim) {
      await markCampaignEmailUnknown(pool, ws, id, error, claim);
    },
    async recordFailed(ws, id, failure) {
      await withTransaction(pool, async (tx) => {
        await markCampaignEmailFailed(tx, ws, id, {
          error: failure.error,
          retryable: failure.retryable,
          ...(failure.claim !== undefined ? { claim: failure.claim } : {}),
        });
        if (failure.endEnrolmentId) await endEnrolment(tx, ws, failure.endEnrolmentId, 'failed');
      });
    },
    async pauseMailbox(ws, mailboxId, reason) {
      await setMailboxStatus(pool, ws, mailboxId, 'paused', reason);
    },
  };
}
