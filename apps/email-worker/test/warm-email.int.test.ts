import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { warmEmailHandler, warmupCap } from '../src/handlers/warm-email.js';
import { testConfig } from './fixtures/fake-deps.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';

const h = useEmailHarness();

async function seedWarmup() {
  const seed = await seedCampaign(h.pool, { leads: 0 });
  const ws = seed.workspaceId;
  const mailbox = (await h.pool.query('SELECT email FROM mailboxes WHERE id = $1', [seed.mailboxId])).rows[0].email as string;
  const pool = randomUUID();
  await h.pool.query(`INSERT INTO warmup_pools (id, workspace_id, name) VALUES ($1, $2, 'pool')`, [pool, ws]);
  const other = randomUUID();
  await h.pool.query(`INSERT INTO mailboxes (id, workspace_id, email, domain, status) VALUES ($1, $2, $3, 'peer.example', 'active')`, [
    other,
    ws,
    `peer-${other.slice(0, 6)}@peer.example`,
  ]);
  const sender = randomUUID();
  const recipient = randomUUID();
  await h.pool.query(`INSERT INTO warmup_accounts (id, workspace_id, pool_id, mailbox_id, email) VALUES ($1, $2, $3, $4, $5), ($6, $2, $3, $7, $8)`, [
    sender,
    ws,
    pool,
    seed.mailboxId,
    mailbox,
    recipient,
    other,
    `peer-${other.slice(0, 6)}@peer.example`,
  ]);
  const campaign = randomUUID();
  await h.pool.query(`INSERT INTO warmup_campaigns (id, workspace_id, mailbox_id, status) VALUES ($1, $2, $3, 'active')`, [campaign, ws, seed.mailboxId]);
  return { ws, mailboxId: seed.mailboxId, sender, recipient, campaign };
}

const job = (w: Awaited<ReturnType<typeof seedWarmup>>, seq: number, dayNumber = 1, date = new Date().toISOString().slice(0, 10)) => ({
  workspaceId: w.ws,
  requestedBy: 'system',
  warmupCampaignId: w.campaign,
  senderAccountId: w.sender,
  recipientAccountId: w.recipient,
  dayNumber,
  date,
  seq,
});

describe('warm-email with real Postgres and aws-ses-v2-local', () => {
  it('the ramp: start volume, daily growth, target', () => {
    expect(warmupCap(testConfig.warmup, 1)).toBe(5);
    expect(warmupCap(testConfig.warmup, 3)).toBe(15);
    expect(warmupCap(testConfig.warmup, 30)).toBe(40);
    expect(warmupCap(testConfig.warmup, 30, 20)).toBe(20);
  });

  it('sends within the day’s cap, once per slot, and records the daily stats', async () => {
    const w = await seedWarmup();
    const { deps } = h.deps();
    const first = await warmEmailHandler(job(w, 0), h.context(deps));
    expect(first).toMatchObject({ status: 'sent' });
    expect(await warmEmailHandler(job(w, 0), h.context(deps))).toEqual({ status: 'skipped', reason: 'already-sent' });
    expect(await warmEmailHandler(job(w, 5), h.context(deps))).toEqual({ status: 'skipped', reason: 'cap-reached' }); // day 1: 5 emails (seq 0-4)
    expect(await h.ses.emails()).toHaveLength(1);
    const stats = (await h.pool.query('SELECT sent FROM warmup_daily_stats WHERE warmup_campaign_id = $1', [w.campaign])).rows;
    expect(stats).toEqual([{ sent: 1 }]);
    const row = (await h.pool.query('SELECT message_id FROM warmup_emails WHERE warmup_campaign_id = $1', [w.campaign])).rows[0];
    expect(row.message_id).toBe((first as { messageId: string }).messageId);
  });

  it('freezes the ramp and pauses the mailbox when yesterday’s bounce rate crossed the threshold', async () => {
    const w = await seedWarmup();
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await h.pool.query(`INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, sent, bounced) VALUES ($1, $2, $3, 40, 4)`, [
      w.ws,
      w.campaign,
      yesterday,
    ]);
    const { deps, ops } = h.deps();
    expect(await warmEmailHandler(job(w, 0, 2, today), h.context(deps))).toEqual({ status: 'skipped', reason: 'unhealthy' });
    const campaign = (await h.pool.query('SELECT status FROM warmup_campaigns WHERE id = $1', [w.campaign])).rows[0];
    const mailbox = (await h.pool.query('SELECT status, paused_reason FROM mailboxes WHERE id = $1', [w.mailboxId])).rows[0];
    expect(campaign.status).toBe('frozen');
    expect(mailbox.status).toBe('paused');
    expect(mailbox.paused_reason).toContain('bounce rate 10.0%');
    expect(ops.alerts).toHaveLength(1);
    expect(await h.ses.emails()).toHaveLength(0);
  });
});
