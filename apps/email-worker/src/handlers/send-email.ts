import { PermanentJobError, RetryAfterError, sendEmail } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { EmailDeps } from '../deps.js';
import { alignToWindow, nextUtcMidnight, utcDay, type SendWindow } from '../domain/schedule.js';
import { renderStep } from '../domain/render.js';
import { unsubscribeLinks } from '../domain/unsubscribe.js';
import { isSendError, type OutgoingEmail } from '../providers/email-sender.js';
import type { SendContext } from '../providers/email-store.js';
import type { SendSlot } from '../providers/send-limits.js';

/** how much earlier than the ledger's lease the sender stops putting requests on the wire */
export const LEASE_SAFETY_MS = 5000;

const isClaimLost = (err: unknown) => (err as Error)?.name === 'ClaimLostError';

export type SendEmailResult =
  | { status: 'sent'; messageId: string; journalled?: true; superseded?: true }
  | { status: 'skipped'; reason: string }
  | { status: 'deferred'; reason: string; until: string }
  | { status: 'unknown'; reason: string };

/**
 * Sends one ledger row at most once (email-ses-sns.md §12):
 *   load → pre-checks (status, campaign, enrolment, mailbox, consent) → mailbox daily cap →
 *   domain + account rate slots (waits in the handler, shared by all replicas) → claim unless
 *   suppressed (one statement) → the slot still fresh (else a new one) → SES → record.
 * The claim sits right before the SES call so that a worker killed between the two leaves as
 * little as possible in `sending`. Waiting happens before the claim; a wait too long for the
 * handler (or a cap reached) reschedules the row and enqueues a delayed follow-up job with a new
 * deterministic id, so deferrals never use up Bull attempts.
 */
export const sendEmailHandler: Handler<typeof sendEmail, EmailDeps> = async (payload, ctx): Promise<SendEmailResult> => {
  const { deps, log, signal } = ctx;
  const { store, limits, config } = deps;
  const ws = payload.workspaceId;
  const id = payload.campaignEmailId;
  const now = deps.now();

  const send = await store.loadSend(ws, id);
  const row = send.email;

  if (row.status === 'sending') {
    // Another attempt claimed it: a stalled or duplicated job. Never send; wait for its lease.
    if (await store.expireLease(ws, id, config.leaseMs)) {
      log.warn('send lease expired: outcome unknown until the campaign tick finds no wire mark (sent again) or the SES Send event arrives', {
        campaignEmailId: id,
      });
      return { status: 'unknown', reason: 'lease-expired' };
    }
    const claimedAt = row.claimed_at?.getTime() ?? now.getTime();
    throw new RetryAfterError(Math.max(1000, claimedAt + config.leaseMs - now.getTime() + 1000), 'send in flight elsewhere');
  }
  if (row.status !== 'scheduled' && row.status !== 'retryable') return { status: 'skipped', reason: `already-${row.status}` };
  if (row.scheduled_at.getTime() > now.getTime() + 1000) {
    // an early duplicate (the row was deferred after this job was enqueued): its follow-up job sends it
    return { status: 'deferred', reason: 'not-due', until: row.scheduled_at.toISOString() };
  }

  const stop = await reasonToStop(send, payload.checkConsent, deps);
  if (stop === 'campaign-paused') return { status: 'skipped', reason: stop }; // stays scheduled for the resume
  if (stop) {
    await store.cancel(ws, id, stop, { endEnrolmentId: stop === 'no-step' || stop.startsWith('enrolment-') ? undefined : send.enrolment.id });
    return { status: 'skipped', reason: stop };
  }

  const mailbox = send.mailbox;
  if (!mailbox || mailbox.status !== 'active') {
    return defer(send, new Date(now.getTime() + 3_600_000), 'no-active-mailbox', 'mb', ctx);
  }

  // rendered before anything is taken or claimed: a template or configuration error fails the job
  // without leaving a claimed row, and the time between the rate grant and SES stays short
  const message = buildMessage(send, mailbox, deps);

  // 1. the mailbox's daily cap (counted per UTC day, given back when the send does not happen)
  const day = utcDay(now);
  if (!(await limits.takeMailboxDaily(ws, mailbox.id, mailbox.daily_cap, day))) {
    const window = sendWindow(send);
    return defer(
      send,
      alignToWindow(new Date(jitter(nextUtcMidnight(now).getTime(), 600_000)), window),
      'mailbox-daily-cap',
      `cap${day.replaceAll('-', '')}`,
      ctx,
    );
  }
  let countedToday = true;
  const release = async () => {
    if (countedToday) await limits.releaseMailboxDaily(ws, mailbox.id, day);
    countedToday = false;
  };

  try {
    // 2. recipient domain and SES account rate (waits here; RetryAfterError when too far away)
    const domain = send.lead.email.split('@')[1] ?? '';
    let slot: SendSlot;
    try {
      slot = await limits.acquireSendSlot(ws, domain, signal);
    } catch (err) {
      if (!(err instanceof RetryAfterError)) throw err;
      await release();
      return defer(send, new Date(deps.now().getTime() + err.retryAfterMs), 'rate-limit', `w${Math.floor(deps.now().getTime() / 1000)}`, ctx);
    }

    // 3. claim, unless the recipient is suppressed: one atomic step right before the SES call, so
    //    exactly one attempt wins and nothing suppressed in between gets through. The lease runs
    //    from the claim's statement; timed from before it was sent, on the monotonic clock (which
    //    keeps counting through a freeze: SIGSTOP, a GC or VM pause), this attempt's view of its
    //    lease ends no later than the database's.
    const claimStartedAt = performance.now();
    const claim = await store.claimUnlessSuppressed(ws, id, send.lead.email);
    if (!claim.claimed) {
      await release();
      if ('suppressed' in claim) {
        await store.cancel(ws, id, 'suppressed', { endEnrolmentId: send.enrolment.id });
        log.info('recipient suppressed, send skipped', { campaignEmailId: id });
        return { status: 'skipped', reason: 'suppressed' };
      }
      return { status: 'skipped', reason: `claimed-elsewhere-${claim.status}` };
    }
    // the claim token (campaign_emails.attempt): every ledger write of this attempt carries it
    const attempt = claim.email.attempt;
    // tagged with its claim: its SES events then settle this claim only (process-webhook)
    const claimed: OutgoingEmail = { ...message, tags: { ...message.tags, claim: String(attempt) } };
    const leaseEndsAt = claimStartedAt + config.leaseMs - (config.leaseSafetyMs ?? LEASE_SAFETY_MS);

    // 4. SES. Right before the request goes on the wire (composed and signed), without a round
    //    trip to the ledger: the account slot is still fresh (SES counts arrivals; after a slow
    //    claim or a stall, a fresh slot, too far away → the claim is given back, the send
    //    deferred); this attempt's lease has not run out on the monotonic clock (a frozen worker
    //    whose lease another attempt may have taken over never sends: the claim is given back,
    //    fenced by its token); and its on-the-wire mark is written once the slot has come (its
    //    Redis round trip counts in the slot's age), the lease checked before and after it. A claim
    //    that lapses without that mark (the worker was killed between its claim and the request)
    //    provably never sent: the campaign tick sends it again instead of leaving it unknown.
    let slotError: { err: unknown } | undefined;
    let markError: { err: unknown } | undefined;
    let leaseLost = false;
    let onWire = false;
    const checkLease = () => {
      if (performance.now() <= leaseEndsAt) return;
      leaseLost = true;
      throw new Error('the send lease ran out before the request left');
    };
    const wireRef = { campaignId: row.campaign_id, campaignEmailId: id, attempt };
    const markOnWire = async () => {
      checkLease();
      try {
        await deps.wire.mark(wireRef);
      } catch (err) {
        markError = { err };
        throw err;
      }
    };
    // the slot went stale while the mark was written: withdrawn before the wait for a new slot
    // (marked again there), so that a kill during that wait (up to a second at low rates) leaves
    // no mark: provably never sent. If Redis does not take it, the mark stays ("maybe sent"),
    // which the Send events settle.
    const unmarkOnWire = () => deps.wire.unmark(wireRef).catch(() => undefined);
    const beforeRequest = async () => {
      // the lease first: after a freeze both may be gone, and a lost lease means this attempt no
      // longer owns the row, whatever the slot says
      checkLease();
      try {
        slot = await limits.confirmSendSlot(slot, signal, markOnWire, unmarkOnWire);
      } catch (err) {
        if (!leaseLost && !markError) slotError = { err };
        throw err;
      }
      checkLease(); // confirming the slot and writing the mark may have waited
      onWire = true;
    };
    // A request on the wire is never aborted (by the time budget or a shutdown): its answer is read
    // and recorded, else an email SES accepted would be left unknown. A shutdown records what is
    // known at once (unknown, this claim's), in case the process ends before the answer.
    const wire = new AbortController();
    const onAbort = () => {
      if (!onWire) return wire.abort(signal.reason);
      log.warn('job aborted while its request was at SES: waiting for the answer', { campaignEmailId: id, reason: (signal.reason as Error)?.name });
      if ((signal.reason as Error)?.name === 'ShutdownAbortError') {
        void store.recordUnknown(ws, id, 'worker shut down while the request was at SES', attempt).catch(() => undefined);
      }
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    let messageId: string;
    try {
      ({ messageId } = await deps.sender.send(claimed, wire.signal, { beforeRequest }));
    } catch (err) {
      if (slotError) return await deferForSlot(slotError.err, send, attempt, release, ctx);
      // Redis did not take the mark: not sent; given back like a slot that could not be had
      if (markError) return await deferForSlot(markError.err, send, attempt, release, ctx, 'wire-mark-error');
      // the lease ran out, or the job was aborted (time budget, shutdown) before the request left:
      // nothing was sent
      if (leaseLost || (!onWire && wire.signal.aborted))
        return await giveBackExpiredLease(send, attempt, release, ctx, leaseLost ? 'lease ran out' : 'aborted');
      if (isSendError(err) && err.kind === 'unknown') countedToday = false; // it may have been sent
      return await onSendFailure(err, send, attempt, release, ctx);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    countedToday = false; // sent: the count stays

    // 5. record: retried on its own, never the send
    const sentAt = deps.now();
    const nextEmailAt = send.nextStep
      ? alignToWindow(new Date(sentAt.getTime() + (send.nextStep.delay_days * 24 + send.nextStep.delay_hours) * 3_600_000), sendWindow(send))
      : null;
    const record = {
      messageId,
      sentAt,
      nextEmailAt,
      mailboxId: mailbox.id,
      fromEmail: mailbox.email,
      subject: claimed.subject,
      html: claimed.html,
      text: claimed.text,
      claim: attempt,
    };
    try {
      await retryWrite(() => store.recordSent(ws, send, record));
    } catch (err) {
      if (isClaimLost(err)) {
        // frozen past the lease right as the request left, and another attempt holds the row now
        log.error("send attempt lost its claim: SES accepted its email, the ledger keeps the other attempt's outcome", {
          campaignEmailId: id,
          claim: attempt,
          messageId,
          sentAt: sentAt.toISOString(),
          err: (err as Error).message,
        });
        return { status: 'sent', messageId, superseded: true };
      }
      // The ledger cannot take it (Postgres down): the outcome must not be lost. Kept in the
      // Redis outcome journal, applied by the drain once Postgres answers (deps.ts).
      const fields = { campaignEmailId: id, workspaceId: ws, claim: attempt, messageId, sentAt: sentAt.toISOString(), err: (err as Error).message };
      try {
        await retryWrite(() => deps.outcomes.keep({ workspaceId: ws, target: send, record }));
      } catch (journalErr) {
        log.error('SES accepted the send and neither the ledger nor the outcome journal could record it', {
          ...fields,
          journalErr: (journalErr as Error).message,
        });
        throw err;
      }
      log.error('ledger write failed after SES accepted the send: outcome kept in the outcome journal until Postgres answers', fields);
      return { status: 'sent', messageId, journalled: true };
    }
    return { status: 'sent', messageId };
  } finally {
    // any exit without a send gives the daily count back (no-op after release or a send)
    if (countedToday) await release().catch(() => undefined);
  }
};

async function reasonToStop(send: SendContext, checkConsent: boolean, deps: EmailDeps): Promise<string | null> {
  if (send.campaign.status === 'paused') return 'campaign-paused';
  if (send.campaign.status !== 'active') return `campaign-${send.campaign.status}`;
  if (send.enrolment.status !== 'pending' && send.enrolment.status !== 'in_progress') return `enrolment-${send.enrolment.status}`;
  if (send.lead.deleted_at || send.lead.status === 'unsubscribed') return 'lead-unsubscribed';
  if (!send.step) return 'no-step';
  if (checkConsent && !(await deps.store.hasMarketingConsent(send.email.workspace_id, send.lead.id))) return 'no-consent';
  return null;
}

function sendWindow(send: SendContext): SendWindow {
  const s = send.campaign.schedule_settings;
  return {
    timezone: send.campaign.timezone || 'UTC',
    start: s.sendBetween?.start,
    end: s.sendBetween?.end,
    excludeWeekends: s.excludeWeekends === true,
  };
}

function buildMessage(send: SendContext, mailbox: NonNullable<SendContext['mailbox']>, deps: EmailDeps): OutgoingEmail {
  const ws = send.email.workspace_id;
  const links = unsubscribeLinks(deps.config.unsubscribe, { workspaceId: ws, leadId: send.lead.id, campaignId: send.campaign.id });
  const rendered = renderStep(send.step!, send.lead, { unsubscribeUrl: links.url, companyAddress: send.sender.companyAddress });
  return {
    from: { address: mailbox.email, name: send.sender.senderName },
    to: send.lead.email,
    replyTo: send.sender.replyToEmail ?? mailbox.email,
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    unsubscribe: links,
    configurationSet: mailbox.configuration_set ?? deps.config.defaultConfigurationSet,
    tags: {
      send_id: send.email.id,
      campaign_id: send.campaign.id,
      lead_id: send.lead.id,
      workspace_id: ws,
      mailbox_id: mailbox.id,
    },
  };
}

/**
 * A deferred send is a NEW delayed send-email job with its own deterministic id (`key`), so it
 * starts at attempt 1 (deferrals never use up Bull attempts) and enqueueing the same key again
 * (a retry after a failed enqueue) adds nothing.
 */
async function sendLater(ctx: JobContext<EmailDeps>, send: SendContext, delayMs: number, key: string): Promise<void> {
  await ctx.enqueue(
    sendEmail,
    { workspaceId: send.email.workspace_id, requestedBy: 'system', campaignEmailId: send.email.id },
    { delay: Math.max(0, Math.round(delayMs)), idempotencyKey: key },
  );
}

/** Before the claim: reschedule the row and enqueue the delayed follow-up (attempt-neutral). */
async function defer(send: SendContext, until: Date, reason: string, keySuffix: string, ctx: JobContext<EmailDeps>): Promise<SendEmailResult> {
  const { deps } = ctx;
  if (!(await deps.store.reschedule(send.email.workspace_id, send.email.id, until, reason))) return { status: 'skipped', reason: 'no-longer-claimable' };
  await sendLater(ctx, send, until.getTime() - deps.now().getTime(), `${send.email.id}.${keySuffix}`);
  return { status: 'deferred', reason, until: until.toISOString() };
}

/**
 * After the claim, no account slot close enough to the request (confirmSendSlot threw), or the
 * on-the-wire mark could not be written: nothing was sent. The claim and the daily count are given
 * back and the send is deferred; any other error than RetryAfterError is the job's (a plain retry).
 */
async function deferForSlot(
  err: unknown,
  send: SendContext,
  attempt: number,
  release: () => Promise<void>,
  ctx: JobContext<EmailDeps>,
  reason = err instanceof RetryAfterError ? 'rate-limit' : 'rate-limit-error',
): Promise<SendEmailResult> {
  const { deps } = ctx;
  const ws = send.email.workspace_id;
  const id = send.email.id;
  const retryAfterMs = err instanceof RetryAfterError ? err.retryAfterMs : 1000;
  const until = new Date(deps.now().getTime() + retryAfterMs);
  await release();
  if (!(await fenced(ctx, send, attempt, `not sent (${reason})`, () => deps.store.unclaim(ws, id, until, reason, attempt)))) {
    return { status: 'skipped', reason: 'claim-lost' };
  }
  if (!(err instanceof RetryAfterError)) {
    // the job fails (or was aborted); its row is scheduled again and needs a job of its own, as
    // this one may have lost its lock (a stall) and be retried by nobody
    await sendLater(ctx, send, 1000, `${id}.e${attempt}`);
    throw err;
  }
  await sendLater(ctx, send, retryAfterMs, `${id}.w${Math.floor(deps.now().getTime() / 1000)}.${attempt}`);
  return { status: 'deferred', reason: 'rate-limit', until: until.toISOString() };
}

/**
 * A ledger write of this attempt, fenced by its claim token. False when another attempt claimed the
 * row meanwhile (this one stalled past its lease): nothing is written, and what this attempt did
 * is logged, so an outcome is never silently dropped.
 */
async function fenced(ctx: JobContext<EmailDeps>, send: SendContext, attempt: number, outcome: string, write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (!isClaimLost(err)) throw err;
    ctx.log.error('send attempt lost its claim to another attempt: its outcome is not written', {
      campaignEmailId: send.email.id,
      claim: attempt,
      outcome,
      err: (err as Error).message,
    });
    return false;
  }
}

/**
 * The lease ran out (on this attempt's monotonic clock) before the request left: nothing was sent,
 * but another attempt may own the row by now. The claim is given back, fenced by its token, and a
 * follow-up job sends it later; a claim already lost leaves the row to its new holder.
 */
async function giveBackExpiredLease(
  send: SendContext,
  attempt: number,
  release: () => Promise<void>,
  ctx: JobContext<EmailDeps>,
  why: 'lease ran out' | 'aborted',
): Promise<SendEmailResult> {
  const { deps, log } = ctx;
  const ws = send.email.workspace_id;
  const id = send.email.id;
  await release();
  log.warn(
    why === 'lease ran out'
      ? 'send lease ran out before the request left (a stall): nothing sent, claim given back'
      : 'job aborted before the request left: nothing sent, claim given back',
    {
      campaignEmailId: id,
      claim: attempt,
    },
  );
  if (!(await fenced(ctx, send, attempt, `not sent (${why})`, () => deps.store.unclaim(ws, id, deps.now(), `${why} before the request`, attempt)))) {
    return { status: 'skipped', reason: 'claim-lost' };
  }
  await sendLater(ctx, send, 0, `${id}.${why === 'aborted' ? 'a' : 'l'}${attempt}`);
  return { status: 'deferred', reason: why === 'aborted' ? 'aborted' : 'lease-expired', until: deps.now().toISOString() };
}

/** After the claim, SES said no (or we cannot know). */
async function onSendFailure(
  err: unknown,
  send: SendContext,
  attempt: number,
  release: () => Promise<void>,
  ctx: JobContext<EmailDeps>,
): Promise<SendEmailResult> {
  const { deps, log } = ctx;
  const ws = send.email.workspace_id;
  const id = send.email.id;
  const { store, config } = deps;
  const later = async (delayMs: number, key: string, reason: string): Promise<SendEmailResult> => {
    await sendLater(ctx, send, delayMs, `${id}.${key}${attempt}`);
    return { status: 'deferred', reason, until: new Date(deps.now().getTime() + delayMs).toISOString() };
  };
  if (!isSendError(err)) {
    // a failure before the request left (building the message): not sent
    await release();
    await fenced(ctx, send, attempt, 'not sent', () =>
      store.recordFailed(ws, id, { error: String((err as Error)?.message ?? err), retryable: true, claim: attempt }),
    );
    throw err;
  }
  const error = err.message.slice(0, 1000);
  switch (err.kind) {
    case 'throttled': {
      await release();
      if (!(await fenced(ctx, send, attempt, `not sent (${err.kind})`, () => store.recordFailed(ws, id, { error, retryable: true, claim: attempt }))))
        return { status: 'skipped', reason: 'claim-lost' };
      log.warn('SES throttled the send; retrying soon without using an attempt', { campaignEmailId: id });
      return later(jitter(err.retryAfterMs ?? config.sesThrottleRetryMs, 1000), 't', 'ses-throttled');
    }
    case 'daily-quota': {
      await release();
      if (!(await fenced(ctx, send, attempt, `not sent (${err.kind})`, () => store.recordFailed(ws, id, { error, retryable: true, claim: attempt }))))
        return { status: 'skipped', reason: 'claim-lost' };
      await deps.alerter.alert('warning', 'SES daily sending quota exhausted; sends rescheduled', { campaignEmailId: id });
      return later(jitter(config.sesQuotaRetryMs, 60_000), 'q', 'ses-daily-quota');
    }
    case 'account-paused': {
      await release();
      if (!(await fenced(ctx, send, attempt, `not sent (${err.kind})`, () => store.recordFailed(ws, id, { error, retryable: true, claim: attempt }))))
        return { status: 'skipped', reason: 'claim-lost' };
      // global: every replica stops fetching, on every shard
      await ctx.pauseQueue();
      await deps.alerter.alert('page', 'SES account sending is paused: email queue paused', { code: err.code, campaignEmailId: id });
      // waits in the paused queue until an operator resumes it
      return later(1000, 'p', 'ses-account-paused');
    }
    case 'mailbox-paused': {
      await release();
      if (!(await fenced(ctx, send, attempt, `not sent (${err.kind})`, () => store.recordFailed(ws, id, { error, retryable: true, claim: attempt }))))
        return { status: 'skipped', reason: 'claim-lost' };
      if (send.mailbox) await store.pauseMailbox(ws, send.mailbox.id, `SES ${err.code}`);
      await deps.alerter.alert('warning', 'SES configuration set paused: mailbox paused', { mailboxId: send.mailbox?.id });
      return { status: 'deferred', reason: 'mailbox-paused', until: new Date(deps.now().getTime() + 3_600_000).toISOString() };
    }
    case 'rejected': {
      await release();
      if (
        !(await fenced(ctx, send, attempt, 'rejected by SES', () =>
          store.recordFailed(ws, id, { error, retryable: false, endEnrolmentId: send.enrolment.id, claim: attempt }),
        ))
      )
        return { status: 'skipped', reason: 'claim-lost' };
      throw new PermanentJobError(`SES rejected the send: ${error}`, { cause: err });
    }
    case 'not-sent': {
      await release();
      if (!(await fenced(ctx, send, attempt, `not sent (${err.kind})`, () => store.recordFailed(ws, id, { error, retryable: true, claim: attempt }))))
        return { status: 'skipped', reason: 'claim-lost' };
      throw err; // plain retry with backoff
    }
    case 'unknown': {
      // may have been accepted: the count stays, no resend; the SES Send event settles it
      if (!(await fenced(ctx, send, attempt, `unknown (${err.code})`, () => store.recordUnknown(ws, id, error, attempt))))
        return { status: 'skipped', reason: 'claim-lost' };
      log.error('SES outcome unknown; not retried', { campaignEmailId: id, err: error });
      return { status: 'unknown', reason: err.code };
    }
  }
}

function jitter(ms: number, spread: number): number {
  return Math.round(ms + Math.random() * spread);
}

/** A write after SES answered: retried a few times (about 1.4 s in all), never the send. */
async function retryWrite(write: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await write();
      return;
    } catch (err) {
      if (i >= 3 || (err as { permanent?: boolean }).permanent) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}
