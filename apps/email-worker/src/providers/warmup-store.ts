import {
  claimWarmupEmail,
  completeWarmupEmail,
  freezeWarmupCampaign,
  getMailbox,
  getWarmupAccount,
  getWarmupCampaign,
  getWarmupDailyStats,
  getWarmupPeer,
  listWarmupsToAdvance,
  listWarmupsToSend,
  type MailboxRow,
  markWarmupsBatched,
  type Pool,
  releaseWarmupEmail,
  setMailboxStatus,
  stepWarmupDays,
  type WarmupAccountRow,
  type WarmupCampaignRow,
  type WarmupDailyStatsRow,
  type WarmupDayStep,
  type WarmupToAdvance,
  type WarmupToSend,
  withTransaction,
} from '@coldcopy/db';
import type { WarmEmailForm } from '@coldcopy/queue-core';

export interface WarmupContext {
  readonly campaign: WarmupCampaignRow;
  readonly sender: WarmupAccountRow;
  readonly recipient: WarmupAccountRow;
  readonly mailbox: MailboxRow;
}

/** A warm-up the send batch may fan out to (any workspace): ids and counts only. */
export type { WarmupToSend, WarmupToAdvance, WarmupDayStep };

/**
 * What warm-email reads and writes. The per-mailbox methods take the job's workspace first and
 * scope every statement by it; the fan-out methods (warmupsToSend, markBatched, warmupsToAdvance,
 * stepDays) select across workspaces by design (a fan-out has no tenant) and move ids and counts
 * only: each per-mailbox job then loads its rows through the scoped methods.
 */
export interface WarmupStore {
  load(workspaceId: string, ids: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string }): Promise<WarmupContext>;
  stats(workspaceId: string, warmupCampaignId: string, date: string): Promise<WarmupDailyStatsRow | null>;
  claim(
    workspaceId: string,
    claim: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string; key: string; subject: string },
  ): Promise<string | null>;
  release(workspaceId: string, id: string): Promise<void>;
  complete(
    workspaceId: string,
    sent: { id: string; messageId: string; sentAt: Date; warmupCampaignId: string; senderAccountId: string; date: string },
  ): Promise<void>;
  freeze(workspaceId: string, warmupCampaignId: string, mailboxId: string, date: string, reason: string): Promise<void>;
  /**
   * Send batch, every workspace: active warm-ups whose mailbox is not paused or disabled and
   * whose sender account is active, not yet fanned out for batch `batchSlot` (nor a later one), by
   * campaign id after `after`. Capped ones are included (claimed_seqs tells); the caller decides.
   */
  warmupsToSend(options: { date: string; batchSlot: string; after?: string; limit: number }): Promise<WarmupToSend[]>;
  /** Send batch: these warm-ups are done for `batchSlot`; returns how many moved. */
  markBatched(warmups: ReadonlyArray<{ workspaceId: string; warmupCampaignId: string }>, batchSlot: string): Promise<number>;
  /** Day advance, every workspace: active warm-ups not yet advanced (or held) for `date`. */
  warmupsToAdvance(options: { date: string; after?: string; limit: number }): Promise<WarmupToAdvance[]>;
  /**
   * Day advance: applies each step (new day and cap, or the same ones = hold) once per date,
   * guarded by the date and the day it started from, so a repeated or concurrent run changes
   * nothing twice. The sender's sends_today starts again at 0; an advanced mailbox's warmup_day
   * follows. Returns how many advanced and held.
   */
  stepDays(steps: readonly WarmupDayStep[], date: string): Promise<{ advanced: number; held: number }>;
}

/** One per-mailbox warm-email job the send batch enqueues: the job's per-mailbox form, plus its delay. */
export type WarmEmailRequest = Pick<
  Extract<WarmEmailForm, { kind: 'mailbox' }>,
  'workspaceId' | 'warmupCampaignId' | 'senderAccountId' | 'recipientAccountId' | 'dayNumber' | 'date' | 'seq' | 'traceId'
> & {
  /** spreads the batch over its hours (no top-of-hour burst) */
  readonly delayMs: number;
};

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
    warmupsToSend: (options) => listWarmupsToSend(pool, options),
    markBatched: (warmups, batchSlot) => markWarmupsBatched(pool, warmups, batchSlot),
    warmupsToAdvance: (options) => listWarmupsToAdvance(pool, options),
    stepDays: (steps, date) => stepWarmupDays(pool, steps, date),
  };
}
