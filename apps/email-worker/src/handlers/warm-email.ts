import { PermanentJobError, RetryAfterError, type WarmEmailForm, warmEmail, warmEmailForm, warmupBatchOf, warmupBatchShare } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { EmailConfig } from '../config.js';
import type { EmailDeps } from '../deps.js';
import { unsubscribeLinks } from '../domain/unsubscribe.js';
import { isSendError } from '../providers/email-sender.js';
import type { WarmEmailRequest, WarmupDayStep, WarmupToAdvance, WarmupToSend } from '../providers/warmup-store.js';

export type WarmEmailSendResult = { status: 'sent'; messageId: string } | { status: 'skipped'; reason: string } | { status: 'unknown'; reason: string };

/** What one day advance did (also run at the start of every send batch, usually a no-op). */
export interface WarmupAdvanceResult {
  readonly form: 'advance-day';
  readonly date: string;
  /** ramps moved to their next day and cap */
  readonly advanced: number;
  /** ramps kept on their day and cap (yesterday failed a gate or sent nothing) */
  readonly held: number;
  readonly pages: number;
}

/** What one send batch did. */
export interface WarmupFanOutResult {
  readonly form: 'fan-out';
  readonly date: string;
  /** 0-3: the batch of the day (08, 12, 16, 20 UTC) */
  readonly batch: number;
  readonly slot: string;
  /** warm-ups not yet fanned out for this batch */
  readonly warmups: number;
  /** per-mailbox warm-email jobs enqueued */
  readonly enqueued: number;
  /** warm-ups whose day's cap is reached (or zero) */
  readonly capped: number;
  /** warm-ups with no active account to send to */
  readonly noPeer: number;
  readonly pages: number;
  /** the day advance this batch made sure of (it is done once per day, normally at 00:00) */
  readonly advance: { readonly advanced: number; readonly held: number };
}

export type WarmEmailResult = WarmEmailSendResult | WarmupFanOutResult | WarmupAdvanceResult;

/** Warm-ups judge a day only after this many sends (warm-up volumes are small). */
const WARMUP_MIN_SENDS = 20;

/** Warm-ups read per fan-out page. */
export const WARMUP_PAGE_SIZE = 500;

/** A batch's sends are spread over this much time after the batch starts (no burst at the hour). */
export const WARMUP_BATCH_SPREAD_MS = 3 * 3_600_000;

/** The day's cap of the ramp: start, plus the daily growth per day, up to the target. */
export function warmupCap(config: EmailConfig['warmup'], dayNumber: number, accountMax = Number.POSITIVE_INFINITY): number {
  const ramp = config.startVolume + config.dailyGrowth * Math.max(0, dayNumber - 1);
  return Math.max(0, Math.min(ramp, config.targetVolume, accountMax));
}

/**
 * The cap a warm-up sends under on its day: the configured ramp for the day and the account's
 * maximum (warmupCap), and the cap stored on the warm-up by the day advance (current_daily_limit,
 * target_daily), so a held ramp keeps its cap. Seqs are 0-999 (warm-email schema).
 */
export function warmupDayCap(
  config: EmailConfig['warmup'],
  w: { dayNumber: number; currentDailyLimit: number; targetDaily: number; accountMax: number },
): number {
  return Math.min(warmupCap(config, w.dayNumber, w.accountMax), w.currentDailyLimit, w.targetDaily, 1000);
}

const SUBJECTS = ['Quick follow-up', 'Notes from today', 'Re: schedule for next week', 'Thanks for the update', 'Question about the draft'];

/**
 * warm-email in its three forms (queue-core email.jobs.ts):
 *
 * - per mailbox: one send (sendWarmEmail below);
 * - send batch (`fanOut: true`, the `warm-up-sends` schedule at 08, 12, 16, 20 UTC): fanOut below;
 * - day advance (`fanOut: true, advanceDay: true`, the `warm-up-day-advance` schedule at 00:00 UTC):
 *   advanceDay below.
 *
 * Why the advance is both its own 00:00 run and the first step of every batch: the ramp must move
 * once per day and before the day's first batch reads the caps. The 00:00 run does it on time
 * (docs/schedules-and-retention.md, and the sender's sends_today restarts at midnight); the batch repeats the same
 * step, guarded per warm-up and date (`advanced_on`), which is a no-op when midnight ran and the
 * advance itself when that run was late or lost (a worker down at 00:00, a failed attempt). So a
 * batch never sends on yesterday's ramp, and no warm-up advances twice in a day.
 */
export const warmEmailHandler: Handler<typeof warmEmail, EmailDeps> = async (payload, ctx): Promise<WarmEmailResult> => {
  const form = warmEmailForm(payload);
  switch (form.kind) {
    case 'mailbox':
      return sendWarmEmail(form, ctx);
    case 'advance-day':
      return advanceDay(warmupBatchOf(form.slot ?? ctx.scheduledAt).date, ctx);
    default:
      return fanOut(form, ctx);
  }
};

/**
 * Send batch: pages through the warm-ups of every workspace not yet fanned out for this batch
 * (active, mailbox neither paused nor disabled, sender account active), and for each one whose
 * day's cap is not reached enqueues this batch's quarter of the cap (warmupBatchShare: seqs
 * `[cap·b/4, cap·(b+1)/4)`, without the seqs already claimed) as per-mailbox jobs keyed
 * `warm:{campaign}:{sender}:{date}:{seq}`, spread over the next hours; then records the batch on
 * the warm-up (`last_batch`), so a repeated or duplicated run in the same batch enqueues nothing.
 * A crash between the enqueue and that record only leads to the same job ids again (no-ops in
 * Bull), and the claim row keeps every seq to one email anyway. A missed batch's share is not
 * made up later: the cap is a ceiling, and sending it in a burst is what warm-up avoids.
 */
async function fanOut(form: Extract<WarmEmailForm, { kind: 'fan-out' }>, ctx: JobContext<EmailDeps>): Promise<WarmupFanOutResult> {
  const { deps, log } = ctx;
  const { date, batch, slot } = warmupBatchOf(form.slot ?? ctx.scheduledAt);
  const advance = await advanceDay(date, ctx);
  const traceId = form.traceId ?? `warm-up-${slot}`;
  // spread from now (the batch may run late), never past the end of the date
  const now = deps.now().getTime();
  const endOfDate = Date.parse(`${date}T23:50:00Z`);
  const spreadMs = Math.max(0, Math.min(WARMUP_BATCH_SPREAD_MS, endOfDate - now));
  const result = {
    form: 'fan-out' as const,
    date,
    batch,
    slot,
    warmups: 0,
    enqueued: 0,
    capped: 0,
    noPeer: 0,
    pages: 0,
    advance: { advanced: advance.advanced, held: advance.held },
  };
  let after: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    const page = await deps.warmups.warmupsToSend({ date, batchSlot: slot, after, limit: WARMUP_PAGE_SIZE });
    result.pages++;
    result.warmups += page.length;
    const jobs: WarmEmailRequest[] = [];
    for (const w of page) {
      const planned = batchJobs(w, { date, batch, spreadMs, traceId }, deps.config.warmup);
      if (planned === 'capped') result.capped++;
      else if (planned === 'no-peer') result.noPeer++;
      else jobs.push(...planned);
    }
    // deterministic ids (`warm-email.<campaign>.<sender>.<date>.<seq>`): a job Redis still knows is not added again
    if (jobs.length > 0) {
      await ctx.enqueueBulk(
        warmEmail,
        jobs.map(({ delayMs, traceId, ...j }) => ({
          data: { ...j, requestedBy: 'system', ...(traceId !== undefined ? { traceId } : {}) },
          options: delayMs > 0 ? { delay: Math.round(delayMs) } : {},
        })),
      );
    }
    result.enqueued += jobs.length;
    await deps.warmups.markBatched(
      page.map((w) => ({ workspaceId: w.workspace_id, warmupCampaignId: w.warmup_campaign_id })),
      slot,
    );
    await ctx.progress({ stage: 'fan-out', pages: result.pages, enqueued: result.enqueued });
    if (page.length < WARMUP_PAGE_SIZE) break;
    after = page[page.length - 1]!.warmup_campaign_id;
  }
  if (result.warmups > 0)
    log.info('warm-up batch fan-out', { slot, warmups: result.warmups, enqueued: result.enqueued, capped: result.capped, noPeer: result.noPeer });
  return result;
}

/** This batch's jobs for one warm-up, or why it has none. */
export function batchJobs(
  w: WarmupToSend,
  b: { date: string; batch: number; spreadMs: number; traceId?: string },
  config: EmailConfig['warmup'],
): WarmEmailRequest[] | 'capped' | 'no-peer' {
  const cap = warmupDayCap(config, {
    dayNumber: w.day_number,
    currentDailyLimit: w.daily_limit,
    targetDaily: w.daily_limit,
    accountMax: w.max_sends_per_day,
  });
  const claimed = new Set(w.claimed_seqs);
  if (claimed.size >= cap) return 'capped';
  if (w.peer_ids.length === 0) return 'no-peer';
  const { from, to } = warmupBatchShare(cap, b.batch);
  const seqs: number[] = [];
  for (let seq = from; seq < to; seq++) if (!claimed.has(seq)) seqs.push(seq);
  // deterministic: the same warm-up and seq always get the same peer and place in the batch
  const offset = parseInt(w.sender_account_id.slice(0, 8), 16);
  const phase = (offset % 1000) / 1000;
  return seqs.map((seq, i) => ({
    workspaceId: w.workspace_id,
    warmupCampaignId: w.warmup_campaign_id,
    senderAccountId: w.sender_account_id,
    recipientAccountId: w.peer_ids[(offset + seq) % w.peer_ids.length]!,
    dayNumber: w.day_number,
    date: b.date,
    seq,
    delayMs: Math.floor(((i + phase) * b.spreadMs) / seqs.length),
    ...(b.traceId !== undefined ? { traceId: b.traceId } : {}),
  }));
}

/**
 * The ramp advance (email-ses-sns.md §8 "ramp advance"): next day, next cap = min(target, the
 * configured ramp for that day) (previous + dailyGrowth), only if yesterday passed the gates;
 * otherwise hold (same day, same cap). Yesterday fails when it sent nothing (no evidence, e.g. a
 * warm-up created late or a paused mailbox), was marked unhealthy (a freeze), had any complaint
 * (one complaint freezes the ramp for a day), or, from WARMUP_MIN_SENDS sends on, bounced above
 * BOUNCE_RATE_LIMIT.
 */
export function rampStep(
  w: WarmupToAdvance,
  config: Pick<EmailConfig, 'warmup' | 'reputation'>,
): WarmupDayStep & { readonly hold?: 'no-sends' | 'unhealthy' | 'complaint' | 'bounce-rate' | 'last-day' } {
  const y = w.yesterday;
  const base = { workspaceId: w.workspace_id, warmupCampaignId: w.warmup_campaign_id, fromDay: w.day_number };
  const hold = (reason: 'no-sends' | 'unhealthy' | 'complaint' | 'bounce-rate' | 'last-day') => ({
    ...base,
    day: w.day_number,
    cap: w.current_daily_limit,
    hold: reason,
  });
  if (!y || y.sent <= 0) return hold('no-sends');
  if (!y.is_healthy) return hold('unhealthy');
  if (y.spam > 0) return hold('complaint');
  if (y.sent >= WARMUP_MIN_SENDS && y.bounced / y.sent > config.reputation.bounceRate) return hold('bounce-rate');
  if (w.day_number >= 365) return hold('last-day'); // dayNumber's bound in the warm-email schema
  const day = w.day_number + 1;
  return { ...base, day, cap: Math.min(w.target_daily, warmupCap(config.warmup, day)) };
}

/** Day advance for `date`, every workspace, in pages; a warm-up already advanced (or held) for it is not read. */
async function advanceDay(date: string, ctx: JobContext<EmailDeps>): Promise<WarmupAdvanceResult> {
  const { deps } = ctx;
  const result = { form: 'advance-day' as const, date, advanced: 0, held: 0, pages: 0 };
  let after: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    const page = await deps.warmups.warmupsToAdvance({ date, after, limit: WARMUP_PAGE_SIZE });
    result.pages++;
    const applied = await deps.warmups.stepDays(
      page.map((w) => rampStep(w, deps.config)),
      date,
    );
    result.advanced += applied.advanced;
    result.held += applied.held;
    if (page.length < WARMUP_PAGE_SIZE) break;
    after = page[page.length - 1]!.warmup_campaign_id;
  }
  if (result.advanced + result.held > 0) ctx.log.info('warm-up day advance', { date, advanced: result.advanced, held: result.held });
  return result;
}

/**
 * One warm-up email from a mailbox to an account of its pool: within the day's ramp cap, at most
 * once per (campaign, sender, date, seq) through a claim row, gated on yesterday's and today's
 * bounce and complaint rates (a crossing freezes the ramp and pauses the mailbox).
 */
async function sendWarmEmail(payload: Extract<WarmEmailForm, { kind: 'mailbox' }>, ctx: JobContext<EmailDeps>): Promise<WarmEmailSendResult> {
  const { deps, signal } = ctx;
  const ws = payload.workspaceId;
  const store = deps.warmups;
  const w = await store.load(ws, payload);
  if (w.sender.mailbox_id !== w.campaign.mailbox_id) throw new PermanentJobError('sender account is not the warm-up campaign’s mailbox');
  if (w.campaign.status !== 'active') return { status: 'skipped', reason: `warmup-${w.campaign.status}` };
  if (w.mailbox.status === 'paused' || w.mailbox.status === 'disabled') return { status: 'skipped', reason: `mailbox-${w.mailbox.status}` };
  if (w.sender.status !== 'active' || w.recipient.status !== 'active') return { status: 'skipped', reason: 'account-inactive' };

  const cap = warmupDayCap(deps.config.warmup, {
    dayNumber: payload.dayNumber,
    currentDailyLimit: w.campaign.current_daily_limit,
    targetDaily: w.campaign.target_daily,
    accountMax: w.sender.max_sends_per_day,
  });
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
        await ctx.pauseQueue(); // every replica, every shard
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
}
