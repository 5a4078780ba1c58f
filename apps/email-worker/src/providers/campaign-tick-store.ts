import {
  type CampaignToTick,
  completeCampaignIfFinished,
  countCampaignEmailsSince,
  endEnrolments,
  type EnrolmentEnd as DbEnrolmentEnd,
  type EnrolmentToTick,
  expireSendingLease,
  getCampaign,
  listCampaignMailboxes,
  listCampaignsToTick,
  listDueCampaignEmails,
  listEnrolmentsToTick,
  listLapsedUnknownCampaignEmails,
  listUnsettledCampaignEmails,
  markCampaignEmailsEnqueued,
  markCampaignsTicked,
  releaseUnsentCampaignEmail,
  resolveUnknownCampaignEmail,
  type CampaignRow,
  type MailboxRow,
  type Pool,
  scheduleCampaignEmails,
  skipEnrolmentSteps,
  startScheduledCampaign,
} from '@coldcopy/db';

import type { LapsedClaim, WireVerdict } from './wire-marks.js';

/** How an enrolment ends when its lead may not be emailed any more. */
export type EnrolmentEnd = DbEnrolmentEnd;

/** A due enrolment of the campaign whose next step has no ledger row yet (listEnrolmentsToTick). */
export type DueEnrolment = EnrolmentToTick;

/** A campaign the fan-out may tick (any workspace). */
export type { CampaignToTick };

/**
 * What the campaign tick (send-bulk-email) reads and writes in Postgres. Every method takes the
 * job's workspace first and scopes every statement by it, except the two fan-out methods, which
 * select across workspaces by design (the fan-out has no tenant) and return only ids: each
 * per-campaign tick then loads its campaign through the scoped methods.
 */
export interface CampaignTickStore {
  campaign(workspaceId: string, campaignId: string): Promise<CampaignRow>;
  activeMailboxes(workspaceId: string, campaignId: string): Promise<MailboxRow[]>;
  /** ledger rows created since `since`, not cancelled (the campaign's daily limit), from counters per 15-minute slot (`since` counts from its slot's start) */
  sendsSince(workspaceId: string, campaignId: string, since: Date): Promise<number>;
  /**
   * Due enrolments (pending or in progress, next_email_at reached) whose next step exists and has
   * no ledger row yet, lead not deleted; suppressed leads and unmet conditions included and
   * flagged, so the tick can end or skip them. Oldest due first.
   */
  dueEnrolments(workspaceId: string, campaignId: string, now: Date, limit: number): Promise<DueEnrolment[]>;
  /** inserts `scheduled` rows; existing (campaign, lead, step) rows are left alone */
  schedule(
    workspaceId: string,
    campaignId: string,
    rows: ReadonlyArray<{ leadId: string; stepNumber: number; mailboxId: string; scheduledAt: Date }>,
  ): Promise<number>;
  /**
   * Claimable (scheduled, retryable) rows due by `before` that need a send-email job, oldest due
   * first: never enqueued by a tick, claimed since their last enqueue (the claim used that job up),
   * or enqueued and due before `enqueuedBefore` (the job may be lost). Rows whose job is still
   * waiting, or that a deferral gave a delayed follow-up job, are left out.
   */
  dueSends(workspaceId: string, campaignId: string, before: Date, limit: number, enqueuedBefore: Date): Promise<Array<{ id: string; attempt: number }>>;
  /**
   * Marks rows whose send-email jobs were just handed to the queue (`enqueued_at = at`, rows still
   * claimable only). Called after the enqueue with a time taken before it; returns how many it marked.
   */
  markEnqueued(workspaceId: string, campaignId: string, campaignEmailIds: readonly string[], at: Date): Promise<number>;
  /**
   * Settles outcomes: `sending` rows past their lease → unknown; unknown rows past their lease that
   * `onWire` proves unsent (their attempt never marked its request as on the wire: a worker killed
   * between claim and request; or marked, and SES never got it: no Send event of its own while Send
   * events of later messages arrived) → retryable, sent again whatever the policy; unknown rows whose SES
   * Send event did not come within the window → failed_unknown (review) or, once, retryable
   * (resend-once); with `onWire`, only those it judged in the same pass and found neither unsent
   * nor pending (not proven yet). `onWire` is asked only about rows whose lease has run out by the
   * database's clock, after that was established.
   */
  settle(
    workspaceId: string,
    campaignId: string,
    options: {
      leaseMs: number;
      windowMs: number;
      policy: 'review' | 'resend-once';
      now: Date;
      onWire?: (claims: ReadonlyArray<LapsedClaim>) => Promise<WireVerdict>;
    },
  ): Promise<{ expired: number; released: number; resolved: number }>;
  /** Ends enrolments that are still pending or in progress; returns how many it ended. */
  endEnrolments(workspaceId: string, campaignId: string, ends: ReadonlyArray<{ enrolmentId: string; as: EnrolmentEnd }>, at: Date): Promise<number>;
  /**
   * Skips a step whose condition does not hold: current_step moves to it without a send, and the
   * enrolment is due again at `nextEmailAt`, or completes when null (no further step). Guarded by
   * the current step, so a repeated tick skips nothing twice; returns how many it skipped.
   */
  skipSteps(
    workspaceId: string,
    campaignId: string,
    skips: ReadonlyArray<{ enrolmentId: string; stepNumber: number; nextEmailAt: Date | null }>,
  ): Promise<number>;
  /** scheduled → active, started_at set; null when the campaign is no longer scheduled */
  start(workspaceId: string, campaignId: string): Promise<CampaignRow | null>;
  /**
   * active → completed when the campaign has enrolments and every one is finished: not pending or
   * in progress, or without a further step (leads deleted since count as finished), and no send of
   * the campaign is scheduled, sending, retryable or unknown. True when this call completed it.
   */
  completeIfFinished(workspaceId: string, campaignId: string): Promise<boolean>;
  /**
   * Fan-out, every workspace: campaigns that are active or scheduled, not deleted, and not yet
   * ticked for the slot starting at `slotStart` (next_run_at empty or reached), by id after
   * `after`. Scheduled ones are returned whatever their start date; the caller decides.
   */
  campaignsToTick(options: { slotStart: Date; after?: string; limit: number }): Promise<CampaignToTick[]>;
  /** Fan-out: next_run_at = `until` for these campaigns (the slot is done); returns how many moved. */
  markTicked(campaigns: ReadonlyArray<{ workspaceId: string; campaignId: string }>, until: Date): Promise<number>;
}

/** last_error of a claim released because SES never got it (WireVerdict.unseen: marked, or its mark may have been lost by a Redis restart) */
export const UNSEEN_RELEASE =
  'marked on the wire (or its mark lost by a Redis restart), but no SES Send event while those of later messages arrived: SES never got it, sent again';

export function createPgCampaignTickStore(pool: Pool): CampaignTickStore {
  return {
    campaign: (ws, id) => getCampaign(pool, ws, id),
    async activeMailboxes(ws, id) {
      return (await listCampaignMailboxes(pool, ws, id)).filter((m) => m.status === 'active');
    },
    sendsSince: (ws, id, since) => countCampaignEmailsSince(pool, ws, id, since),
    dueEnrolments: (ws, id, now, limit) => listEnrolmentsToTick(pool, ws, id, now, limit),
    async schedule(ws, id, rows) {
      const result = await scheduleCampaignEmails(
        pool,
        ws,
        id,
        rows.map((r) => ({ leadId: r.leadId, stepNumber: r.stepNumber, mailboxId: r.mailboxId, scheduledAt: r.scheduledAt })),
      );
      return result.scheduled.length;
    },
    dueSends: (ws, id, before, limit, enqueuedBefore) => listDueCampaignEmails(pool, ws, id, { before, limit, enqueuedBefore }),
    markEnqueued: (ws, id, ids, at) => markCampaignEmailsEnqueued(pool, ws, id, ids, at),
    async settle(ws, id, { leaseMs, windowMs, policy, now, onWire }) {
      const stale = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - Math.min(leaseMs, windowMs)), limit: 500 });
      let expired = 0;
      let released = 0;
      let resolved = 0;
      for (const row of stale) {
        if (row.status === 'sending' && (await expireSendingLease(pool, ws, row.id, leaseMs))) expired++;
      }
      // with onWire, the policy applies only to rows it judged in this pass and did not find unsent
      // or pending: a row another tick expired meanwhile has not been judged yet
      let judged: Set<string> | undefined;
      if (onWire) {
        // read after the lapse was established by the database's clock: no attempt can mark these any more
        const lapsed = await listLapsedUnknownCampaignEmails(pool, ws, id, { leaseMs, limit: 500 });
        const verdict = await onWire(lapsed.map((r) => ({ id: r.id, attempt: r.attempt, claimedAt: r.claimed_at })));
        judged = new Set(lapsed.filter((r) => !verdict.unsent.has(r.id) && !verdict.pending.has(r.id)).map((r) => r.id));
        for (const row of lapsed) {
          if (!verdict.unsent.has(row.id)) continue;
          const why = verdict.unseen?.has(row.id) ? UNSEEN_RELEASE : undefined;
          if (await releaseUnsentCampaignEmail(pool, ws, row.id, row.attempt, leaseMs, why)) released++;
        }
      }
      const overdue = await listUnsettledCampaignEmails(pool, ws, id, { claimedBefore: new Date(now.getTime() - windowMs), limit: 500 });
      for (const row of overdue) {
        if (row.status !== 'unknown' || (judged && !judged.has(row.id))) continue;
        const to = policy === 'resend-once' && row.attempt === 1 ? 'retryable' : 'failed_unknown';
        if (await resolveUnknownCampaignEmail(pool, ws, row.id, to)) resolved++;
      }
      return { expired, released, resolved };
    },
    endEnrolments: (ws, id, ends, at) => endEnrolments(pool, ws, id, ends, at),
    skipSteps: (ws, id, skips) => skipEnrolmentSteps(pool, ws, id, skips),
    start: (ws, id) => startScheduledCampaign(pool, ws, id),
    completeIfFinished: (ws, id) => completeCampaignIfFinished(pool, ws, id),
    campaignsToTick: (options) => listCampaignsToTick(pool, options),
    markTicked: (campaigns, until) => markCampaignsTicked(pool, campaigns, until),
  };
}
