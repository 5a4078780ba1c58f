import type { WarmupStore, WarmupToAdvance, WarmupToSend, WarmEmailRequest, WarmupQueue } from './warmup-store.js';

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
 * In-memory fan-out side of the warm-up store, with the Postgres statements' rules
 * (warmup-store.ts): eligibility (active warm-up, mailbox not paused or disabled, sender active),
 * the `last_batch` and `advanced_on` guards, steps applied only from the day they started from.
 * The per-mailbox methods are not implemented (warm-email.test.ts has its own store for those).
 */
export function createFakeWarmupStore(warmups: FakeWarmup[]) {
  const byId = new Map(warmups.map((w) => [w.id, w]));
  const notUsed = async (): Promise<never> => {
    throw new Error('per-mailbox methods are not part of the fan-out fake');
  };
  const store: WarmupStore = {
    load: notUsed,
    stats: notUsed,
    claim: notUsed,
    release: notUsed,
    complete: notUsed,
    freeze: notUsed,
    async warmupsToSend({ date, batchSlot, after, limit }) {
      return [...byId.values()]
        .filter((w) => w.status === 'active' && w.mailboxStatus !== 'paused' && w.mailboxStatus !== 'disabled' && w.senderStatus === 'active')
        .filter((w) => (w.lastBatch ?? '') < batchSlot && (after === undefined || w.id > after))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit)
        .map(
          (w): WarmupToSend => ({
            warmup_campaign_id: w.id,
            workspace_id: w.workspaceId,
            sender_account_id: w.senderAccountId,
            day_number: w.dayNumber,
            daily_limit: Math.min(w.currentDailyLimit, w.targetDaily),
            max_sends_per_day: w.maxSendsPerDay,
            claimed_seqs: [...(w.claimed.get(date) ?? [])].sort((a, b) => a - b),
            peer_ids: [...w.peerIds].sort(),
          }),
        );
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
  return Object.assign(store, { warmups: byId });
}

/** In-memory warm-up queue: Bull ids `warm-email.<campaign>.<sender>.<date>.<seq>`; a known id is a no-op. */
export function createFakeWarmupQueue() {
  const jobs = new Map<string, WarmEmailRequest>();
  const queue: WarmupQueue = {
    async enqueueWarmEmails(list) {
      for (const j of list) {
        const id = `warm-email.${j.warmupCampaignId}.${j.senderAccountId}.${j.date}.${j.seq}`;
        if (!jobs.has(id)) jobs.set(id, j);
      }
      return list.length;
    },
  };
  return Object.assign(queue, { jobs });
}
