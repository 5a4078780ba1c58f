import type { sendBulkEmail } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/worker';
import type { EmailDeps } from '../deps.js';
import { campaignWindow } from '../domain/next-send.js';
import { isInWindow, startOfLocalDay } from '../domain/schedule.js';

export interface SendBulkEmailResult {
  /** why nothing was scheduled, when nothing was */
  readonly skipped?: 'campaign-not-active' | 'outside-window' | 'no-active-mailbox' | 'daily-limit';
  /** new ledger rows this tick */
  readonly scheduled: number;
  /** send-email jobs handed to the queue (existing job ids are no-ops) */
  readonly queued: number;
  /** due enrolments left for later ticks by the daily limit */
  readonly skippedLimit: number;
  /** more due enrolments than this tick's batch */
  readonly remaining: boolean;
  /** `sending` rows found past their lease and marked unknown */
  readonly expiredLeases: number;
  /** unknown outcomes past the Send-event window, resolved by UNKNOWN_OUTCOME_POLICY */
  readonly resolvedUnknown: number;
}

/**
 * The campaign tick (email-ses-sns.md §12.6: bulk = fan-out only). Steps, each safe to repeat:
 *   1. settle outcomes: stale `sending` leases (a worker died mid-send) → `unknown`; unknown
 *      outcomes with no SES Send event within the window → failed_unknown, or one resend;
 *   2. if the campaign is active, inside its window and under its daily limit, insert `scheduled`
 *      ledger rows for due enrolments (the unique (campaign, lead, step) key makes a retry insert
 *      nothing twice);
 *   3. enqueue a send-email job for every due claimable row of the campaign, new or left over from
 *      a crash, with deterministic ids (`send-email.<id>`, or `.<attempt>` after a claim) so a
 *      retry adds no duplicate jobs, and a duplicate job could not send twice anyway (the claim).
 */
export const sendBulkEmailHandler: Handler<typeof sendBulkEmail, EmailDeps> = async (payload, ctx): Promise<SendBulkEmailResult> => {
  const { deps } = ctx;
  const ticks = deps.campaignTicks;
  const ws = payload.workspaceId;
  const now = deps.now();
  const settled = await ticks.settle(ws, payload.campaignId, { leaseMs: deps.config.leaseMs, ...deps.config.unknownOutcome, now });

  const campaign = await ticks.campaign(ws, payload.campaignId);
  const result = { scheduled: 0, queued: 0, skippedLimit: 0, remaining: false, expiredLeases: settled.expired, resolvedUnknown: settled.resolved };
  if (campaign.status !== 'active') return { ...result, skipped: 'campaign-not-active' };
  const window = campaignWindow(campaign);
  if (!isInWindow(now, window)) return { ...result, skipped: 'outside-window' };
  const mailboxes = await ticks.activeMailboxes(ws, campaign.id);
  if (mailboxes.length === 0) return { ...result, skipped: 'no-active-mailbox' };

  const today = await ticks.sendsSince(ws, campaign.id, startOfLocalDay(now, window.timezone));
  const room = Math.max(0, campaign.daily_limit - today);
  const batch = Math.min(payload.batchSize, room);
  const due = await ticks.enrolmentsToSchedule(ws, campaign.id, now, payload.batchSize + 1);
  result.remaining = due.length > batch;
  result.skippedLimit = Math.max(0, Math.min(due.length, payload.batchSize) - batch);
  if (batch > 0 && due.length > 0) {
    // mailboxes take turns; the lead id decides, so a retried tick assigns the same mailbox
    const rows = due.slice(0, batch).map((e) => ({
      leadId: e.lead_id,
      stepNumber: e.next_step,
      mailboxId: mailboxes[parseInt(e.lead_id.slice(0, 8), 16) % mailboxes.length]!.id,
      scheduledAt: now,
    }));
    result.scheduled = await ticks.schedule(ws, campaign.id, rows);
  }
  await ctx.progress({ stage: 'scheduled', scheduled: result.scheduled });

  // every due claimable row of the campaign, including rows left by a crash before the enqueue
  const sends = await ticks.dueSends(ws, campaign.id, now, Math.max(payload.batchSize, 50) * 4);
  if (sends.length > 0) {
    result.queued = await deps.followUps.sendEmails(
      sends.map((s) => ({
        payload: { workspaceId: ws, requestedBy: 'system', traceId: payload.traceId, campaignEmailId: s.id },
        key: s.attempt === 0 ? s.id : `${s.id}.${s.attempt}`,
      })),
    );
  }
  await ctx.progress({ stage: 'queued', scheduled: result.scheduled, queued: result.queued });
  return result.scheduled === 0 && batch === 0 && due.length > 0 ? { ...result, skipped: 'daily-limit' } : result;
};
