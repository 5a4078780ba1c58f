import {
  countCampaignEmailsSince,
  expireSendingLease,
  findEnrolmentsToSchedule,
  getCampaign,
  listCampaignMailboxes,
  listDueCampaignEmails,
  listUnsettledCampaignEmails,
  resolveUnknownCampaignEmail,
  type CampaignRow,
  type EnrolmentToSchedule,
  type MailboxRow,
  type Pool,
  scheduleCampaignEmails,
} from '@coldcopy/db';

/** What the campaign tick (send-bulk-email) reads and writes. */
export interface CampaignTickStore {
  campaign(workspaceId: string, campaignId: string): Promise<CampaignRow>;
  activeMailboxes(workspaceId: string, campaignId: string): Promise<MailboxRow[]>;
  /** ledger rows created since `since` (the campaign's daily limit) */
  sendsSince(workspaceId: string, campaignId: string, since: Date): Promise<number>;
  enrolmentsToSchedule(workspaceId: string, campaignId: string, now: Date, limit: number): Promise<EnrolmentToSchedule[]>;
  /** inserts `scheduled` rows; existing (campaign, lead, step) rows are left alone */
  schedule(workspaceId: string, campaignId: string, rows: ReadonlyArray<{ leadId: string; stepNumber: number; mailboxId: string; scheduledAt: Date }>): Promise<number>;
  dueSends(workspaceId: string, campaignId: string, before: Date, limit: number): Promise<Array<{ id: string; attempt: number }>>;
  /**
   * Settles outcomes: `sending` rows past their lease → unknown; unknown rows whose SES Send event
   * did not come within the window → failed_unknown (review) or, once, retryable (resend-once).
   */
  settle(
    workspaceId: string,
    campaignId: string,
    options: { leaseMs: number; windowMs: number; policy: 'review' | 'resend-once'; now: Date },
  ): Promise<{ expired: number; resolved: number }>;
}

export function createPgCampaignTickStore(pool: Pool): CampaignTickStore {
  return {
    campaign: (ws, id) => getCampaign(pool, ws, id),
    async activeMailboxes(ws, id) {
      return (await listCampaignMailboxes(pool, ws, id)).filter((m) => m.status === 'active');
    },
    sendsSince: (ws, id, since) => countCampaignEmailsSince(pool, ws, id, since),
    enrolmentsToSchedule: (ws, id, now, limit) => findEnrolmentsToSchedule(pool, ws, id, { now, limit }),
    async schedule(ws, id, rows) {
      const result = await scheduleCampaignEmails(
        pool,
        ws,
        id,
        rows.map((r) => ({ leadId: r.leadId, stepNumber: r.stepNumber, mailboxId: r.mailboxId, scheduledAt: r.scheduledAt })),
      );
      return result.scheduled.length;
    },
    dueSends: (ws, id, before, limit) => listDueCampaignEmails(pool, ws, id, { before, limit }),
    async settle(ws, id, { leaseMs, windowMs, policy, now }) {
      const stale = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - Math.min(leaseMs, windowMs)), limit: 500 });
      let expired = 0;
      let resolved = 0;
      for (const row of stale) {
        if (row.status === 'sending' && (await expireSendingLease(pool, ws, row.id, leaseMs))) expired++;
      }
      const overdue = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - windowMs), limit: 500 });
      for (const row of overdue) {
        if (row.status !== 'unknown') continue;
        const to = policy === 'resend-once' && row.attempt === 1 ? 'retryable' : 'failed_unknown';
        if (await resolveUnknownCampaignEmail(pool, ws, row.id, to)) resolved++;
      }
      return { expired, resolved };
    },
  };
}
