import {
  claimWarmupEmail,
  completeWarmupEmail,
  freezeWarmupCampaign,
  getMailbox,
  getWarmupAccount,
  getWarmupCampaign,
  getWarmupDailyStats,
  getWarmupPeer,
  type MailboxRow,
  type Pool,
  releaseWarmupEmail,
  setMailboxStatus,
  type WarmupAccountRow,
  type WarmupCampaignRow,
  type WarmupDailyStatsRow,
  withTransaction,
} from '@coldcopy/db';

export interface WarmupContext {
  readonly campaign: WarmupCampaignRow;
  readonly sender: WarmupAccountRow;
  readonly recipient: WarmupAccountRow;
  readonly mailbox: MailboxRow;
}

/** What warm-email reads and writes. */
export interface WarmupStore {
  load(workspaceId: string, ids: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string }): Promise<WarmupContext>;
  stats(workspaceId: string, warmupCampaignId: string, date: string): Promise<WarmupDailyStatsRow | null>;
  claim(workspaceId: string, claim: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string; key: string; subject: string }): Promise<string | null>;
  release(workspaceId: string, id: string): Promise<void>;
  complete(workspaceId: string, sent: { id: string; messageId: string; sentAt: Date; warmupCampaignId: string; senderAccountId: string; date: string }): Promise<void>;
  freeze(workspaceId: string, warmupCampaignId: string, mailboxId: string, date: string, reason: string): Promise<void>;
}

export function createPgWarmupStore(pool: Pool): WarmupStore {
  return {
    async load(ws, ids) {
      const campaign = await getWarmupCampaign(pool, ws, ids.warmupCampaignId);
      const sender = await getWarmupAccount(pool, ws, ids.senderAccountId);
      const recipient = await getWarmupPeer(pool, ws, sender, ids.recipientAccountId);
      const mailbox = await getMailbox(pool, ws, campaign.mailbox_id);
      return { campaign, sender, recipient, mailbox };
    },
    stats: (ws, id, date) => getWarmupDailyStats(pool, ws, id, date),
    claim: (ws, claim) => withTransaction(pool, (tx) => claimWarmupEmail(tx, ws, claim)),
    release: (ws, id) => releaseWarmupEmail(pool, ws, id),
    complete: (ws, sent) => completeWarmupEmail(pool, ws, sent),
    async freeze(ws, warmupCampaignId, mailboxId, date, reason) {
      await freezeWarmupCampaign(pool, ws, warmupCampaignId, date, reason);
      await setMailboxStatus(pool, ws, mailboxId, 'paused', reason);
    },
  };
}
