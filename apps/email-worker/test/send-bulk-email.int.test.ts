import { describe, expect, it } from 'vitest';
import { sendBulkEmailHandler } from '../src/handlers/send-bulk-email.js';
import { fakeContext } from './fixtures/fake-deps.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';

const h = useEmailHarness();

const tick = (workspaceId: string, campaignId: string, batchSize = 50, windowSlot = '2026-12-01T15:00:00Z') => ({
  workspaceId,
  requestedBy: 'system',
  campaignId,
  windowSlot,
  batchSize,
});

async function jobIds(): Promise<string[]> {
  return (await h.redis.lrange(`${h.prefix}:email:wait`, 0, -1)).sort();
}

describe('send-bulk-email (campaign tick) with real Postgres and Bull', () => {
  it('schedules due leads, fans out send-email with deterministic ids; a repeated tick duplicates nothing', async () => {
    const seed = await seedCampaign(h.pool, { leads: 30 });
    const { deps } = h.deps();
    const first = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), fakeContext(deps));
    expect(first).toMatchObject({ scheduled: 20, queued: 20, remaining: true });
    const ids = await jobIds();
    expect(ids).toHaveLength(20);
    expect(ids.every((id) => /^send-email\.[0-9a-f-]{36}$/.test(id))).toBe(true);

    // the retry of the same tick (crash after the enqueue): nothing new
    const again = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), fakeContext(deps));
    expect(again).toMatchObject({ scheduled: 10 }); // only the 10 leads not yet scheduled
    expect(await jobIds()).toHaveLength(30);
    const third = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), fakeContext(deps));
    expect(third).toMatchObject({ scheduled: 0, remaining: false });
    expect(await jobIds()).toHaveLength(30);
    const rows = await h.pool.query('SELECT count(*)::int AS n, count(DISTINCT lead_id)::int AS leads FROM campaign_emails WHERE campaign_id = $1', [seed.campaignId]);
    expect(rows.rows[0]).toEqual({ n: 30, leads: 30 });
  });

  it('a crash between inserting rows and enqueueing skips nothing: the retry enqueues the orphaned rows', async () => {
    const seed = await seedCampaign(h.pool, { leads: 5, scheduleStep1: true }); // rows exist, no jobs
    const { deps } = h.deps();
    const result = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), fakeContext(deps));
    expect(result).toMatchObject({ scheduled: 0, queued: 5 });
    expect(await jobIds()).toEqual(seed.sendIds.map((id) => `send-email.${id}`).sort());
  });

  it('respects the daily limit, the sending window and paused campaigns', async () => {
    const limited = await seedCampaign(h.pool, { leads: 10, dailyLimit: 4 });
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(limited.workspaceId, limited.campaignId), fakeContext(deps))).toMatchObject({ scheduled: 4, skippedLimit: 6 });
    expect(await sendBulkEmailHandler(tick(limited.workspaceId, limited.campaignId), fakeContext(deps))).toMatchObject({ scheduled: 0, skipped: 'daily-limit' });

    const now = new Date();
    const closed = `${String((now.getUTCHours() + 2) % 24).padStart(2, '0')}:00`;
    const end = `${String((now.getUTCHours() + 3) % 24).padStart(2, '0')}:00`;
    const outside = await seedCampaign(h.pool, { leads: 3, scheduleSettings: { sendBetween: { start: closed, end } } });
    expect(await sendBulkEmailHandler(tick(outside.workspaceId, outside.campaignId), fakeContext(deps))).toMatchObject({ skipped: 'outside-window', scheduled: 0 });

    const paused = await seedCampaign(h.pool, { leads: 3, status: 'paused' });
    expect(await sendBulkEmailHandler(tick(paused.workspaceId, paused.campaignId), fakeContext(deps))).toMatchObject({ skipped: 'campaign-not-active' });
  });

  it('expires sending leases left by a dead worker to unknown (never resent blindly)', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, scheduleStep1: true });
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', claimed_at = now() - interval '10 minutes', attempt = 1 WHERE id = $1`, [seed.sendIds[0]]);
    const { deps } = h.deps();
    const result = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), fakeContext(deps));
    expect(result).toMatchObject({ expiredLeases: 1, queued: 1 });
    const row = (await h.pool.query('SELECT status FROM campaign_emails WHERE id = $1', [seed.sendIds[0]])).rows[0];
    expect(row.status).toBe('unknown');
  });

  it('unknown outcomes without a Send event: failed_unknown by default, one resend with resend-once', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, scheduleStep1: true });
    await h.pool.query(`UPDATE campaign_emails SET status = 'unknown', claimed_at = now() - interval '1 hour', attempt = 1 WHERE id = ANY($1::uuid[])`, [seed.sendIds]);
    const review = h.deps({ unknownOutcome: { windowMs: 60_000, policy: 'review' } });
    const resend = h.deps({ unknownOutcome: { windowMs: 60_000, policy: 'resend-once' } });
    // review first, for row 0 only (row 1 made recent, so not overdue yet)
    await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() WHERE id = $1`, [seed.sendIds[1]]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), fakeContext(review.deps))).toMatchObject({ resolvedUnknown: 1 });
    await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '1 hour' WHERE id = $1`, [seed.sendIds[1]]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), fakeContext(resend.deps))).toMatchObject({ resolvedUnknown: 1, queued: 1 });
    const rows = (await h.pool.query('SELECT id, status FROM campaign_emails WHERE id = ANY($1::uuid[])', [seed.sendIds])).rows;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [seed.sendIds[0]!]: 'failed_unknown', [seed.sendIds[1]!]: 'retryable' });
    expect(await jobIds()).toEqual([`send-email.${seed.sendIds[1]}.1`]);
  });
});
