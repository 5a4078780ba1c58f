import { randomUUID } from 'node:crypto';
import { PermanentJobError, RetryAfterError } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext, testConfig } from '../../test/fixtures/fake-deps.js';
import { SendError } from '../providers/email-sender.js';
import { createFakeWarmupStore } from '../providers/fake-warmup-store.js';
import { warmEmailHandler, warmupCap } from './warm-email.js';

const WS = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const TODAY = '2026-12-01'; // the fake clock's day
const YESTERDAY = '2026-11-30';

function setup(senderScript: Array<Error | null> = []) {
  const f = createFakeDeps({ senderScript });
  const warmups = createFakeWarmupStore([], WS);
  const deps = { ...f.deps, warmups };
  const run = (seq: number, dayNumber = 1) =>
    warmEmailHandler(
      {
        workspaceId: WS,
        requestedBy: 'system',
        warmupCampaignId: warmups.campaign.id,
        senderAccountId: warmups.sender.id,
        recipientAccountId: warmups.recipient.id,
        dayNumber,
        date: TODAY,
        seq,
      },
      fakeContext(deps, { recorder: f.recorder }),
    );
  return { ...f, warmups, run };
}

describe('warm-email handler', () => {
  it('ramps from the start volume by the daily growth up to the target and the account maximum', () => {
    expect(warmupCap(testConfig.warmup, 1)).toBe(5);
    expect(warmupCap(testConfig.warmup, 3)).toBe(15);
    expect(warmupCap(testConfig.warmup, 30)).toBe(40);
    expect(warmupCap(testConfig.warmup, 30, 20)).toBe(20);
    expect(warmupCap(testConfig.warmup, 0)).toBe(5);
  });

  it('sends one warm-up email from the mailbox to the peer, tagged and counted, once per slot', async () => {
    const s = setup();
    expect(await s.run(0)).toEqual({ status: 'sent', messageId: 'fake-1' });
    const [msg] = s.sender.sent;
    expect(msg).toMatchObject({
      from: { address: 'sales@acme.example' },
      to: 'peer@peer.example',
      subject: 'Notes from today',
      configurationSet: 'acme-warmup',
    });
    expect(msg!.text).toContain('day 1, #1');
    expect(msg!.html).toMatch(/^<p>Hi,<\/p>/);
    expect(msg!.unsubscribe.url).toMatch(/^https:\/\/app\.example\.com\/u\//);
    const [claim] = [...s.warmups.claims.values()];
    expect(claim).toMatchObject({ key: `${s.warmups.campaign.id}:${s.warmups.sender.id}:${TODAY}:0`, messageId: 'fake-1' });
    expect(msg!.tags).toEqual({
      send_id: claim!.id,
      campaign_id: s.warmups.campaign.id,
      lead_id: s.warmups.recipient.id,
      workspace_id: WS,
      mailbox_id: s.warmups.mailbox.id,
    });
    expect(s.limits.slots).toEqual([{ workspaceId: WS, domain: 'peer.example' }]);
    expect(s.warmups.statsByDay.get(TODAY)?.sent).toBe(1);

    // the same slot again (a retried or duplicated job): never a second email
    expect(await s.run(0)).toEqual({ status: 'skipped', reason: 'already-sent' });
    expect(s.sender.calls).toBe(1);
  });

  it('stops at the day’s cap', async () => {
    const s = setup();
    expect(await s.run(4)).toMatchObject({ status: 'sent' }); // day 1: seq 0-4
    expect(await s.run(5)).toEqual({ status: 'skipped', reason: 'cap-reached' });
    expect(await s.run(14, 3)).toMatchObject({ status: 'sent' }); // day 3: seq 0-14
    expect(await s.run(15, 3)).toEqual({ status: 'skipped', reason: 'cap-reached' });
    s.warmups.sender.max_sends_per_day = 2;
    expect(await s.run(2, 3)).toEqual({ status: 'skipped', reason: 'cap-reached' });
    expect(s.sender.calls).toBe(2);
  });

  it('skips paused warm-ups, paused mailboxes and inactive accounts; refuses a sender of another mailbox', async () => {
    const paused = setup();
    paused.warmups.campaign.status = 'paused';
    expect(await paused.run(0)).toEqual({ status: 'skipped', reason: 'warmup-paused' });
    const mailbox = setup();
    mailbox.warmups.mailbox.status = 'paused';
    expect(await mailbox.run(0)).toEqual({ status: 'skipped', reason: 'mailbox-paused' });
    const account = setup();
    account.warmups.recipient.status = 'error';
    expect(await account.run(0)).toEqual({ status: 'skipped', reason: 'account-inactive' });
    const foreign = setup();
    foreign.warmups.sender.mailbox_id = randomUUID();
    await expect(foreign.run(0)).rejects.toBeInstanceOf(PermanentJobError);
    expect([paused, mailbox, account, foreign].reduce((n, s) => n + s.sender.calls, 0)).toBe(0);
  });

  it('freezes the ramp, pauses the mailbox and alerts when yesterday or today crossed a rate; small days do not count', async () => {
    const small = setup();
    small.warmups.statsByDay.set(YESTERDAY, { date: YESTERDAY, sent: 19, delivered: 10, bounced: 9, spam: 0, is_healthy: false });
    expect(await small.run(0)).toMatchObject({ status: 'sent' });

    const bounced = setup();
    bounced.warmups.statsByDay.set(YESTERDAY, { date: YESTERDAY, sent: 40, delivered: 36, bounced: 4, spam: 0, is_healthy: false });
    expect(await bounced.run(0)).toEqual({ status: 'skipped', reason: 'unhealthy' });
    expect(bounced.warmups.campaign.status).toBe('frozen');
    expect(bounced.warmups.mailbox.status).toBe('paused');
    expect(bounced.warmups.frozen).toEqual([{ date: TODAY, reason: `warm-up: bounce rate 10.0% on ${YESTERDAY}` }]);
    expect(bounced.ops.alerts).toEqual([expect.objectContaining({ severity: 'warning', message: 'warm-up frozen and mailbox paused' })]);
    expect(bounced.sender.calls).toBe(0);

    const spam = setup();
    spam.warmups.statsByDay.set(TODAY, { date: TODAY, sent: 20, delivered: 20, bounced: 0, spam: 1, is_healthy: false });
    expect(await spam.run(0)).toEqual({ status: 'skipped', reason: 'unhealthy' });
    expect(spam.warmups.frozen[0]!.reason).toBe(`warm-up: complaint rate 5.00% on ${TODAY}`);
  });

  it('SES throttling releases the slot and retries after the hint; a retry then sends', async () => {
    const s = setup([new SendError('throttled', 'Maximum sending rate exceeded', 'Throttling', { retryAfterMs: 1500 })]);
    const err = await s.run(0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryAfterError);
    expect((err as RetryAfterError).retryAfterMs).toBe(1500);
    expect(s.warmups.claims.size).toBe(0);
    expect(await s.run(0)).toMatchObject({ status: 'sent' });
  });

  it('an unknown outcome keeps the slot claimed: never resent', async () => {
    const s = setup([new SendError('unknown', 'socket hang up', 'TimeoutError')]);
    expect(await s.run(0)).toEqual({ status: 'unknown', reason: 'TimeoutError' });
    expect(s.warmups.claims.size).toBe(1);
    expect(await s.run(0)).toEqual({ status: 'skipped', reason: 'already-sent' });
    expect(s.sender.calls).toBe(1);
  });

  it('maps the other SES failures: rejected, daily quota, account paused, mailbox paused', async () => {
    const rejected = setup([new SendError('rejected', 'Email address is not verified', 'MessageRejected')]);
    await expect(rejected.run(0)).rejects.toBeInstanceOf(PermanentJobError);
    expect(rejected.warmups.claims.size).toBe(0);

    const quota = setup([new SendError('daily-quota', 'Daily message quota exceeded', 'Throttling')]);
    expect(await quota.run(0)).toEqual({ status: 'skipped', reason: 'ses-daily-quota' });

    const account = setup([new SendError('account-paused', 'Sending paused for this account', 'AccountSendingPausedException')]);
    await expect(account.run(0)).rejects.toBeInstanceOf(RetryAfterError);
    expect(account.recorder.queue).toMatchObject({ paused: true, pauses: 1 });
    expect(account.ops.alerts).toEqual([expect.objectContaining({ severity: 'page' })]);

    const mailbox = setup([new SendError('mailbox-paused', 'Configuration set sending paused', 'ConfigurationSetSendingPausedException')]);
    expect(await mailbox.run(0)).toEqual({ status: 'skipped', reason: 'mailbox-paused' });
    expect(mailbox.warmups.mailbox.status).toBe('paused');
    expect(mailbox.warmups.frozen).toEqual([{ date: TODAY, reason: 'SES ConfigurationSetSendingPausedException' }]);
    for (const s of [quota, account, mailbox]) expect(s.warmups.claims.size).toBe(0);
  });

  it('a failure before the request left releases the slot and is retried', async () => {
    const s = setup([new Error('could not build the message')]);
    await expect(s.run(0)).rejects.toThrow('could not build the message');
    expect(s.warmups.claims.size).toBe(0);
    expect(await s.run(0)).toMatchObject({ status: 'sent' });
  });
});
