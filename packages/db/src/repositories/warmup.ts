import { RecordNotFoundError, TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/*
 * Warm-up (domain.md §1 "Warm-up"): the ramp lives in Postgres (campaign, day number, daily
 * stats); Redis only counts. Rows are scoped by workspace; the recipient of a warm-up email may
 * belong to another workspace only through a shared pool.
 */

export interface WarmupCampaignRow {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  status: 'active' | 'paused' | 'completed' | 'frozen';
  day_number: number;
  current_daily_limit: number;
  target_daily: number;
  paused_reason: string | null;
}

export interface WarmupAccountRow {
  id: string;
  workspace_id: string;
  pool_id: string | null;
  mailbox_id: string;
  email: string;
  status: 'active' | 'paused' | 'disabled' | 'error';
  sends_today: number;
  max_sends_per_day: number;
}

export interface WarmupDailyStatsRow {
  date: string;
  sent: number;
  delivered: number;
  bounced: number;
  spam: number;
  is_healthy: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function scoped<T>(db: Queryable, table: 'warmup_campaigns' | 'warmup_accounts', workspaceId: string, id: string): Promise<T> {
  assertWorkspaceId(workspaceId);
  if (!UUID.test(id)) throw new RecordNotFoundError('workspaces', `${table}/${id}`);
  const { rows } = await db.query(`SELECT * FROM ${table} WHERE id = $1 AND workspace_id = $2`, [id, workspaceId]);
  if (rows[0]) return rows[0] as T;
  const other = await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
  if (other.rowCount) throw new TenancyError('workspaces', `${table}/${id}`, workspaceId);
  throw new RecordNotFoundError('workspaces', `${table}/${id}`);
}

export function getWarmupCampaign(db: Queryable, workspaceId: string, id: string): Promise<WarmupCampaignRow> {
  return scoped(db, 'warmup_campaigns', workspaceId, id);
}

export function getWarmupAccount(db: Queryable, workspaceId: string, id: string): Promise<WarmupAccountRow> {
  return scoped(db, 'warmup_accounts', workspaceId, id);
}

/**
 * The recipient account of a warm-up email: in the sender's workspace, or in the same pool as the
 * sender when that pool is shared (workspace_id NULL). Anything else is refused.
 */
export async function getWarmupPeer(db: Queryable, workspaceId: string, sender: WarmupAccountRow, recipientId: string): Promise<WarmupAccountRow> {
  assertWorkspaceId(workspaceId);
  if (sender.workspace_id !== workspaceId) throw new TenancyError('workspaces', `warmup_accounts/${sender.id}`, workspaceId);
  if (!UUID.test(recipientId)) throw new RecordNotFoundError('workspaces', `warmup_accounts/${recipientId}`);
  const { rows } = await db.query<WarmupAccountRow>(
    `SELECT a.* FROM warmup_accounts a
     LEFT JOIN warmup_pools p ON p.id = a.pool_id
     WHERE a.id = $1 AND (a.workspace_id = $2 OR (a.pool_id = $3 AND p.workspace_id IS NULL))`,
    [recipientId, workspaceId, sender.pool_id],
  );
  if (rows[0]) return rows[0];
  const other = await db.query('SELECT 1 FROM warmup_accounts WHERE id = $1', [recipientId]);
  if (other.rowCount) throw new TenancyError('workspaces', `warmup_accounts/${recipientId}`, workspaceId);
  throw new RecordNotFoundError('workspaces', `warmup_accounts/${recipientId}`);
}

/**
 * Claims one warm-up send by its slot key before the SES call; returns the row id, or null when
 * the slot was claimed before. The key is kept in `thread_id` (message_id later holds the SES id);
 * an advisory lock on the key serialises concurrent claims, so CALL IT INSIDE A TRANSACTION.
 */
export async function claimWarmupEmail(
  db: Queryable,
  workspaceId: string,
  claim: { warmupCampaignId: string; senderAccountId: string; recipientAccountId: string; key: string; subject: string },
): Promise<string | null> {
  await getWarmupCampaign(db, workspaceId, claim.warmupCampaignId);
  await getWarmupAccount(db, workspaceId, claim.senderAccountId);
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`warmup:${claim.key}`]);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO warmup_emails (workspace_id, warmup_campaign_id, sender_account_id, recipient_account_id, message_id, thread_id, subject)
     SELECT $1, $2, $3, $4, $5, $6, $7
     WHERE NOT EXISTS (SELECT 1 FROM warmup_emails WHERE warmup_campaign_id = $2 AND thread_id = $6)
     ON CONFLICT (message_id) DO NOTHING RETURNING id`,
    [workspaceId, claim.warmupCampaignId, claim.senderAccountId, claim.recipientAccountId, `pending:${claim.key}`, claim.key, claim.subject],
  );
  return rows[0]?.id ?? null;
}

/** The send did not happen (definite SES refusal): the claim is given back so a retry may send. */
export async function releaseWarmupEmail(db: Queryable, workspaceId: string, id: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`DELETE FROM warmup_emails WHERE id = $1 AND workspace_id = $2 AND message_id LIKE 'pending:%'`, [id, workspaceId]);
}

/** Sent: the SES message id, the sender's counters and the day's stats (one row per campaign and date). */
export async function completeWarmupEmail(
  db: Queryable,
  workspaceId: string,
  sent: { id: string; messageId: string; sentAt: Date; warmupCampaignId: string; senderAccountId: string; date: string },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  const updated = await db.query(`UPDATE warmup_emails SET message_id = $3, sent_at = $4 WHERE id = $1 AND workspace_id = $2 AND message_id LIKE 'pending:%'`, [
    sent.id,
    workspaceId,
    sent.messageId,
    sent.sentAt,
  ]);
  if (updated.rowCount === 0) return; // already completed (a retried write)
  await db.query(`UPDATE warmup_accounts SET sends_today = sends_today + 1, last_send_at = $3 WHERE id = $1 AND workspace_id = $2`, [
    sent.senderAccountId,
    workspaceId,
    sent.sentAt,
  ]);
  await db.query(
    `INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, sent) VALUES ($1, $2, $3, 1)
     ON CONFLICT (warmup_campaign_id, date) DO UPDATE SET sent = warmup_daily_stats.sent + 1`,
    [workspaceId, sent.warmupCampaignId, sent.date],
  );
}

/** The day's stats of a warm-up campaign, or null. */
export async function getWarmupDailyStats(db: Queryable, workspaceId: string, warmupCampaignId: string, date: string): Promise<WarmupDailyStatsRow | null> {
  await getWarmupCampaign(db, workspaceId, warmupCampaignId);
  const { rows } = await db.query<WarmupDailyStatsRow>(
    `SELECT to_char(date, 'YYYY-MM-DD') AS date, sent, delivered, bounced, spam, is_healthy
     FROM warmup_daily_stats WHERE warmup_campaign_id = $1 AND workspace_id = $2 AND date = $3`,
    [warmupCampaignId, workspaceId, date],
  );
  return rows[0] ?? null;
}

/** Freezes the ramp (bounces or complaints crossed the thresholds) and marks the day unhealthy. */
export async function freezeWarmupCampaign(db: Queryable, workspaceId: string, warmupCampaignId: string, date: string, reason: string): Promise<void> {
  await getWarmupCampaign(db, workspaceId, warmupCampaignId);
  await db.query(`UPDATE warmup_campaigns SET status = 'frozen', paused_reason = $3 WHERE id = $1 AND workspace_id = $2`, [
    warmupCampaignId,
    workspaceId,
    reason,
  ]);
  await db.query(
    `INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, is_healthy) VALUES ($1, $2, $3, false)
     ON CONFLICT (warmup_campaign_id, date) DO UPDATE SET is_healthy = false`,
    [workspaceId, warmupCampaignId, date],
  );
}

/*
 * Fan-out (send batch and day advance): these select across workspaces by design (a fan-out has
 * no tenant), move ids and counts only, and join on workspace_id wherever two tenant tables meet.
 * Each per-mailbox job then loads its rows through the scoped functions above.
 *
 * The two fan-out guards are kept in warmup_campaigns.schedule (jsonb), which has no columns for
 * them yet: `last_batch` (the last send batch fanned out, a time slot; slots sort as text) and
 * `advanced_on` (the last date the ramp was advanced or held for). They are merged into the
 * object (`||`), never replacing it.
 */

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
  /** seqs of the date already claimed by this sender (sent, pending or of unknown outcome), ascending */
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
 * Send batch, every workspace: active warm-ups whose mailbox is not paused or disabled and whose
 * sender account is active, not yet fanned out for batch `batchSlot` (nor a later one), by
 * campaign id after `after`. Capped ones are included (claimed_seqs tells); the caller decides.
 */
export async function listWarmupsToSend(db: Queryable, options: { date: string; batchSlot: string; after?: string; limit: number }): Promise<WarmupToSend[]> {
  const { rows } = await db.query<WarmupToSend>(
    `SELECT wc.id AS warmup_campaign_id, wc.workspace_id, sa.id AS sender_account_id, wc.day_number,
       least(wc.current_daily_limit, wc.target_daily) AS daily_limit, sa.max_sends_per_day,
       coalesce((
         SELECT array_agg(split_part(e.thread_id, ':', 4)::int ORDER BY split_part(e.thread_id, ':', 4)::int) FROM warmup_emails e
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
     LIMIT $4`,
    [options.date, options.batchSlot, options.after ?? null, options.limit],
  );
  return rows;
}

/** Send batch: these warm-ups are done for `batchSlot` (never moved back); returns how many moved. */
export async function markWarmupsBatched(
  db: Queryable,
  warmups: ReadonlyArray<{ workspaceId: string; warmupCampaignId: string }>,
  batchSlot: string,
): Promise<number> {
  if (warmups.length === 0) return 0;
  const result = await db.query(
    `UPDATE warmup_campaigns wc SET schedule = wc.schedule || jsonb_build_object('last_batch', $3::text)
     FROM unnest($1::uuid[], $2::uuid[]) AS t(workspace_id, id)
     WHERE wc.id = t.id AND wc.workspace_id = t.workspace_id AND coalesce(wc.schedule->>'last_batch', '') < $3`,
    [warmups.map((w) => w.workspaceId), warmups.map((w) => w.warmupCampaignId), batchSlot],
  );
  return result.rowCount ?? 0;
}

/** Day advance, every workspace: active warm-ups not yet advanced (or held) for `date`, by id after `after`. */
export async function listWarmupsToAdvance(db: Queryable, options: { date: string; after?: string; limit: number }): Promise<WarmupToAdvance[]> {
  const { rows } = await db.query<WarmupToAdvance>(
    `SELECT wc.id AS warmup_campaign_id, wc.workspace_id, wc.day_number, wc.current_daily_limit, wc.target_daily,
       CASE WHEN s.id IS NULL THEN NULL
            ELSE json_build_object('sent', s.sent, 'delivered', s.delivered, 'bounced', s.bounced, 'spam', s.spam, 'is_healthy', s.is_healthy) END AS yesterday
     FROM warmup_campaigns wc
     LEFT JOIN warmup_daily_stats s
       ON s.warmup_campaign_id = wc.id AND s.workspace_id = wc.workspace_id AND s.date = $1::text::date - 1
     WHERE wc.status = 'active' AND coalesce(wc.schedule->>'advanced_on', '') < $1::text
       AND ($2::uuid IS NULL OR wc.id > $2::uuid)
     ORDER BY wc.id
     LIMIT $3`,
    [options.date, options.after ?? null, options.limit],
  );
  return rows;
}

/**
 * Day advance: applies each step (new day and cap, or the same ones = hold) once per date,
 * guarded by the date and the day it started from, so a repeated or concurrent run changes
 * nothing twice. The sender's sends_today starts again at 0; an advanced mailbox's warmup_day
 * follows. One statement. Returns how many advanced and held.
 */
export async function stepWarmupDays(db: Queryable, steps: readonly WarmupDayStep[], date: string): Promise<{ advanced: number; held: number }> {
  if (steps.length === 0) return { advanced: 0, held: 0 };
  const { rows } = await db.query<{ advanced: number; held: number }>(
    `WITH t AS (
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
     SELECT count(*) FILTER (WHERE advanced)::int AS advanced, count(*) FILTER (WHERE NOT advanced)::int AS held FROM moved`,
    [
      steps.map((s) => s.workspaceId),
      steps.map((s) => s.warmupCampaignId),
      steps.map((s) => s.fromDay),
      steps.map((s) => s.day),
      steps.map((s) => s.cap),
      date,
    ],
  );
  return rows[0] ?? { advanced: 0, held: 0 };
}
