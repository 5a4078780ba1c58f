import { CAMPAIGN_TICK_MINUTES, campaignTickForm, campaignTickSlot, type CampaignTickForm, sendBulkEmail, sendEmail, slotStartOf } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { CampaignRow } from '@coldcopy/db';
import type { EmailDeps } from '../deps.js';
import { campaignWindow, nextSendTime } from '../domain/next-send.js';
import { isInWindow, startOfLocalDay } from '../domain/schedule.js';
import type { CampaignToTick } from '../providers/campaign-tick-store.js';
import type { WireVerdict } from '../providers/wire-marks.js';

/** What one per-campaign tick did. */
export interface CampaignTickResult {
  readonly form: 'campaign';
  readonly campaignId: string;
  readonly windowSlot: string;
  /** why nothing (more) was scheduled, when that is the case */
  readonly skipped?: 'not-started' | 'campaign-not-active' | 'outside-window' | 'no-active-mailbox' | 'daily-limit';
  /** this tick moved the campaign scheduled → active (its start date has come) */
  readonly started: boolean;
  /** this tick moved the campaign active → completed (every enrolment finished) */
  readonly completed: boolean;
  /** new ledger rows this tick */
  readonly scheduled: number;
  /** send-email jobs handed to the queue, for the due rows that needed one (existing job ids are no-ops) */
  readonly queued: number;
  /** due enrolments ended because the lead is suppressed or unsubscribed */
  readonly skippedSuppressed: number;
  /** due steps skipped because their condition (no_reply, no_open, opened, clicked) does not hold */
  readonly skippedCondition: number;
  /** sendable due enrolments of this batch left for later ticks by the daily limit */
  readonly skippedLimit: number;
  /** due enrolments are left for later ticks (beyond the batch, the daily limit or no mailbox) */
  readonly remaining: boolean;
  /** `sending` rows found past their lease and marked unknown */
  readonly expiredLeases: number;
  /** lapsed claims whose request never went on the wire (no wire mark), made retryable to be sent again */
  readonly releasedUnsent: number;
  /** unknown outcomes past the Send-event window, resolved by UNKNOWN_OUTCOME_POLICY */
  readonly resolvedUnknown: number;
}

/** What one fan-out run did. */
export interface CampaignFanOutResult {
  readonly form: 'fan-out';
  readonly windowSlot: string;
  /** per-campaign ticks enqueued: campaigns not yet ticked in this slot */
  readonly enqueued: number;
  /** scheduled campaigns whose start date has not come (or cannot be read) */
  readonly notStarted: number;
  readonly pages: number;
}

export type SendBulkEmailResult = CampaignTickResult | CampaignFanOutResult;

/** Campaigns read per fan-out page. */
export const FAN_OUT_PAGE_SIZE = 500;

/**
 * The campaign tick (email-ses-sns.md §12.6: bulk = fan-out only), in two forms
 * (queue-core email.jobs.ts):
 *
 * Fan-out (`fanOut: true`, the `campaign-tick` schedule every 5 minutes): pages through the
 * campaigns of every workspace not yet ticked in this slot, keeps the active ones and the
 * scheduled ones whose start date has come, enqueues one per-campaign tick each
 * (`bulk:{campaignId}:{windowSlot}`), then records the slot as done on the campaign
 * (`next_run_at`), so a repeated or duplicated run in the same slot enqueues nothing. A crash
 * between the enqueue and that record only leads to the same job ids again (no-ops in Bull);
 * the per-campaign tick is idempotent besides. The slot of a scheduled run is its cron time.
 *
 * Per campaign, each step safe to repeat:
 *   1. settle outcomes: stale `sending` leases (a worker died mid-send) → `unknown`; lapsed
 *      claims whose request never went on the wire (no wire mark: the worker died between its
 *      claim and the request) → retryable, sent again; unknown outcomes with no SES Send event
 *      within the window → failed_unknown, or one resend;
 *   2. a scheduled campaign whose start date has come becomes active (started_at);
 *   3. inside the sending window, for due enrolments: suppressed or unsubscribed leads end their
 *      enrolment, steps whose condition does not hold are skipped (the enrolment moves on to the
 *      following step, or completes), and the rest get `scheduled` ledger rows within the daily
 *      limit (the unique (campaign, lead, step) key makes a retry insert nothing twice);
 *   4. enqueue a send-email job for each due claimable row of the campaign that needs one, then
 *      mark those rows enqueued (`enqueued_at`, stamped with the tick's start): rows never
 *      enqueued (new, or left over from a crash before the enqueue or the mark), rows claimed
 *      since their last enqueue and claimable again (a retryable failure, an unknown outcome
 *      resolved to one resend by step 1: the claim used the job up), and rows enqueued, and due,
 *      longer than SEND_REENQUEUE_AFTER_MS ago (the job may be lost from Redis). Rows whose job still
 *      waits are skipped, and so are rows the send path deferred with their own delayed follow-up
 *      job until that job's time plus the same interval. Ids are deterministic (`send-email.<id>`,
 *      or `.<attempt>` after a claim), so a retry or a re-enqueue of a waiting job adds nothing,
 *      and a duplicate job could not send twice anyway (the claim);
 *   5. when nothing is left to send, the campaign completes once every enrolment is finished.
 */
export const sendBulkEmailHandler: Handler<typeof sendBulkEmail, EmailDeps> = async (payload, ctx): Promise<SendBulkEmailResult> => {
  const form = campaignTickForm(payload);
  return form.kind === 'fan-out' ? fanOut(form, ctx) : tickCampaign(form, ctx);
};

async function fanOut(form: Extract<CampaignTickForm, { kind: 'fan-out' }>, ctx: JobContext<EmailDeps>): Promise<CampaignFanOutResult> {
  const { deps, log } = ctx;
  const windowSlot = form.windowSlot ?? campaignTickSlot(ctx.scheduledAt);
  const slotStart = slotStartOf(windowSlot);
  const slotEnd = new Date(slotStart.getTime() + CAMPAIGN_TICK_MINUTES * 60_000);
  const traceId = form.traceId ?? `campaign-tick-${windowSlot}`;
  const now = deps.now();
  let after: string | undefined;
  let enqueued = 0;
  let notStarted = 0;
  let pages = 0;
  for (;;) {
    ctx.signal.throwIfAborted();
    const page = await deps.campaignTicks.campaignsToTick({ slotStart, after, limit: FAN_OUT_PAGE_SIZE });
    pages++;
    const due = page.filter((c) => c.status === 'active' || startHasCome(c, now, log));
    notStarted += page.length - due.length;
    if (due.length > 0) {
      // ids `send-bulk-email.<campaignId>.<slot>`: a tick whose id Redis still knows is not added again
      await ctx.enqueueBulk(
        sendBulkEmail,
        due.map((c) => ({ data: { workspaceId: c.workspace_id, campaignId: c.id, windowSlot, batchSize: form.batchSize, requestedBy: 'system', traceId } })),
      );
      await deps.campaignTicks.markTicked(
        due.map((c) => ({ workspaceId: c.workspace_id, campaignId: c.id })),
        slotEnd,
      );
      enqueued += due.length;
    }
    await ctx.progress({ stage: 'fan-out', pages, enqueued });
    if (page.length < FAN_OUT_PAGE_SIZE) break;
    after = page[page.length - 1]!.id;
  }
  if (enqueued > 0) log.info('campaign tick fan-out', { windowSlot, enqueued, notStarted });
  return { form: 'fan-out', windowSlot, enqueued, notStarted, pages };
}

async function tickCampaign(tick: Extract<CampaignTickForm, { kind: 'campaign' }>, ctx: JobContext<EmailDeps>): Promise<CampaignTickResult> {
  const { deps } = ctx;
  const ticks = deps.campaignTicks;
  const ws = tick.workspaceId;
  const now = deps.now();
  let verdict: WireVerdict | undefined;
  const settled = await ticks.settle(ws, tick.campaignId, {
    leaseMs: deps.config.leaseMs,
    ...deps.config.unknownOutcome,
    now,
    onWire: async (claims) => (verdict = await deps.wire.judge(tick.campaignId, claims)),
  });
  if (settled.expired + settled.released + settled.resolved > 0) {
    ctx.log.warn('campaign tick settled send outcomes', {
      campaignId: tick.campaignId,
      expiredLeases: settled.expired,
      // of the released: marked on the wire, yet SES never got them (no Send event while later ones came)
      releasedUnsent: settled.released,
      unseen: verdict?.unseen?.size ?? 0,
      resolvedUnknown: settled.resolved,
    });
  }
  if (settled.resolved > 0 && deps.config.unknownOutcome.policy === 'review' && verdict?.unvouched) {
    // why these are left to a person: nothing shows that SES's Send events reach us past their marks
    const until = verdict.unvouched.sendEventsUntil;
    await deps.alerter.alert(
      'warning',
      `send outcomes left for review (failed_unknown): their requests may have left, no SES Send event came for them, and no Send event of a message SES accepted after them has arrived (${until ? `latest of the campaign: ${until.toISOString()}` : 'none of the campaign'}), so whether SES got them cannot be told; check that the configuration set publishes Send events and that the SNS subscription reaches the webhook`,
      { workspaceId: ws, campaignId: tick.campaignId, failedUnknown: settled.resolved },
    );
  }
  const result = {
    form: 'campaign' as const,
    campaignId: tick.campaignId,
    windowSlot: tick.windowSlot,
    started: false,
    completed: false,
    scheduled: 0,
    queued: 0,
    skippedSuppressed: 0,
    skippedCondition: 0,
    skippedLimit: 0,
    remaining: false,
    expiredLeases: settled.expired,
    releasedUnsent: settled.released,
    resolvedUnknown: settled.resolved,
  };

  let campaign = await ticks.campaign(ws, tick.campaignId);
  if (campaign.status === 'scheduled') {
    const startsAt = campaignStartsAt(campaign);
    if (startsAt === null || startsAt.getTime() > now.getTime()) return { ...result, skipped: 'not-started' };
    const started = await ticks.start(ws, campaign.id);
    result.started = started !== null;
    campaign = started ?? (await ticks.campaign(ws, campaign.id)); // paused or started meanwhile
  }
  if (campaign.status !== 'active') return { ...result, skipped: 'campaign-not-active' };
  const finish = async (skipped?: CampaignTickResult['skipped']): Promise<CampaignTickResult> => {
    // nothing left in flight from this tick: the campaign may be finished
    if (result.scheduled === 0 && result.queued === 0 && !result.remaining) result.completed = await ticks.completeIfFinished(ws, campaign.id);
    return skipped ? { ...result, skipped } : result;
  };
  if (!isInWindow(now, campaignWindow(campaign))) return finish('outside-window');

  const due = await ticks.dueEnrolments(ws, campaign.id, now, tick.batchSize + 1);
  const batch = due.slice(0, tick.batchSize);
  result.skippedSuppressed = await ticks.endEnrolments(
    ws,
    campaign.id,
    batch.flatMap((e) => (e.suppressed ? [{ enrolmentId: e.enrolment_id, as: e.suppressed }] : [])),
    now,
  );
  result.skippedCondition = await ticks.skipSteps(
    ws,
    campaign.id,
    batch
      .filter((e) => !e.suppressed && !e.condition_met)
      .map((e) => ({ enrolmentId: e.enrolment_id, stepNumber: e.next_step, nextEmailAt: nextSendTime(campaign, e.following_step, now) })),
  );
  const sendable = batch.filter((e) => !e.suppressed && e.condition_met);
  result.remaining = due.length > batch.length;
  let skipped: CampaignTickResult['skipped'];
  if (sendable.length > 0) {
    const mailboxes = await ticks.activeMailboxes(ws, campaign.id);
    if (mailboxes.length === 0) {
      result.remaining = true;
      return finish('no-active-mailbox');
    }
    const today = await ticks.sendsSince(ws, campaign.id, startOfLocalDay(now, campaignWindow(campaign).timezone));
    const room = Math.max(0, campaign.daily_limit - today);
    // mailboxes take turns; the lead id decides, so a retried tick assigns the same mailbox
    const rows = sendable.slice(0, room).map((e) => ({
      leadId: e.lead_id,
      stepNumber: e.next_step,
      mailboxId: mailboxes[parseInt(e.lead_id.slice(0, 8), 16) % mailboxes.length]!.id,
      scheduledAt: now,
    }));
    result.skippedLimit = sendable.length - rows.length;
    if (result.skippedLimit > 0) result.remaining = true;
    if (rows.length > 0) result.scheduled = await ticks.schedule(ws, campaign.id, rows);
    else skipped = 'daily-limit';
  }
  await ctx.progress({ stage: 'scheduled', scheduled: result.scheduled });

  // due claimable rows that need a job: new ones, ones left by a crash before the enqueue or its
  // mark, ones claimed since their last enqueue and claimable again, and ones whose job may be lost
  const sends = await ticks.dueSends(ws, campaign.id, now, Math.max(tick.batchSize, 50) * 4, new Date(now.getTime() - deps.config.reenqueueAfterMs));
  if (sends.length > 0) {
    const jitterMs = deps.config.sendJitterMs;
    const added = await ctx.enqueueBulk(
      sendEmail,
      sends.map((s) => ({
        data: { workspaceId: ws, requestedBy: 'system', traceId: tick.traceId, campaignEmailId: s.id },
        options: {
          idempotencyKey: s.attempt === 0 ? s.id : `${s.id}.${s.attempt}`,
          // spread over the jitter window, so that a tick's sends do not all leave at once
          ...(jitterMs > 0 ? { delay: Math.floor(Math.random() * jitterMs) } : {}),
        },
      })),
    );
    result.queued = added.length;
    // after the enqueue, never before (a crash in between only re-enqueues: same ids), stamped with
    // the tick's start so that a claim by one of these jobs is never older than the mark
    await ticks.markEnqueued(
      ws,
      campaign.id,
      sends.map((s) => s.id),
      now,
    );
  }
  await ctx.progress({ stage: 'queued', scheduled: result.scheduled, queued: result.queued });
  return finish(skipped);
}

/**
 * When a scheduled campaign starts: `schedule_settings.startDate`, either a local date
 * (`2026-12-01`: midnight in the campaign's time zone) or an ISO date-time. Null when absent or
 * unreadable: such a campaign waits (starting it by guess would send email nobody scheduled).
 */
export function campaignStartsAt(campaign: Pick<CampaignRow, 'timezone' | 'schedule_settings'>): Date | null {
  const raw = campaign.schedule_settings?.startDate;
  if (typeof raw !== 'string' || raw.trim() === '') return null;
  const value = raw.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return localMidnight(value, campaign.timezone || 'UTC');
  const at = Date.parse(value);
  return Number.isFinite(at) ? new Date(at) : null;
}

const DAY_MS = 86_400_000;

/** Midnight of a local calendar day in a time zone, as a UTC instant; null for an invalid day. */
function localMidnight(day: string, timezone: string): Date | null {
  const noon = Date.parse(`${day}T12:00:00Z`);
  if (!Number.isFinite(noon) || new Date(noon).toISOString().slice(0, 10) !== day) return null;
  const dayOf = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  // noon UTC is on the same local day except in zones beyond ±12 h; try the neighbours then
  for (const shift of [0, -1, 1]) {
    const midnight = startOfLocalDay(new Date(noon + shift * DAY_MS), timezone);
    if (dayOf.format(midnight) === day) return midnight;
  }
  return null;
}

/** For the fan-out: a scheduled campaign whose start has come. A bad time zone skips only that campaign. */
function startHasCome(campaign: CampaignToTick, now: Date, log: JobContext<EmailDeps>['log']): boolean {
  if (campaign.status !== 'scheduled') return false;
  try {
    const startsAt = campaignStartsAt(campaign);
    return startsAt !== null && startsAt.getTime() <= now.getTime();
  } catch (err) {
    log.warn('campaign tick: cannot read the start of a scheduled campaign', {
      campaignId: campaign.id,
      workspaceId: campaign.workspace_id,
      err: (err as Error).message,
    });
    return false;
  }
}
