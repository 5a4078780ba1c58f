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
  const updated = await db.query(
    `UPDATE warmup_emails SET message_id = $3, sent_at = $4 WHERE id = $1 AND workspace_id = $2 AND message_id LIKE 'pending:%'`,
    [sent.id, workspaceId, sent.messageId, sent.sentAt],
  );
  if (updated.rowCount === 0) return; // already completed (a retried write)
  await db.query(
    `UPDATE warmup_accounts SET sends_today = sends_today + 1, last_send_at = $3 WHERE id = $1 AND workspace_id = $2`,
    [sent.senderAccountId, workspaceId, sent.sentAt],
  );
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
