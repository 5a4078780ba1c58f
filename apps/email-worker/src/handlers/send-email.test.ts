import { PermanentJobError, RetryAfterError } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext } from '../../test/fixtures/fake-deps.js';
import { SendError } from '../providers/email-sender.js';
import { createFakeSendLimits } from '../providers/fake-send-limits.js';
import { drainOutcomes } from '../providers/outcome-journal.js';
import { sendEmailHandler } from './send-email.js';

const run = (f: ReturnType<typeof createFakeDeps>, id: string, deps = f.deps, signal?: AbortSignal) =>
  sendEmailHandler(
    { workspaceId: f.store.workspaceId, requestedBy: 'system', campaignEmailId: id, trackOpens: true, trackClicks: true, checkConsent: false },
    fakeContext(deps, { recorder: f.recorder, ...(signal ? { signal } : {}) }),
  );
const silent = { info: () => undefined, error: () => undefined };

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

describe('send-email: the on-the-wire mark', () => {
  it('is written for this claim inside the slot confirmation, before the request leaves', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const atMark: Array<{ attempt: number; status: string; requests: number; confirmations: number }> = [];
    const wire = {
      ...f.wire,
      async mark(ref: Parameters<typeof f.wire.mark>[0]) {
        atMark.push({ attempt: ref.attempt, status: f.store.status(id), requests: f.sender.calls, confirmations: f.limits.confirmations });
        await f.wire.mark(ref);
      },
    };
    expect(await run(f, id, { ...f.deps, wire })).toMatchObject({ status: 'sent' });
    expect(atMark).toEqual([{ attempt: 1, status: 'sending', requests: 0, confirmations: 1 }]);
    expect(f.sender.calls).toBe(1);
    expect([...f.wire.marks.keys()]).toEqual([`${f.store.emails.get(id)!.campaign_id}/${id}/1`]);
  });

  it('withdrawn when its slot went stale while it was written, and written again at the fresh slot: nothing waits between the mark that stands and the request', async () => {
    const f = createFakeDeps();
    const limits = createFakeSendLimits({ staleSlots: ['renewed'] });
    const id = f.store.addSend();
    const steps: string[] = [];
    const wire = {
      ...f.wire,
      async mark(ref: Parameters<typeof f.wire.mark>[0]) {
        steps.push(`mark ${ref.attempt} (requests ${f.sender.calls})`);
        await f.wire.mark(ref);
      },
      async unmark(ref: Parameters<typeof f.wire.unmark>[0]) {
        steps.push(`unmark ${ref.attempt} (requests ${f.sender.calls})`);
        await f.wire.unmark(ref);
      },
    };
    expect(await run(f, id, { ...f.deps, wire, limits })).toMatchObject({ status: 'sent' });
    expect(steps).toEqual(['mark 1 (requests 0)', 'unmark 1 (requests 0)', 'mark 1 (requests 0)']);
    expect(limits.renewals).toBe(1);
    expect(f.sender.calls).toBe(1);
    expect([...f.wire.marks.keys()]).toEqual([`${f.store.emails.get(id)!.campaign_id}/${id}/1`]);
  });

  it('a mark Redis does not take: no request, the claim and the daily count given back, a follow-up job', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const down = new Error('Connection is closed.');
    const deps = { ...f.deps, wire: { ...f.wire, mark: async () => Promise.reject(down) } };
    expect(await run(f, id, deps).catch((e: unknown) => e)).toBe(down);
    expect(f.sender.calls).toBe(0);
    expect(f.store.status(id)).toBe('scheduled');
    expect(await f.limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(0);
    expect(f.followUps.jobs).toEqual([expect.objectContaining({ key: `${id}.e1` })]);
    expect(await run(f, id)).toMatchObject({ status: 'sent' });
  });
});

describe('send-email: outcomes are never lost, and a stalled attempt never sends on a lost lease', () => {
  it('SES accepted but the ledger write fails (Postgres down): the outcome is kept in the journal and applied once the ledger answers', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    let down = true;
    const store = {
      ...f.store,
      recordSent: (...args: Parameters<typeof f.store.recordSent>) =>
        down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })) : f.store.recordSent(...args),
    };
    const result = await run(f, id, { ...f.deps, store });
    expect(result).toEqual({ status: 'sent', messageId: 'fake-1', journalled: true });
    expect(f.store.status(id)).toBe('sending');
    expect([...f.outcomes.entries.keys()]).toEqual([id]);
    // still down: the drain leaves it
    expect(await drainOutcomes(f.outcomes, store, silent)).toEqual({ applied: 0, dropped: 0, left: 1 });
    down = false;
    expect(await drainOutcomes(f.outcomes, store, silent)).toEqual({ applied: 1, dropped: 0, left: 0 });
    expect(f.store.emails.get(id)).toMatchObject({ status: 'sent', message_id: 'fake-1' });
    expect(f.outcomes.entries.size).toBe(0);
    expect(f.sender.calls).toBe(1);
  });

  it('a kept outcome is applied even after another attempt marked the row unknown (lease expired), but not over a newer claim', async () => {
    const f = createFakeDeps();
    const [a, b] = [f.store.addSend(), f.store.addSend()];
    const store = { ...f.store, recordSent: () => Promise.reject(new Error('Connection terminated unexpectedly')) };
    await run(f, a, { ...f.deps, store });
    await run(f, b, { ...f.deps, store });
    f.clock.now = new Date(f.clock.now.getTime() + 121_000);
    expect(await f.store.expireLease(f.store.workspaceId, a, 120_000)).toBe(true);
    expect(await f.store.expireLease(f.store.workspaceId, b, 120_000)).toBe(true);
    // b was given to another attempt since (resend-once): its kept outcome must not overwrite that claim
    await f.store.recordFailed(f.store.workspaceId, b, { error: 'x', retryable: true, claim: 1 });
    await f.store.claimUnlessSuppressed(f.store.workspaceId, b, 'x@gmail.example');
    expect(await drainOutcomes(f.outcomes, f.store, silent)).toEqual({ applied: 1, dropped: 1, left: 0 });
    expect(f.store.emails.get(a)).toMatchObject({ status: 'sent', message_id: 'fake-1' });
    expect(f.store.emails.get(b)).toMatchObject({ status: 'sending', attempt: 2 });
  });

  it('the lease ran out (monotonic clock) before the request left: no SES call, the claim given back, a follow-up job', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const deps = { ...f.deps, config: { ...f.deps.config, leaseMs: 1, leaseSafetyMs: 10 } };
    expect(await run(f, id, deps)).toMatchObject({ status: 'deferred', reason: 'lease-expired' });
    expect(f.sender.calls).toBe(0);
    expect(f.store.status(id)).toBe('scheduled');
    expect(f.followUps.jobs).toEqual([expect.objectContaining({ key: `${id}.l1`, delayMs: 0 })]);
    expect(await f.limits.mailboxDailyCount(f.store.workspaceId, f.store.mailbox.id, '2026-12-01')).toBe(0);
  });

  it('after a freeze both the lease and the slot are gone: the lease decides (claim given back as a lost lease), the slot is not confirmed', async () => {
    const f = createFakeDeps();
    const limits = createFakeSendLimits({ staleSlots: [20_000] });
    const id = f.store.addSend();
    const deps = { ...f.deps, limits, config: { ...f.deps.config, leaseMs: 1, leaseSafetyMs: 10 } };
    expect(await run(f, id, deps)).toMatchObject({ status: 'deferred', reason: 'lease-expired' });
    expect(limits.confirmations).toBe(0);
    expect(f.sender.calls).toBe(0);
    expect(f.followUps.jobs).toEqual([expect.objectContaining({ key: `${id}.l1`, delayMs: 0 })]);
  });

  it('an attempt whose claim was taken over while its request was at SES writes nothing over the new claim', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const sender = {
      async send(message: Parameters<typeof f.sender.send>[0], signal: AbortSignal, options?: Parameters<typeof f.sender.send>[2]) {
        const out = await f.sender.send(message, signal, options);
        // frozen with the request on the wire: the lease expired, the row went to another attempt
        f.clock.now = new Date(f.clock.now.getTime() + 121_000);
        await f.store.expireLease(f.store.workspaceId, id, 120_000);
        await f.store.recordFailed(f.store.workspaceId, id, { error: 'resend-once', retryable: true, claim: 1 });
        await f.store.claimUnlessSuppressed(f.store.workspaceId, id, 'x@gmail.example');
        return out;
      },
    };
    expect(await run(f, id, { ...f.deps, sender })).toEqual({ status: 'sent', messageId: 'fake-1', superseded: true });
    expect(f.store.emails.get(id)).toMatchObject({ status: 'sending', attempt: 2 });
    expect(f.store.emails.get(id)!.message_id ?? null).toBeNull();
  });

  it('the time budget running out while the request is at SES does not abort it: the answer is read and recorded', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const budget = new AbortController();
    let seen: AbortSignal | undefined;
    const sender = {
      async send(message: Parameters<typeof f.sender.send>[0], signal: AbortSignal, options?: Parameters<typeof f.sender.send>[2]) {
        await options?.beforeRequest?.();
        seen = signal;
        budget.abort(Object.assign(new Error('job exceeded its time budget'), { name: 'JobTimeoutError' }));
        await new Promise((r) => setTimeout(r, 10));
        if (signal.aborted) throw signal.reason;
        return { messageId: 'ses-late-answer' };
      },
    };
    expect(await run(f, id, { ...f.deps, sender }, budget.signal)).toEqual({ status: 'sent', messageId: 'ses-late-answer' });
    expect(seen?.aborted).toBe(false);
    expect(f.store.emails.get(id)).toMatchObject({ status: 'sent', message_id: 'ses-late-answer' });
  });

  it('a job aborted before its request left (time budget overdue after a freeze) gives the claim back, even over an expired lease, and a follow-up job sends it', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const budget = new AbortController();
    const sender = {
      async send(_message: Parameters<typeof f.sender.send>[0], signal: AbortSignal) {
        // resumed after a freeze: another attempt already marked the claim unknown, the budget is gone
        f.clock.now = new Date(f.clock.now.getTime() + 121_000);
        await f.store.expireLease(f.store.workspaceId, id, 120_000);
        budget.abort(Object.assign(new Error('job exceeded its time budget'), { name: 'JobTimeoutError' }));
        if (signal.aborted) throw signal.reason; // as the SDK does before the request leaves
        return { messageId: 'never' };
      },
    };
    expect(await run(f, id, { ...f.deps, sender }, budget.signal)).toMatchObject({ status: 'deferred', reason: 'aborted' });
    expect(f.store.status(id)).toBe('scheduled');
    expect(f.followUps.jobs).toEqual([expect.objectContaining({ key: `${id}.a1` })]);
  });

  it('a shutdown while the request is at SES records what is known at once (unknown, this claim), then the answer', async () => {
    const f = createFakeDeps();
    const id = f.store.addSend();
    const shutdown = new AbortController();
    let statusAtAbort: string | undefined;
    const sender = {
      async send(_message: Parameters<typeof f.sender.send>[0], _signal: AbortSignal, options?: Parameters<typeof f.sender.send>[2]) {
        await options?.beforeRequest?.();
        shutdown.abort(Object.assign(new Error('worker is shutting down'), { name: 'ShutdownAbortError' }));
        await new Promise((r) => setTimeout(r, 10));
        statusAtAbort = f.store.status(id);
        return { messageId: 'ses-answer' };
      },
    };
    expect(await run(f, id, { ...f.deps, sender }, shutdown.signal)).toEqual({ status: 'sent', messageId: 'ses-answer' });
    expect(statusAtAbort).toBe('unknown');
    expect(f.store.emails.get(id)).toMatchObject({ status: 'sent', message_id: 'ses-answer' });
  });
});
