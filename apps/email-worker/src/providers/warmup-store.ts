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
import { warmEmail, type WarmEmailForm } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';

export interface WarmupContext {
  readonly campaign: WarmupCampaignRow;
  readonly sender: WarmupAccountRow;
  readonly recipient: WarmupAccountRow;
  readonly mailbox: MailboxRow;
}

/** A warm-up the send batch may fan out to (any workspace): ids and counts only. */
export interface WarmupToSend {
  readonly warmup_campaign_id: string;
  readonly workspace_id: string;
  readonly sender_account_id: string;
  readonly day_number: number;
  /** the stored cap: least(current_daily_limit, target_daily) */
  readonly daily_limit: number;
  /** the sender account's own maximum per day */
  readonly max_sends_per_day: number;
  /** seqs of the date already claimed by this sender (sent, pending or of unknown outcome) */
  readonly claimed_seqs: readonly number[];
  /** active accounts it may send to (its pool, or its workspace without a pool), by id, at most 50 */
  readonly peer_ids: readonly string[];
}

/** An active warm-up not yet advanced to the date, with the previous day's stats (any workspace). */
export interface WarmupToAdvance {
  readonly warmup_campaign_id: string;
  readonly workspace_id: string;
  readonly day_number: number;
  readonly current_daily_limit: number;
  readonly target_daily: number;
  /** the previous day's stats; null when it sent nothing */
  readonly yesterday: Omit<WarmupDailyStatsRow, 'date'> | null;
}

/** The outcome of the advance for one warm-up: `day`/`cap` equal to the current ones = hold. */
export interface WarmupDayStep {
  readonly workspaceId: string;
  readonly warmupCampaignId: string;
  readonly fromDay: number;
  readonly day: number;
  readonly cap: number;
}

/**
 * What warm-email reads and writes. The per-mailbox methods take the job's workspace first and
 * scope every statement by it; the fan-out methods (warmupsToSend, markBatched, warmupsToAdvance,
 * stepDays) select across workspaces by design (a fan-out has no tenant) and move ids and counts
 * only: each per-mailbox job then loads its rows through the scoped methods.
 */
export interface WarmupStore {
  load(workspaceId: string, ids: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string }): Promise<WarmupContext>;
  stats(workspaceId: string, warmupCampaignId: string, date: string): Promise<WarmupDailyStatsRow | null>;
  claim(workspaceId: string, claim: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string; key: string; subject: string }): Promise<string | null>;
  release(workspaceId: string, id: string): Promise<void>;
  complete(workspaceId: string, sent: { id: string; messageId: string; sentAt: Date; warmupCampaignId: string; senderAccountId: string; date: string }): Promise<void>;
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

/** Where the send batch puts per-mailbox warm-email jobs. */
export interface WarmupQueue {
  /**
   * Enqueues per-mailbox warm-email jobs keyed `warm:{campaign}:{sender}:{date}:{seq}` (Bull id
   * `warm-email.<campaign>.<sender>.<date>.<seq>`): a job whose id is still known to Redis is not
   * added again. Returns how many were handed over.
   */
  enqueueWarmEmails(jobs: readonly WarmEmailRequest[]): Promise<number>;
}

/** The real queue: the worker's producer, one addBulk per call (producer.enqueueBulk). */
export function createProducerWarmupQueue(producer: Producer): WarmupQueue {
  return {
    async enqueueWarmEmails(jobs) {
      if (jobs.length === 0) return 0;
      const added = await producer.enqueueBulk(
        warmEmail,
        jobs.map((j) => ({
          data: {
            workspaceId: j.workspaceId,
            warmupCampaignId: j.warmupCampaignId,
            senderAccountId: j.senderAccountId,
            recipientAccountId: j.recipientAccountId,
            dayNumber: j.dayNumber,
            date: j.date,
            seq: j.seq,
            requestedBy: 'system',
            ...(j.traceId !== undefined ? { traceId: j.traceId } : {}),
          },
          options: j.delayMs > 0 ? { delay: Math.round(j.delayMs) } : {},
        })),
      );
      return added.length;
    },
  };
}

// The fan-out statements below belong in @coldcopy/db (repositories/warmup.ts); they live here
// until that package grows them. They select across workspaces (ids and counts only) and join on
// workspace_id wherever two tenant tables meet.
//
// The two fan-out guards are kept in warmup_campaigns.schedule (jsonb), which has no columns for
// them yet: `last_batch` (the last send batch fanned out, a time slot; slots sort as text) and
// `advanced_on` (the last date the ramp was advanced or held for). They are merged into the
// object (`||`), never replacing it; they belong in columns once @coldcopy/db adds them.

const WARMUPS_TO_SEND = `
  SELECT wc.id AS warmup_campaign_id, wc.workspace_id, sa.id AS sender_account_id, wc.day_number,
    least(wc.current_daily_limit, wc.target_daily) AS daily_limit, sa.max_sends_per_day,
    coalesce((
      SELECT array_agg(split_part(e.thread_id, ':', 4)::int ORDER BY 1) FROM warmup_emails e
      WHERE e.warmup_campaign_id = wc.id AND e.workspace_id = wc.workspace_id
        AND e.thread_id LIKE wc.id::text || ':' || sa.id::text || ':' || $1 || ':%'
        AND split_part(e.thread_id, ':', 4) ~ '^[0-9]{1,6}$'), '{}') AS claimed_seqs,
    coalesce((
      SELECT array_agg(p.id ORDER BY p.id) FROM (
        SELECT a.id FROM warmup_accounts a LEFT JOIN warmup_pools pl ON pl.id = a.pool_id
        WHERE a.id <> sa.id AND a.status = 'active'
          AND CASE WHEN sa.pool_id IS NULL THEN a.workspace_id = wc.workspace_id AND a.pool_id IS NULL
                   ELSE a.pool_id = sa.pool_id AND pl.is_active AND (a.workspace_id = wc.workspace_id OR pl.workspace_id IS NULL) END
        ORDER BY a.id LIMIT 50) p), '{}') AS peer_ids
  FROM warmup_campaigns wc
  JOIN mailboxes m ON m.id = wc.mailbox_id AND m.workspace_id = wc.workspace_id
  JOIN warmup_accounts sa ON sa.mailbox_id = wc.mailbox_id AND sa.workspace_id = wc.workspace_id
  WHERE wc.status = 'active' AND m.status NOT IN ('paused', 'disabled') AND sa.status = 'active'
    AND coalesce(wc.schedule->>'last_batch', '') < $2
    AND ($3::uuid IS NULL OR wc.id > $3::uuid)
  ORDER BY wc.id
  LIMIT $4`;

const MARK_BATCHED = `
  UPDATE warmup_campaigns wc SET schedule = wc.schedule || jsonb_build_object('last_batch', $3::text)
  FROM unnest($1::uuid[], $2::uuid[]) AS t(workspace_id, id)
  WHERE wc.id = t.id AND wc.workspace_id = t.workspace_id AND coalesce(wc.schedule->>'last_batch', '') < $3`;

const WARMUPS_TO_ADVANCE = `
  SELECT wc.id AS warmup_campaign_id, wc.workspace_id, wc.day_number, wc.current_daily_limit, wc.target_daily,
    CASE WHEN s.id IS NULL THEN NULL
         ELSE json_build_object('sent', s.sent, 'delivered', s.delivered, 'bounced', s.bounced, 'spam', s.spam, 'is_healthy', s.is_healthy) END AS yesterday
  FROM warmup_campaigns wc
  LEFT JOIN warmup_daily_stats s
    ON s.warmup_campaign_id = wc.id AND s.workspace_id = wc.workspace_id AND s.date = $1::text::date - 1
  WHERE wc.status = 'active' AND coalesce(wc.schedule->>'advanced_on', '') < $1::text
    AND ($2::uuid IS NULL OR wc.id > $2::uuid)
  ORDER BY wc.id
  LIMIT $3`;

const STEP_DAYS = `
  WITH t AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[]) AS t(workspace_id, id, from_day, day, cap)
  ), moved AS (
    UPDATE warmup_campaigns wc SET day_number = t.day, current_daily_limit = t.cap,
      schedule = wc.schedule || jsonb_build_object('advanced_on', $6::text)
    FROM t
    WHERE wc.id = t.id AND wc.workspace_id = t.workspace_id AND wc.status = 'active' AND wc.day_number = t.from_day
      AND coalesce(wc.schedule->>'advanced_on', '') < $6
    RETURNING wc.workspace_id, wc.mailbox_id, wc.day_number, t.day > t.from_day AS advanced
  ), boxes AS (
    UPDATE mailboxes m SET warmup_day = moved.day_number
    FROM moved WHERE moved.advanced AND m.id = moved.mailbox_id AND m.workspace_id = moved.workspace_id
    RETURNING m.id
  ), accounts AS (
    UPDATE warmup_accounts a SET sends_today = 0
    FROM moved WHERE a.mailbox_id = moved.mailbox_id AND a.workspace_id = moved.workspace_id
    RETURNING a.id
  )
  SELECT count(*) FILTER (WHERE advanced)::int AS advanced, count(*) FILTER (WHERE NOT advanced)::int AS held FROM moved`;

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
    async warmupsToSend({ date, batchSlot, after, limit }) {
      const { rows } = await pool.query<WarmupToSend>(WARMUPS_TO_SEND, [date, batchSlot, after ?? null, limit]);
      return rows;
    },
    async markBatched(warmups, batchSlot) {
      if (warmups.length === 0) return 0;
      const result = await pool.query(MARK_BATCHED, [warmups.map((w) => w.workspaceId), warmups.map((w) => w.warmupCampaignId), batchSlot]);
      return result.rowCount ?? 0;
    },
    async warmupsToAdvance({ date, after, limit }) {
      const { rows } = await pool.query<WarmupToAdvance>(WARMUPS_TO_ADVANCE, [date, after ?? null, limit]);
      return rows;
    },
    async stepDays(steps, date) {
      if (steps.length === 0) return { advanced: 0, held: 0 };
      const { rows } = await pool.query<{ advanced: number; held: number }>(STEP_DAYS, [
        steps.map((s) => s.workspaceId),
        steps.map((s) => s.warmupCampaignId),
        steps.map((s) => s.fromDay),
        steps.map((s) => s.day),
        steps.map((s) => s.cap),
        date,
      ]);
      return rows[0] ?? { advanced: 0, held: 0 };
    },
  };
}
