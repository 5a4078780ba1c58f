import { randomUUID } from 'node:crypto';
import { type MailboxRow, RecordNotFoundError, TenancyError, type WarmupAccountRow, type WarmupCampaignRow, type WarmupDailyStatsRow } from '@coldcopy/db';
import type { WarmupStore, WarmupToAdvance, WarmupToSend } from './warmup-store.js';

/** One warm-up of the fake: the fan-out's view of a warm-up campaign, its mailbox and sender. */
export interface FakeWarmup {
  readonly id: string;
  readonly workspaceId: string;
  readonly senderAccountId: string;
  status: 'active' | 'paused' | 'completed' | 'frozen';
  mailboxStatus: 'warming' | 'active' | 'paused' | 'disabled';
  senderStatus: 'active' | 'paused' | 'disabled' | 'error';
  dayNumber: number;
  currentDailyLimit: number;
  targetDaily: number;
  maxSendsPerDay: number;
  peerIds: string[];
  /** claimed seqs by date */
  claimed: Map<string, number[]>;
  /** the previous day's stats by date */
  stats: Map<string, WarmupToAdvance['yesterday']>;
  lastBatch?: string;
  advancedOn?: string;
}

const DAY_MS = 86_400_000;

/**
 * The per-mailbox side: one warm-up of workspace `WS` (its mailbox, campaign, sender and a peer),
 * with the Postgres store's rules (@coldcopy/db warmup.ts): one claim per
 * (campaign, sender, date, seq) key, a pending claim can be released and taken again, completion
 * counts the day's sends once, freezing pauses the ramp and the mailbox and marks the day
 * unhealthy; another workspace is refused (TenancyError), an unknown id not found.
 */
function createPerMailboxHalf(WS: string) {
  const mailbox = {
    id: randomUUID(),
    workspace_id: WS,
    email: 'sales@acme.example',
    domain: 'acme.example',
    configuration_set: 'acme-warmup',
    status: 'active',
    daily_cap: 50,
    warmup_day: 3,
  } as MailboxRow;
  const campaign: WarmupCampaignRow = {
    id: randomUUID(),
    workspace_id: WS,
    mailbox_id: mailbox.id,
    status: 'active',
    day_number: 3,
    current_daily_limit: 15,
    target_daily: 40,
    paused_reason: null,
  };
  const account = (email: string, mailboxId: string): WarmupAccountRow => ({
    id: randomUUID(),
    workspace_id: WS,
    pool_id: null,
    mailbox_id: mailboxId,
    email,
    status: 'active',
    sends_today: 0,
    max_sends_per_day: 100,
  });
  const sender = account(mailbox.email, mailbox.id);
  const recipient = account('peer@peer.example', randomUUID());
  const claims = new Map<string, { id: string; key: string; subject: string; messageId?: string }>();
  const stats = new Map<string, WarmupDailyStatsRow>();
  const frozen: Array<{ date: string; reason: string }> = [];

  const store: Pick<WarmupStore, 'load' | 'stats' | 'claim' | 'release' | 'complete' | 'freeze'> = {
    async load(ws, ids) {
      // the errors of getWarmupCampaign/getWarmupAccount/getWarmupPeer
      if (ws !== WS) throw new TenancyError('workspaces', `warmup_campaigns/${ids.warmupCampaignId}`, ws);
      const accounts = new Map([sender, recipient].map((a) => [a.id, a]));
      const s = accounts.get(ids.senderAccountId);
      const r = accounts.get(ids.recipientAccountId);
      if (ids.warmupCampaignId !== campaign.id) throw new RecordNotFoundError('workspaces', `warmup_campaigns/${ids.warmupCampaignId}`);
      if (!s || !r) throw new RecordNotFoundError('workspaces', `warmup_accounts/${s ? ids.recipientAccountId : ids.senderAccountId}`);
      return { campaign, sender: s, recipient: r, mailbox };
    },
    async stats(_ws, id, date) {
      return id === campaign.id ? (stats.get(date) ?? null) : null;
    },
    async claim(_ws, claim) {
      if ([...claims.values()].some((c) => c.key === claim.key)) return null;
      const id = randomUUID();
      claims.set(id, { id, key: claim.key, subject: claim.subject });
      return id;
    },
    async release(_ws, id) {
      // only a pending claim is given back; a completed send stays claimed
      if (claims.get(id)?.messageId === undefined) claims.delete(id);
    },
    async complete(_ws, sent) {
      const claim = claims.get(sent.id);
      if (!claim || claim.messageId !== undefined) return; // already completed (a retried write)
      claim.messageId = sent.messageId;
      const day = stats.get(sent.date) ?? { date: sent.date, sent: 0, delivered: 0, bounced: 0, spam: 0, is_healthy: true };
      stats.set(sent.date, { ...day, sent: day.sent + 1 });
    },
    async freeze(_ws, _id, mailboxId, date, reason) {
      campaign.status = 'frozen';
      campaign.paused_reason = reason;
      const day = stats.get(date) ?? { date, sent: 0, delivered: 0, bounced: 0, spam: 0, is_healthy: true };
      stats.set(date, { ...day, is_healthy: false });
      if (mailboxId === mailbox.id) mailbox.status = 'paused';
      frozen.push({ date, reason });
    },
  };
  return Object.assign(store, { mailbox, campaign, sender, recipient, claims, statsByDay: stats, frozen });
}

/**
 * In-memory warm-up store with the Postgres statements' rules (@coldcopy/db warmup.ts). Fan-out side:
 * `warmups` with eligibility (active warm-up, mailbox not paused or disabled, sender active), the
 * `last_batch` and `advanced_on` guards, steps applied only from the day they started from.
 * Per-mailbox side: one warm-up of `workspaceId` (createPerMailboxHalf).
 */
export function createFakeWarmupStore(warmups: FakeWarmup[] = [], workspaceId: string = randomUUID()) {
  const byId = new Map(warmups.map((w) => [w.id, w]));
  const perMailbox = createPerMailboxHalf(workspaceId);
  const store: WarmupStore = {
    load: perMailbox.load,
    stats: perMailbox.stats,
    claim: perMailbox.claim,
    release: perMailbox.release,
    complete: perMailbox.complete,
    freeze: perMailbox.freeze,
    async warmupsToSend({ date, batchSlot, after, limit }) {
      return [...byId.values()]
        .filter((w) => w.status === 'active' && w.mailboxStatus !== 'paused' && w.mailboxStatus !== 'disabled' && w.senderStatus === 'active')
        .filter((w) => (w.lastBatch ?? '') < batchSlot && (after === undefined || w.id > after))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit)
        .map((w): WarmupToSend => ({
          warmup_campaign_id: w.id,
          workspace_id: w.workspaceId,
          sender_account_id: w.senderAccountId,
          day_number: w.dayNumber,
          daily_limit: Math.min(w.currentDailyLimit, w.targetDaily),
          max_sends_per_day: w.maxSendsPerDay,
          claimed_seqs: [...(w.claimed.get(date) ?? [])].sort((a, b) => a - b),
          peer_ids: [...w.peerIds].sort(),
        }));
    },
    async markBatched(list, batchSlot) {
      let moved = 0;
      for (const { workspaceId, warmupCampaignId } of list) {
        const w = byId.get(warmupCampaignId);
        if (!w || w.workspaceId !== workspaceId || (w.lastBatch ?? '') >= batchSlot) continue;
        w.lastBatch = batchSlot;
        moved++;
      }
      return moved;
    },
    async warmupsToAdvance({ date, after, limit }) {
      const yesterday = new Date(Date.parse(`${date}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
      return [...byId.values()]
        .filter((w) => w.status === 'active' && (w.advancedOn ?? '') < date && (after === undefined || w.id > after))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit)
        .map((w) => ({
          warmup_campaign_id: w.id,
          workspace_id: w.workspaceId,
          day_number: w.dayNumber,
          current_daily_limit: w.currentDailyLimit,
          target_daily: w.targetDaily,
          yesterday: w.stats.get(yesterday) ?? null,
        }));
    },
    async stepDays(steps, date) {
      let advanced = 0;
      let held = 0;
      for (const s of steps) {
        const w = byId.get(s.warmupCampaignId);
        if (!w || w.workspaceId !== s.workspaceId || w.status !== 'active' || w.dayNumber !== s.fromDay || (w.advancedOn ?? '') >= date) continue;
        w.dayNumber = s.day;
        w.currentDailyLimit = s.cap;
        w.advancedOn = date;
        if (s.day > s.fromDay) advanced++;
        else held++;
      }
      return { advanced, held };
    },
  };
  const { mailbox, campaign, sender, recipient, claims, statsByDay, frozen } = perMailbox;
  return Object.assign(store, { warmups: byId, mailbox, campaign, sender, recipient, claims, statsByDay, frozen });
}
