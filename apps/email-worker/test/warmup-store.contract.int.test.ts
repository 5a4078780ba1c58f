import { randomUUID } from 'node:crypto';
import type { Pool } from '@coldcopy/db';
import { createPgWarmupStore } from '../src/providers/warmup-store.js';
import { runWarmupStoreContract } from '../src/providers/warmup-store.contract.js';
import { usePostgres } from './fixtures/postgres.js';

const pg = usePostgres();

async function workspace(pool: Pool): Promise<string> {
  const id = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, $2, $2, 'active')`, [id, `warm-${id.slice(0, 8)}`]);
  return id;
}

/** a mailbox and its warm-up account in the workspace; returns the account id */
async function account(
  pool: Pool,
  ws: string,
  options: { mailboxId?: string; mailboxStatus?: string; status?: string } = {},
): Promise<{ accountId: string; mailboxId: string }> {
  const mailboxId = options.mailboxId ?? randomUUID();
  const email = `box-${mailboxId.slice(0, 8)}@warm.example`;
  await pool.query(`INSERT INTO mailboxes (id, workspace_id, email, domain, status) VALUES ($1, $2, $3, 'warm.example', $4)`, [
    mailboxId,
    ws,
    email,
    options.mailboxStatus ?? 'active',
  ]);
  const accountId = randomUUID();
  await pool.query(`INSERT INTO warmup_accounts (id, workspace_id, mailbox_id, email, status, max_sends_per_day) VALUES ($1, $2, $3, $4, $5, 100)`, [
    accountId,
    ws,
    mailboxId,
    email,
    options.status ?? 'active',
  ]);
  return { accountId, mailboxId };
}

async function warmupCampaign(pool: Pool, ws: string, mailboxId: string, options: { currentDailyLimit?: number; targetDaily?: number } = {}): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO warmup_campaigns (id, workspace_id, mailbox_id, status, day_number, current_daily_limit, target_daily) VALUES ($1, $2, $3, 'active', 3, $4, $5)`,
    [id, ws, mailboxId, options.currentDailyLimit ?? 15, options.targetDaily ?? 40],
  );
  return id;
}

runWarmupStoreContract('Postgres adapter', async () => {
  const pool = pg.pool;
  const ws = await workspace(pool);
  const sender = await account(pool, ws);
  const recipient = await account(pool, ws);
  const warmupCampaignId = await warmupCampaign(pool, ws, sender.mailboxId);
  return {
    store: createPgWarmupStore(pool),
    mailbox: { workspaceId: ws, warmupCampaignId, senderAccountId: sender.accountId, recipientAccountId: recipient.accountId, mailboxId: sender.mailboxId },
    async addWarmup(options = {}) {
      const workspaceId = await workspace(pool);
      const own = await account(pool, workspaceId, {
        mailboxStatus: options.mailboxPaused ? 'paused' : 'active',
        status: options.senderPaused ? 'paused' : 'active',
      });
      const peers = [];
      for (let i = 0; i < (options.peers ?? 2); i++) peers.push((await account(pool, workspaceId)).accountId);
      const id = await warmupCampaign(pool, workspaceId, own.mailboxId, options);
      return { workspaceId, warmupCampaignId: id, senderAccountId: own.accountId, peerIds: peers.sort() };
    },
    async claimSeq(w, date, seq) {
      const key = `${w.warmupCampaignId}:${w.senderAccountId}:${date}:${seq}`;
      await pool.query(
        `INSERT INTO warmup_emails (workspace_id, warmup_campaign_id, sender_account_id, recipient_account_id, message_id, thread_id)
         VALUES ($1, $2, $3, $3, $4, $5)`,
        [w.workspaceId, w.warmupCampaignId, w.senderAccountId, `pending:${key}`, key],
      );
    },
    async setStats(w, date, s) {
      await pool.query(
        `INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, sent, delivered, bounced, spam, is_healthy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [w.workspaceId, w.warmupCampaignId, date, s.sent, s.delivered, s.bounced, s.spam, s.is_healthy],
      );
    },
    async ramp(w) {
      const { rows } = await pool.query<{ day_number: number; current_daily_limit: number }>(
        'SELECT day_number, current_daily_limit FROM warmup_campaigns WHERE id = $1 AND workspace_id = $2',
        [w.warmupCampaignId, w.workspaceId],
      );
      return { dayNumber: rows[0]!.day_number, currentDailyLimit: rows[0]!.current_daily_limit };
    },
  };
});
