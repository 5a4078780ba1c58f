import { PermanentJobError, RetryAfterError, type warmEmail } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/worker';
import type { EmailConfig } from '../config.js';
import type { EmailDeps } from '../deps.js';
import { unsubscribeLinks } from '../domain/unsubscribe.js';
import { isSendError } from '../providers/email-sender.js';

export type WarmEmailResult = { status: 'sent'; messageId: string } | { status: 'skipped'; reason: string } | { status: 'unknown'; reason: string };

/** Warm-ups judge a day only after this many sends (warm-up volumes are small). */
const WARMUP_MIN_SENDS = 20;

/** The day's cap of the ramp: start, plus the daily growth per day, up to the target. */
export function warmupCap(config: EmailConfig['warmup'], dayNumber: number, accountMax = Number.POSITIVE_INFINITY): number {
  const ramp = config.startVolume + config.dailyGrowth * Math.max(0, dayNumber - 1);
  return Math.max(0, Math.min(ramp, config.targetVolume, accountMax));
}

const SUBJECTS = ['Quick follow-up', 'Notes from today', 'Re: schedule for next week', 'Thanks for the update', 'Question about the draft'];

/**
 * One warm-up email from a mailbox to an account of its pool: within the day's ramp cap, at most
 * once per (campaign, sender, date, seq) through a claim row, gated on yesterday's and today's
 * bounce and complaint rates (a crossing freezes the ramp and pauses the mailbox).
 */
export const warmEmailHandler: Handler<typeof warmEmail, EmailDeps> = async (payload, ctx): Promise<WarmEmailResult> => {
  const { deps, signal } = ctx;
  const ws = payload.workspaceId;
  const store = deps.warmups;
  const w = await store.load(ws, payload);
  if (w.sender.mailbox_id !== w.campaign.mailbox_id) throw new PermanentJobError('sender account is not the warm-up campaign’s mailbox');
  if (w.campaign.status !== 'active') return { status: 'skipped', reason: `warmup-${w.campaign.status}` };
  if (w.mailbox.status === 'paused' || w.mailbox.status === 'disabled') return { status: 'skipped', reason: `mailbox-${w.mailbox.status}` };
  if (w.sender.status !== 'active' || w.recipient.status !== 'active') return { status: 'skipped', reason: 'account-inactive' };

  const cap = warmupCap(deps.config.warmup, payload.dayNumber, w.sender.max_sends_per_day);
  if (payload.seq >= cap) return { status: 'skipped', reason: 'cap-reached' };

  // gates: the previous day and today so far
  const { bounceRate, complaintRate } = deps.config.reputation;
  const yesterday = new Date(Date.parse(`${payload.date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  for (const day of [yesterday, payload.date]) {
    const s = await store.stats(ws, w.campaign.id, day);
    if (!s || s.sent < WARMUP_MIN_SENDS) continue;
    const reasons = [
      ...(s.bounced / s.sent > bounceRate ? [`bounce rate ${((s.bounced / s.sent) * 100).toFixed(1)}% on ${day}`] : []),
      ...(s.spam / s.sent > complaintRate ? [`complaint rate ${((s.spam / s.sent) * 100).toFixed(2)}% on ${day}`] : []),
    ];
    if (reasons.length > 0) {
      const reason = `warm-up: ${reasons.join('; ')}`;
      await store.freeze(ws, w.campaign.id, w.mailbox.id, payload.date, reason);
      await deps.alerter.alert('warning', 'warm-up frozen and mailbox paused', { mailboxId: w.mailbox.id, reason });
      return { status: 'skipped', reason: 'unhealthy' };
    }
  }

  // the account's send rate is shared with campaign sends (waits here, before the claim)
  await deps.limits.acquireSendSlot(ws, w.recipient.email.split('@')[1] ?? '', signal);

  const key = `${payload.warmupCampaignId}:${payload.senderAccountId}:${payload.date}:${payload.seq}`;
  const subject = SUBJECTS[(payload.dayNumber + payload.seq) % SUBJECTS.length]!;
  const claimId = await store.claim(ws, { ...payload, key, subject });
  if (!claimId) return { status: 'skipped', reason: 'already-sent' };

  const text = `Hi,\n\nJust checking in on this (day ${payload.dayNumber}, #${payload.seq + 1}).\n\nBest,\n${w.mailbox.email}`;
  const links = unsubscribeLinks(deps.config.unsubscribe, { workspaceId: ws, leadId: w.recipient.id, campaignId: w.campaign.id });
  try {
    const { messageId } = await deps.sender.send(
      {
        from: { address: w.mailbox.email },
        to: w.recipient.email,
        subject,
        text,
        html: `<p>${text.replace(/\n\n/g, '</p><p>').replace(/\n/g, '<br>')}</p>`,
        unsubscribe: links,
        configurationSet: w.mailbox.configuration_set ?? deps.config.defaultConfigurationSet,
        tags: { send_id: claimId, campaign_id: w.campaign.id, lead_id: w.recipient.id, workspace_id: ws, mailbox_id: w.mailbox.id },
      },
      signal,
    );
    await store.complete(ws, { id: claimId, messageId, sentAt: deps.now(), warmupCampaignId: w.campaign.id, senderAccountId: w.sender.id, date: payload.date });
    return { status: 'sent', messageId };
  } catch (err) {
    if (!isSendError(err) || err.kind === 'unknown') {
      // may have been sent: keep the claim, never resend this slot
      if (isSendError(err)) return { status: 'unknown', reason: err.code };
      await store.release(ws, claimId);
      throw err;
    }
    await store.release(ws, claimId); // definitely not sent
    switch (err.kind) {
      case 'throttled':
        throw new RetryAfterError(err.retryAfterMs ?? deps.config.sesThrottleRetryMs, err.message);
      case 'daily-quota':
        return { status: 'skipped', reason: 'ses-daily-quota' }; // warm-up yields to campaign sends
      case 'account-paused':
        await deps.queueControl.pauseEmailQueue(`SES ${err.code}`);
        await deps.alerter.alert('page', 'SES account sending is paused: email queue paused', { code: err.code });
        throw new RetryAfterError(60_000, err.message);
      case 'mailbox-paused':
        await store.freeze(ws, w.campaign.id, w.mailbox.id, payload.date, `SES ${err.code}`);
        return { status: 'skipped', reason: 'mailbox-paused' };
      case 'rejected':
        throw new PermanentJobError(`SES rejected the warm-up email: ${err.message}`, { cause: err });
      default:
        throw err;
    }
  }
};
