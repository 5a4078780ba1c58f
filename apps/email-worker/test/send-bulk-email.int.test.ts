import { sendEmail } from '@coldcopy/queue-core';
import { deletePrefix } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { REENQUEUE_AFTER_MS } from '../src/env.js';
import { sendBulkEmailHandler, type CampaignTickResult } from '../src/handlers/send-bulk-email.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';

const h = useEmailHarness();

const tick = (workspaceId: string, campaignId: string, batchSize = 50, windowSlot = '20261201T1500Z') => ({
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
    const first = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), h.context(deps));
    expect(first).toMatchObject({ scheduled: 20, queued: 20, remaining: true });
    const ids = await jobIds();
    expect(ids).toHaveLength(20);
    expect(ids.every((id) => /^send-email\.[0-9a-f-]{36}$/.test(id))).toBe(true);

    // the retry of the same tick (crash after the enqueue): nothing new
    const again = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), h.context(deps));
    expect(again).toMatchObject({ scheduled: 10, queued: 10 }); // only the 10 leads not yet scheduled
    expect(await jobIds()).toHaveLength(30);
    const third = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId, 20), h.context(deps));
    expect(third).toMatchObject({ scheduled: 0, queued: 0, remaining: false });
    expect(await jobIds()).toHaveLength(30);
    const rows = await h.pool.query('SELECT count(*)::int AS n, count(DISTINCT lead_id)::int AS leads FROM campaign_emails WHERE campaign_id = $1', [
      seed.campaignId,
    ]);
    expect(rows.rows[0]).toEqual({ n: 30, leads: 30 });
  });

  it('a crash between inserting rows and enqueueing skips nothing: the retry enqueues the orphaned rows', async () => {
    const seed = await seedCampaign(h.pool, { leads: 5, scheduleStep1: true }); // rows exist, no jobs
    const { deps } = h.deps();
    const result = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps));
    expect(result).toMatchObject({ scheduled: 0, queued: 5 });
    expect(await jobIds()).toEqual(seed.sendIds.map((id) => `send-email.${id}`).sort());
  });

  it('enqueues a row once: a tick right after adds no job while the jobs wait; a crash before the mark only re-enqueues', async () => {
    const seed = await seedCampaign(h.pool, { leads: 40 });
    const { deps } = h.deps();
    const before = new Date();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ scheduled: 40, queued: 40 });
    const marks = await h.pool.query<{ enqueued_at: Date | null }>('SELECT enqueued_at FROM campaign_emails WHERE campaign_id = $1', [seed.campaignId]);
    expect(marks.rows.every((r) => r.enqueued_at !== null && r.enqueued_at.getTime() >= before.getTime() - 1)).toBe(true);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ scheduled: 0, queued: 0 });
    expect(await jobIds()).toHaveLength(40);

    // a tick that died between the enqueue and the mark: the next one enqueues the same ids again (no-ops)
    await h.pool.query('UPDATE campaign_emails SET enqueued_at = NULL WHERE campaign_id = $1', [seed.campaignId]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 40 });
    expect(await jobIds()).toHaveLength(40);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 0 });
  });

  it('enqueues again a row whose job may be lost: mark and due time older than REENQUEUE_AFTER_MS', async () => {
    const seed = await seedCampaign(h.pool, { leads: 3 });
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 3 });
    // Redis restarted without persistence: every job gone
    await deletePrefix(inject('redisUrl'), h.prefix);
    expect(await jobIds()).toEqual([]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 0 }); // not yet
    const { rows } = await h.pool.query<{ id: string }>(
      `UPDATE campaign_emails SET scheduled_at = scheduled_at - make_interval(secs => $2::double precision / 1000),
         enqueued_at = enqueued_at - make_interval(secs => $2::double precision / 1000)
       WHERE campaign_id = $1 AND lead_id <> $3 RETURNING id`,
      [seed.campaignId, REENQUEUE_AFTER_MS + 1000, seed.leads[0]!.leadId],
    );
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 2 });
    expect(await jobIds()).toEqual(rows.map((r) => `send-email.${r.id}`).sort());
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 0 });
  });

  it('enqueues a row claimed and claimable again at once; leaves one the send path deferred with its own job', async () => {
    const seed = await seedCampaign(h.pool, { leads: 3 });
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 3 });
    const { rows } = await h.pool.query<{ id: string; lead_id: string }>('SELECT id, lead_id FROM campaign_emails WHERE campaign_id = $1 ORDER BY id', [
      seed.campaignId,
    ]);
    const [failed, unclaimed, waiting] = rows;
    const email = (r: { lead_id: string }) => seed.leads.find((l) => l.leadId === r.lead_id)!.email;
    // as send-email does it: claimed, then SES paused the mailbox's configuration set (retryable, no job)
    expect(await deps.store.claimUnlessSuppressed(seed.workspaceId, failed!.id, email(failed!))).toMatchObject({ claimed: true });
    await deps.store.recordFailed(seed.workspaceId, failed!.id, { error: 'ConfigurationSetSendingPausedException', retryable: true });
    // claimed, then no fresh rate slot: the claim given back and a delayed follow-up of its own
    expect(await deps.store.claimUnlessSuppressed(seed.workspaceId, unclaimed!.id, email(unclaimed!))).toMatchObject({ claimed: true });
    await deps.store.unclaim(seed.workspaceId, unclaimed!.id, new Date(), 'rate-limit');
    await h.producer.enqueue(
      sendEmail,
      { workspaceId: seed.workspaceId, requestedBy: 'system', campaignEmailId: unclaimed!.id },
      { idempotencyKey: `${unclaimed!.id}.w1.1` },
    );

    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 1 });
    expect(await jobIds()).toEqual(
      [
        `send-email.${failed!.id}`,
        `send-email.${failed!.id}.1`,
        `send-email.${unclaimed!.id}`,
        `send-email.${unclaimed!.id}.w1.1`,
        `send-email.${waiting!.id}`,
      ].sort(),
    );
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ queued: 0 });
  });

  it('respects the daily limit, the sending window and paused campaigns', async () => {
    const limited = await seedCampaign(h.pool, { leads: 10, dailyLimit: 4 });
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(limited.workspaceId, limited.campaignId), h.context(deps))).toMatchObject({ scheduled: 4, skippedLimit: 6 });
    expect(await sendBulkEmailHandler(tick(limited.workspaceId, limited.campaignId), h.context(deps))).toMatchObject({ scheduled: 0, skipped: 'daily-limit' });

    const now = new Date();
    const closed = `${String((now.getUTCHours() + 2) % 24).padStart(2, '0')}:00`;
    const end = `${String((now.getUTCHours() + 3) % 24).padStart(2, '0')}:00`;
    const outside = await seedCampaign(h.pool, { leads: 3, scheduleSettings: { sendBetween: { start: closed, end } } });
    expect(await sendBulkEmailHandler(tick(outside.workspaceId, outside.campaignId), h.context(deps))).toMatchObject({
      skipped: 'outside-window',
      scheduled: 0,
    });

    const paused = await seedCampaign(h.pool, { leads: 3, status: 'paused' });
    expect(await sendBulkEmailHandler(tick(paused.workspaceId, paused.campaignId), h.context(deps))).toMatchObject({ skipped: 'campaign-not-active' });
  });

  it('expires sending leases left by a dead worker to unknown (never resent blindly)', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, scheduleStep1: true });
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', claimed_at = now() - interval '10 minutes', attempt = 1 WHERE id = $1`, [
      seed.sendIds[0],
    ]);
    const { deps } = h.deps();
    const result = await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps));
    expect(result).toMatchObject({ expiredLeases: 1, queued: 1 });
    const row = (await h.pool.query('SELECT status FROM campaign_emails WHERE id = $1', [seed.sendIds[0]])).rows[0];
    expect(row.status).toBe('unknown');
  });

  it('unknown outcomes without a Send event: failed_unknown by default, one resend with resend-once', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, scheduleStep1: true });
    await h.pool.query(`UPDATE campaign_emails SET status = 'unknown', claimed_at = now() - interval '1 hour', attempt = 1 WHERE id = ANY($1::uuid[])`, [
      seed.sendIds,
    ]);
    const review = h.deps({ unknownOutcome: { windowMs: 60_000, policy: 'review' } });
    const resend = h.deps({ unknownOutcome: { windowMs: 60_000, policy: 'resend-once' } });
    // review first, for row 0 only (row 1 made recent, so not overdue yet)
    await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() WHERE id = $1`, [seed.sendIds[1]]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(review.deps))).toMatchObject({ resolvedUnknown: 1 });
    await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '1 hour' WHERE id = $1`, [seed.sendIds[1]]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(resend.deps))).toMatchObject({ resolvedUnknown: 1, queued: 1 });
    const rows = (await h.pool.query('SELECT id, status FROM campaign_emails WHERE id = ANY($1::uuid[])', [seed.sendIds])).rows;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [seed.sendIds[0]!]: 'failed_unknown', [seed.sendIds[1]!]: 'retryable' });
    expect(await jobIds()).toEqual([`send-email.${seed.sendIds[1]}.1`]);
  });

  it('counts suppressed, condition-not-met and daily-limit leads apart, and ends or advances their enrolments', async () => {
    const seed = await seedCampaign(h.pool, { leads: 10, steps: 3, dailyLimit: 3 });
    const [opened, unopened, wsSuppressed, globalBounce, unsubscribed] = seed.leads;
    // step 2 goes only to leads who opened step 1; leads 0 and 1 got step 1 three days ago
    await h.pool.query(`UPDATE campaign_sequences SET condition_type = 'opened' WHERE campaign_id = $1 AND step_number = 2`, [seed.campaignId]);
    for (const lead of [opened!, unopened!]) {
      await h.pool.query(
        `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, sent_at, created_at, opened_at)
         VALUES ($1, $2, $3, 1, $4, 'sent', now() - interval '3 days', now() - interval '3 days', $5)`,
        [seed.workspaceId, seed.campaignId, lead.leadId, seed.mailboxId, lead === opened ? new Date() : null],
      );
      await h.pool.query(`UPDATE campaign_leads SET status = 'in_progress', current_step = 1 WHERE id = $1`, [lead.enrolmentId]);
    }
    await h.pool.query(
      `INSERT INTO suppression_list (workspace_id, email, suppression_type, is_global) VALUES ($1, $2, 'unsubscribe', false), (NULL, $3, 'bounce', true)`,
      [seed.workspaceId, wsSuppressed!.email, globalBounce!.email],
    );
    await h.pool.query(`UPDATE leads SET status = 'unsubscribed' WHERE id = $1`, [unsubscribed!.leadId]);

    const { deps } = h.deps();
    const first = (await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))) as CampaignTickResult;
    // sendable: the opener (step 2) and five new leads (step 1); the daily limit takes three
    expect(first).toMatchObject({ skippedSuppressed: 3, skippedCondition: 1, skippedLimit: 3, scheduled: 3, queued: 3, remaining: true, completed: false });

    const enrolment = async (id: string) =>
      (await h.pool.query('SELECT status, current_step, next_email_at, unsubscribed_at, bounced_at FROM campaign_leads WHERE id = $1', [id])).rows[0];
    expect(await enrolment(wsSuppressed!.enrolmentId)).toMatchObject({ status: 'unsubscribed', next_email_at: null, unsubscribed_at: expect.any(Date) });
    expect(await enrolment(globalBounce!.enrolmentId)).toMatchObject({ status: 'bounced', bounced_at: expect.any(Date) });
    expect(await enrolment(unsubscribed!.enrolmentId)).toMatchObject({ status: 'unsubscribed' });
    // step 2 skipped without a send: step 3 is due two days later (its delay; all-day window)
    const skipped = await enrolment(unopened!.enrolmentId);
    expect(skipped).toMatchObject({ status: 'in_progress', current_step: 2 });
    expect(Math.abs((skipped.next_email_at as Date).getTime() - (Date.now() + 2 * 86_400_000))).toBeLessThan(60_000);
    const rows = await h.pool.query('SELECT lead_id, step_number FROM campaign_emails WHERE campaign_id = $1 AND status = $2', [seed.campaignId, 'scheduled']);
    expect(rows.rowCount).toBe(3);
    expect(rows.rows.some((r) => r.lead_id === unopened!.leadId)).toBe(false);

    // the next tick: nothing left to end or skip, and the day's limit is used up
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({
      skippedSuppressed: 0,
      skippedCondition: 0,
      skippedLimit: 3,
      scheduled: 0,
      skipped: 'daily-limit',
    });
  });

  it.each([
    // condition of step 2, who engaged with step 1 (lead A), whose step 2 is sent
    { condition: 'no_reply', engaged: 'replied_at', sentTo: 'B' },
    { condition: 'no_open', engaged: 'opened_at', sentTo: 'B' },
    { condition: 'opened', engaged: 'opened_at', sentTo: 'A' },
    { condition: 'clicked', engaged: 'clicked_at', sentTo: 'A' },
  ])('evaluates the $condition condition in Postgres', async ({ condition, engaged, sentTo }) => {
    const seed = await seedCampaign(h.pool, { leads: 2, steps: 2 });
    await h.pool.query(`UPDATE campaign_sequences SET condition_type = $2 WHERE campaign_id = $1 AND step_number = 2`, [seed.campaignId, condition]);
    const [a, b] = seed.leads;
    for (const lead of [a!, b!]) {
      await h.pool.query(
        `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, sent_at, created_at, ${engaged})
         VALUES ($1, $2, $3, 1, $4, 'sent', now() - interval '3 days', now() - interval '3 days', $5)`,
        [seed.workspaceId, seed.campaignId, lead.leadId, seed.mailboxId, lead === a ? new Date() : null],
      );
      await h.pool.query(`UPDATE campaign_leads SET status = 'in_progress', current_step = 1 WHERE id = $1`, [lead.enrolmentId]);
    }
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ skippedCondition: 1, scheduled: 1 });
    const { rows } = await h.pool.query(`SELECT lead_id FROM campaign_emails WHERE campaign_id = $1 AND step_number = 2`, [seed.campaignId]);
    expect(rows.map((r) => r.lead_id)).toEqual([(sentTo === 'A' ? a : b)!.leadId]);
    // the skipped one had step 2 as its last step: its enrolment is completed
    const other = (sentTo === 'A' ? b : a)!;
    expect((await h.pool.query('SELECT status, current_step FROM campaign_leads WHERE id = $1', [other.enrolmentId])).rows[0]).toEqual({
      status: 'completed',
      current_step: 2,
    });
  });

  it('a numeric condition_value narrows the condition to that step', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, steps: 3 });
    await h.pool.query(`UPDATE campaign_sequences SET condition_type = 'opened', condition_value = '1' WHERE campaign_id = $1 AND step_number = 3`, [
      seed.campaignId,
    ]);
    const [a, b] = seed.leads;
    for (const [lead, openedStep] of [
      [a!, 1],
      [b!, 2],
    ] as const) {
      for (const step of [1, 2]) {
        await h.pool.query(
          `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, sent_at, created_at, opened_at)
           VALUES ($1, $2, $3, $4, $5, 'sent', now() - interval '3 days', now() - interval '3 days', $6)`,
          [seed.workspaceId, seed.campaignId, lead.leadId, step, seed.mailboxId, step === openedStep ? new Date() : null],
        );
      }
      await h.pool.query(`UPDATE campaign_leads SET status = 'in_progress', current_step = 2 WHERE id = $1`, [lead.enrolmentId]);
    }
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ skippedCondition: 1, scheduled: 1 });
    const { rows } = await h.pool.query(`SELECT lead_id FROM campaign_emails WHERE campaign_id = $1 AND step_number = 3`, [seed.campaignId]);
    expect(rows.map((r) => r.lead_id)).toEqual([a!.leadId]);
  });

  it('starts a scheduled campaign whose start date has passed and ticks it; one that starts later waits', async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const due = await seedCampaign(h.pool, { leads: 4 });
    await h.pool.query(`UPDATE campaigns SET status = 'scheduled', schedule_settings = $2 WHERE id = $1`, [due.campaignId, { startDate: yesterday }]);
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(due.workspaceId, due.campaignId), h.context(deps))).toMatchObject({ started: true, scheduled: 4, queued: 4 });
    const row = (await h.pool.query('SELECT status, started_at FROM campaigns WHERE id = $1', [due.campaignId])).rows[0];
    expect(row).toMatchObject({ status: 'active', started_at: expect.any(Date) });

    const later = await seedCampaign(h.pool, { leads: 2 });
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    await h.pool.query(`UPDATE campaigns SET status = 'scheduled', schedule_settings = $2 WHERE id = $1`, [later.campaignId, { startDate: tomorrow }]);
    expect(await sendBulkEmailHandler(tick(later.workspaceId, later.campaignId), h.context(deps))).toMatchObject({ skipped: 'not-started', scheduled: 0 });
    expect((await h.pool.query('SELECT status, started_at FROM campaigns WHERE id = $1', [later.campaignId])).rows[0]).toEqual({
      status: 'scheduled',
      started_at: null,
    });
  });

  it('completes a campaign whose enrolments are all finished, and not while a send is unsettled', async () => {
    const seed = await seedCampaign(h.pool, { leads: 4, steps: 2 });
    const [done, replied, bounced, lastStep] = seed.leads;
    await h.pool.query(`UPDATE campaign_leads SET status = 'completed', current_step = 2, next_email_at = NULL WHERE id = $1`, [done!.enrolmentId]);
    await h.pool.query(`UPDATE campaign_leads SET status = 'replied', current_step = 1, next_email_at = NULL WHERE id = $1`, [replied!.enrolmentId]);
    await h.pool.query(`UPDATE campaign_leads SET status = 'bounced', current_step = 1, next_email_at = NULL WHERE id = $1`, [bounced!.enrolmentId]);
    // sent the last step but still in progress: no further step, so finished too
    await h.pool.query(`UPDATE campaign_leads SET status = 'in_progress', current_step = 2, next_email_at = NULL WHERE id = $1`, [lastStep!.enrolmentId]);
    const unknown = await h.pool.query(
      `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, claimed_at, attempt)
       VALUES ($1, $2, $3, 2, $4, 'unknown', now(), 1) RETURNING id`,
      [seed.workspaceId, seed.campaignId, lastStep!.leadId, seed.mailboxId],
    );
    const { deps } = h.deps();
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ completed: false, scheduled: 0, queued: 0 });
    expect((await h.pool.query('SELECT status FROM campaigns WHERE id = $1', [seed.campaignId])).rows[0].status).toBe('active');

    await h.pool.query(`UPDATE campaign_emails SET status = 'sent' WHERE id = $1`, [unknown.rows[0].id]);
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ completed: true });
    const row = (await h.pool.query('SELECT status, completed_at FROM campaigns WHERE id = $1', [seed.campaignId])).rows[0];
    expect(row).toMatchObject({ status: 'completed', completed_at: expect.any(Date) });
    expect(await sendBulkEmailHandler(tick(seed.workspaceId, seed.campaignId), h.context(deps))).toMatchObject({ skipped: 'campaign-not-active' });
  });

  it('refuses a campaign of another workspace', async () => {
    const a = await seedCampaign(h.pool, { leads: 1 });
    const b = await seedCampaign(h.pool, { leads: 1 });
    const { deps } = h.deps();
    await expect(sendBulkEmailHandler(tick(a.workspaceId, b.campaignId), h.context(deps))).rejects.toMatchObject({ name: 'TenancyError' });
    expect((await h.pool.query('SELECT count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1', [b.campaignId])).rows[0].n).toBe(0);
  });
});
