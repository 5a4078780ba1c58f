import { PermanentJobError, RetryAfterError } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext } from '../../test/fixtures/fake-deps.js';
import { SendError } from '../providers/email-sender.js';
import { createFakeSendLimits } from '../providers/fake-send-limits.js';
import { sendEmailHandler } from './send-email.js';

const run = (f: ReturnType<typeof createFakeDeps>, id: string, deps = f.deps) =>
  sendEmailHandler({ workspaceId: f.store.workspaceId, requestedBy: 'system', campaignEmailId: id, trackOpens: true, trackClicks: true, checkConsent: false }, fakeContext(deps, { recorder: f.recorder }));

describe('send-email handler', () => {
  it('sends once, with headers, tags and the footer, and advances the enrolment', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend('grace@gmail.example');
    const result = await run(f, id);
    expect(result).toEqual({ status: 'sent', messageId: 'fake-1' });
    expect(f.store.status(id)).toBe('sent');
    const [msg] = f.sender.sent;
    expect(msg!.to).toBe('grace@gmail.example');
    expect(msg!.subject).toBe('Step 1 for Grace');
    expect(msg!.text).toContain('1 Main St, Springfield');
    expect(msg!.html).toContain('Unsubscribe');
    expect(msg!.unsubscribe.url).toMatch(/^https:\/\/app\.example\.com\/u\//);
    expect(msg!.configurationSet).toBe('acme-sender');
    expect(msg!.tags).toMatchObject({ send_id: id, workspace_id: f.store.workspaceId, mailbox_id: f.store.mailbox.id });
    expect(f.limits.slots).toEqual([{ workspaceId: f.store.workspaceId, domain: 'gmail.example' }]);
    // next step due two days later (all-day window, UTC)
    expect(f.store.sent[0]!.nextEmailAt!.toISOString()).toBe('2026-12-03T15:00:00.000Z');
  });

  it('a second run (retried or duplicated job) never sends again', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    await run(f, id);
    expect(await run(f, id)).toEqual({ status: 'skipped', reason: 'already-sent' });
    expect(f.sender.calls).toBe(1);
  });

  it('skips and records a suppressed recipient without calling SES', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend('bounced@gmail.example');
    f.store.suppressed.add('bounced@gmail.example');
    expect(await run(f, id)).toEqual({ status: 'skipped', reason: 'suppressed' });
    expect(f.store.status(id)).toBe('cancelled');
    expect(f.store.cancelled.get(id)).toBe('suppressed');
    expect(f.sender.calls).toBe(0);
    expect(await f.limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(0);
  });

  it('a stalled job finds the row in flight: waits for the lease, then marks it unknown without sending', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    await f.store.claimUnlessSuppressed(f.store.workspaceId, id, 'x@gmail.example'); // another attempt claimed it and died
    const err = await run(f, id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryAfterError);
    f.clock.now = new Date(f.clock.now.getTime() + 121_000);
    expect(await run(f, id)).toEqual({ status: 'unknown', reason: 'lease-expired' });
    expect(f.store.status(id)).toBe('unknown');
    expect(f.sender.calls).toBe(0);
  });

  it('mailbox daily cap reached: reschedules to the next day with an attempt-neutral follow-up job', async () => {
    const f = createFakeDeps();
    f.store.mailbox.daily_cap = 1;
    const first = f.store.addSend();
    const second = f.store.addSend();
    await run(f, first);
    const result = await run(f, second);
    expect(result).toMatchObject({ status: 'deferred', reason: 'mailbox-daily-cap' });
    expect(f.store.status(second)).toBe('scheduled');
    expect(f.followUps.jobs).toHaveLength(1);
    expect(f.followUps.jobs[0]!.key).toBe(`${second}.cap20261201`);
    expect(f.followUps.jobs[0]!.delayMs).toBeGreaterThanOrEqual(9 * 3_600_000); // after midnight UTC
  });

  it('a rate-limit wait beyond the in-handler maximum defers without using an attempt', async () => {
    const f = createFakeDeps({ rateWaits: [30_000] });
    const id = f.store.addSend();
    expect(await run(f, id)).toMatchObject({ status: 'deferred', reason: 'rate-limit' });
    expect(f.followUps.jobs[0]!.delayMs).toBe(30_000);
    expect(f.store.status(id)).toBe('scheduled');
    expect(await f.limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(0);
  });

  it('SES throttling: retryable row and a short delayed follow-up, no attempt burnt', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('throttled', 'Maximum sending rate exceeded.', 'Throttling', { retryAfterMs: 1500 })] });
    const id = f.store.addSend();
    const result = await run(f, id);
    expect(result).toMatchObject({ status: 'deferred', reason: 'ses-throttled' });
    expect(f.store.status(id)).toBe('retryable');
    expect(f.followUps.jobs[0]!.key).toBe(`${id}.t1`);
    expect(f.followUps.jobs[0]!.delayMs).toBeGreaterThanOrEqual(1500);
    expect(f.followUps.jobs[0]!.delayMs).toBeLessThan(3000);
  });

  it('SES daily quota: rescheduled after the quota window and alerted', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('daily-quota', 'Daily message quota exceeded.', 'Throttling')] });
    const id = f.store.addSend();
    expect(await run(f, id)).toMatchObject({ status: 'deferred', reason: 'ses-daily-quota' });
    expect(f.store.status(id)).toBe('retryable');
    expect(f.followUps.jobs[0]!.delayMs).toBeGreaterThanOrEqual(3_600_000);
    expect(f.ops.alerts[0]!.severity).toBe('warning');
  });

  it('SES rejection: failed for good, enrolment ended, permanent job error', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('rejected', 'Email address is not verified.', 'MessageRejected')] });
    const id = f.store.addSend();
    await expect(run(f, id)).rejects.toBeInstanceOf(PermanentJobError);
    expect(f.store.status(id)).toBe('failed');
    expect([...f.store.enrolments.values()][0]!.status).toBe('failed');
  });

  it('SES account paused: email queue paused, page alert, the send waits in the paused queue', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('account-paused', 'paused', 'AccountSendingPausedException')] });
    const id = f.store.addSend();
    expect(await run(f, id)).toMatchObject({ status: 'deferred', reason: 'ses-account-paused' });
    expect(f.recorder.queue).toMatchObject({ paused: true, pauses: 1 });
    expect(f.ops.alerts[0]!.severity).toBe('page');
    expect(f.store.status(id)).toBe('retryable');
  });

  it('configuration set paused: pauses that mailbox only', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('mailbox-paused', 'paused', 'ConfigurationSetSendingPausedException')] });
    const id = f.store.addSend();
    expect(await run(f, id)).toMatchObject({ status: 'deferred', reason: 'mailbox-paused' });
    expect(f.store.pausedMailboxes).toEqual([f.store.mailbox.id]);
    expect(f.recorder.queue.pauses).toBe(0);
  });

  it('ambiguous outcome (timeout, 5xx): unknown, not retried, the daily count kept', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('unknown', 'socket hang up', 'TimeoutError')] });
    const id = f.store.addSend();
    expect(await run(f, id)).toEqual({ status: 'unknown', reason: 'TimeoutError' });
    expect(f.store.status(id)).toBe('unknown');
    expect(await f.limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(1);
    // a later duplicate does not resend
    expect(await run(f, id)).toEqual({ status: 'skipped', reason: 'already-unknown' });
    expect(f.sender.calls).toBe(1);
  });

  it('connection refused (never sent): retryable row, plain Bull retry', async () => {
    const f = createFakeDeps({ senderScript: [new SendError('not-sent', 'connect ECONNREFUSED', 'Error')] });
    const id = f.store.addSend();
    await expect(run(f, id)).rejects.toBeInstanceOf(SendError);
    expect(f.store.status(id)).toBe('retryable');
    expect(await run(f, id)).toMatchObject({ status: 'sent' });
  });

  it('paused campaign: stays scheduled; completed campaign: cancelled', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    f.store.campaign.status = 'paused';
    expect(await run(f, id)).toEqual({ status: 'skipped', reason: 'campaign-paused' });
    expect(f.store.status(id)).toBe('scheduled');
    f.store.campaign.status = 'completed';
    expect(await run(f, id)).toEqual({ status: 'skipped', reason: 'campaign-completed' });
    expect(f.store.status(id)).toBe('cancelled');
  });

  it('a slot gone stale during the claim is replaced by a fresh one before SES', async () => {
    const f = createFakeDeps();
    const limits = createFakeSendLimits({ staleSlots: ['renewed'] });
    const id = f.store.addSend();
    expect(await run(f, id, { ...f.deps, limits })).toMatchObject({ status: 'sent' });
    expect(limits.confirmations).toBe(1);
    expect(limits.renewals).toBe(1);
    expect(f.sender.calls).toBe(1);
  });

  it('a stale slot whose replacement is too far away gives the claim back and defers (no SES call)', async () => {
    const f = createFakeDeps();
    const limits = createFakeSendLimits({ staleSlots: [20_000] });
    const id = f.store.addSend();
    expect(await run(f, id, { ...f.deps, limits })).toMatchObject({ status: 'deferred', reason: 'rate-limit' });
    expect(f.sender.calls).toBe(0);
    expect(f.store.status(id)).toBe('scheduled');
    expect(f.store.emails.get(id)!.scheduled_at.getTime()).toBe(f.clock.now.getTime() + 20_000);
    expect(f.followUps.jobs).toEqual([expect.objectContaining({ delayMs: 20_000, key: expect.stringMatching(new RegExp(`^${id}\\.w\\d+\\.1$`)) })]);
    expect(await limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(0);
    // the follow-up sends it
    f.clock.now = new Date(f.clock.now.getTime() + 20_000);
    expect(await run(f, id, { ...f.deps, limits })).toMatchObject({ status: 'sent' });
    expect(f.sender.calls).toBe(1);
  });
});
