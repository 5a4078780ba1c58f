import {
  countCampaignEmailsSince,
  expireSendingLease,
  findEnrolmentsToSchedule,
  getCampaign,
  listCampaignMailboxes,
  listDueCampaignEmails,
  listUnsettledCampaignEmails,
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
  /** `sending` rows past their lease → unknown; returns how many */
  expireLeases(workspaceId: string, campaignId: string, leaseMs: number, now: Date): Promise<number>;
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
    async expireLeases(ws, id, leaseMs, now) {
      const stale = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - leaseMs), limit: 500 });
      let expired = 0;
      for (const row of stale) if (row.status === 'sending' && (await expireSendingLease(pool, ws, row.id, leaseMs))) expired++;
      return expired;
    },
  };
}
