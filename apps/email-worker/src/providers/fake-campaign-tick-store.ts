import { randomUUID } from 'node:crypto';
import { type CampaignRow, type EnrolmentStatus, type MailboxRow, RecordNotFoundError, TenancyError } from '@coldcopy/db';
import type { CampaignTickStore, DueEnrolment, EnrolmentEnd } from './campaign-tick-store.js';

/** An enrolment in the fake store (the fields of campaign_leads the tick uses). */
export interface FakeEnrolment {
  readonly id: string;
  readonly leadId: string;
  readonly email: string;
  status: EnrolmentStatus;
  currentStep: number;
  nextEmailAt: Date | null;
  /** the lead may not be emailed (suppressed or unsubscribed): how its enrolment ends */
  suppressed?: EnrolmentEnd;
  /** steps whose condition does not hold for this lead */
  unmetSteps?: number[];
}

export interface FakeLedgerRow {
  readonly id: string;
  readonly campaignId: string;
  readonly leadId: string;
  readonly step: number;
  status: string;
  attempt: number;
  /** when the row was inserted (created_at: the clock at schedule(), not its due time) */
  readonly createdAt: Date;
  /** when the row is due (a deferral moves it) */
  scheduledAt: Date;
  /** the last claim (claimed_at; a claim given back clears it) */
  claimedAt: Date | null;
  /** when a tick last enqueued its send-email job (enqueued_at) */
  enqueuedAt: Date | null;
}

type Step = { readonly delay_days: number; readonly delay_hours: number };

const OPEN: readonly EnrolmentStatus[] = ['pending', 'in_progress'];
const LIVE_SENDS = ['scheduled', 'sending', 'retryable', 'unknown'];
const CLAIMABLE = ['scheduled', 'retryable'];

/**
 * In-memory campaign tick store: campaigns of any workspaces (each with the given mailboxes and
 * steps), their enrolments and ledger rows, with the same guards as the Postgres statements
 * (@coldcopy/db campaign-tick.ts, sending.ts): unique row per (campaign, lead, step), enrolment
 * updates only while pending or in progress, skips guarded by the current step, start only from
 * `scheduled`, completion only when every enrolment is finished and no send is live, due sends
 * only when they need a job (listDueCampaignEmails). A test plays the send path on a row by
 * setting its fields (`status`, `attempt`, `claimedAt`, `scheduledAt`), as the ledger statements
 * would.
 */
export function createFakeCampaignTickStore(options: { campaigns: CampaignRow[]; mailboxes?: MailboxRow[]; steps?: number | Step[]; now?: () => Date }) {
  const clock = options.now ?? (() => new Date());
  const campaigns = new Map(options.campaigns.map((c) => [c.id, c]));
  /** `mailboxes` are assigned to every campaign, unless assignMailboxes() gave it its own */
  const mailboxes = options.mailboxes ?? [];
  const campaignMailboxes = new Map<string, MailboxRow[]>();
  const steps: Step[] =
    typeof options.steps === 'object' ? options.steps : Array.from({ length: options.steps ?? 2 }, () => ({ delay_days: 2, delay_hours: 0 }));
  const enrolments = new Map<string, FakeEnrolment[]>();
  const rows = new Map<string, FakeLedgerRow>();
  let n = 0;

  const own = (ws: string, id: string): CampaignRow => {
    const c = campaigns.get(id);
    // the errors of getCampaign: another workspace's campaign is refused, a missing one not found
    if (c && c.workspace_id !== ws) throw new TenancyError('campaigns', id, ws);
    if (!c || c.deleted_at) throw new RecordNotFoundError('campaigns', id);
    return c;
  };
  const rowsOf = (campaignId: string) => [...rows.values()].filter((r) => r.campaignId === campaignId);
  const isOpen = (e: FakeEnrolment) => OPEN.includes(e.status);

  const store: CampaignTickStore = {
    async campaign(ws, id) {
      return own(ws, id);
    },
    async activeMailboxes(ws, id) {
      own(ws, id);
      return (campaignMailboxes.get(id) ?? mailboxes).filter((m) => m.status === 'active');
    },
    async sendsSince(ws, id, since) {
      own(ws, id);
      return rowsOf(id).filter((r) => r.createdAt >= since && r.status !== 'cancelled').length;
    },
    async dueEnrolments(ws, id, now, limit) {
      own(ws, id);
      return (enrolments.get(id) ?? [])
        .filter((e) => isOpen(e) && (e.nextEmailAt === null || e.nextEmailAt <= now))
        .filter((e) => e.currentStep + 1 <= steps.length && !rows.has(`${id}:${e.leadId}:${e.currentStep + 1}`))
        .sort((a, b) => (a.nextEmailAt?.getTime() ?? -Infinity) - (b.nextEmailAt?.getTime() ?? -Infinity) || a.id.localeCompare(b.id))
        .slice(0, limit)
        .map((e): DueEnrolment => ({
          enrolment_id: e.id,
          lead_id: e.leadId,
          email: e.email,
          next_step: e.currentStep + 1,
          suppressed: e.suppressed ?? null,
          condition_met: !(e.unmetSteps ?? []).includes(e.currentStep + 1),
          following_step: steps[e.currentStep + 1] ?? null,
        }));
    },
    async schedule(ws, id, list) {
      own(ws, id);
      let added = 0;
      for (const r of list) {
        const key = `${id}:${r.leadId}:${r.stepNumber}`;
        if (rows.has(key)) continue;
        const rowId = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
        rows.set(key, {
          id: rowId,
          campaignId: id,
          leadId: r.leadId,
          step: r.stepNumber,
          status: 'scheduled',
          attempt: 0,
          createdAt: clock(),
          scheduledAt: r.scheduledAt,
          claimedAt: null,
          enqueuedAt: null,
        });
        added++;
      }
      return added;
    },
    async dueSends(ws, id, before, limit, enqueuedBefore) {
      own(ws, id);
      return rowsOf(id)
        .filter((r) => CLAIMABLE.includes(r.status) && r.scheduledAt <= before)
        .filter(
          (r) =>
            r.enqueuedAt === null ||
            (r.claimedAt !== null && r.claimedAt >= r.enqueuedAt) ||
            Math.max(r.enqueuedAt.getTime(), r.scheduledAt.getTime()) < enqueuedBefore.getTime(),
        )
        .sort((a, b) => a.scheduledAt.getTime() - b.scheduledAt.getTime() || a.id.localeCompare(b.id))
        .slice(0, limit)
        .map((r) => ({ id: r.id, attempt: r.attempt }));
    },
    async markEnqueued(ws, id, ids, at) {
      own(ws, id);
      let marked = 0;
      for (const r of rowsOf(id)) {
        if (!ids.includes(r.id) || !CLAIMABLE.includes(r.status) || (r.enqueuedAt !== null && r.enqueuedAt >= at)) continue;
        r.enqueuedAt = at;
        marked++;
      }
      return marked;
    },
    async settle(ws, id, { leaseMs, windowMs, policy, now, onWire }) {
      own(ws, id);
      // the Postgres adapter's two passes (listUnsettledCampaignEmails, at most 500 rows each):
      // sending past the lease → unknown, then unknown past the window → resolved by the policy
      const unsettled = (claimedBefore: number) =>
        rowsOf(id)
          .filter((r) => (r.status === 'sending' || r.status === 'unknown') && r.claimedAt !== null && r.claimedAt.getTime() < claimedBefore)
          .sort((a, b) => a.claimedAt!.getTime() - b.claimedAt!.getTime())
          .slice(0, 500);
      let expired = 0;
      let released = 0;
      let resolved = 0;
      for (const r of unsettled(now.getTime() - Math.min(leaseMs, windowMs))) {
        if (r.status === 'sending' && r.claimedAt!.getTime() < now.getTime() - leaseMs) {
          r.status = 'unknown';
          expired++;
        }
      }
      let judged: Set<string> | undefined;
      if (onWire) {
        const lapsed = unsettled(now.getTime() - leaseMs).filter((r) => r.status === 'unknown');
        const verdict = await onWire(lapsed.map((r) => ({ id: r.id, attempt: r.attempt, claimedAt: r.claimedAt! })));
        judged = new Set(lapsed.filter((r) => !verdict.unsent.has(r.id) && !verdict.pending.has(r.id)).map((r) => r.id));
        for (const r of lapsed) {
          if (!verdict.unsent.has(r.id)) continue;
          r.status = 'retryable';
          released++;
        }
      }
      for (const r of unsettled(now.getTime() - windowMs)) {
        if (r.status !== 'unknown' || (judged && !judged.has(r.id))) continue;
        r.status = policy === 'resend-once' && r.attempt === 1 ? 'retryable' : 'failed_unknown';
        resolved++;
      }
      return { expired, released, resolved };
    },
    async endEnrolments(ws, id, ends) {
      own(ws, id);
      let ended = 0;
      for (const end of ends) {
        const e = (enrolments.get(id) ?? []).find((x) => x.id === end.enrolmentId);
        if (!e || !isOpen(e)) continue;
        e.status = end.as;
        e.nextEmailAt = null;
        ended++;
      }
      return ended;
    },
    async skipSteps(ws, id, skips) {
      own(ws, id);
      let skipped = 0;
      for (const skip of skips) {
        const e = (enrolments.get(id) ?? []).find((x) => x.id === skip.enrolmentId);
        if (!e || !isOpen(e) || e.currentStep !== skip.stepNumber - 1) continue;
        e.currentStep = skip.stepNumber;
        e.nextEmailAt = skip.nextEmailAt;
        e.status = skip.nextEmailAt === null ? 'completed' : 'in_progress';
        skipped++;
      }
      return skipped;
    },
    async start(ws, id) {
      const c = own(ws, id);
      if (c.status !== 'scheduled') return null;
      const started = { ...c, status: 'active' as const, started_at: c.started_at ?? new Date() };
      campaigns.set(id, started);
      return started;
    },
    async completeIfFinished(ws, id) {
      const c = own(ws, id);
      const list = enrolments.get(id) ?? [];
      if (c.status !== 'active' || list.length === 0) return false;
      if (list.some((e) => isOpen(e) && e.currentStep + 1 <= steps.length)) return false;
      if (rowsOf(id).some((r) => LIVE_SENDS.includes(r.status))) return false;
      campaigns.set(id, { ...c, status: 'completed', completed_at: c.completed_at ?? new Date() });
      return true;
    },
    async campaignsToTick({ slotStart, after, limit }) {
      return [...campaigns.values()]
        .filter((c) => !c.deleted_at && (c.status === 'active' || c.status === 'scheduled'))
        .filter((c) => c.next_run_at === null || c.next_run_at <= slotStart)
        .filter((c) => after === undefined || c.id > after)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit)
        .map((c) => ({
          id: c.id,
          workspace_id: c.workspace_id,
          status: c.status as 'active' | 'scheduled',
          timezone: c.timezone,
          schedule_settings: c.schedule_settings,
        }));
    },
    async markTicked(list, until) {
      let moved = 0;
      for (const { workspaceId, campaignId } of list) {
        const c = campaigns.get(campaignId);
        if (!c || c.workspace_id !== workspaceId || (c.next_run_at !== null && c.next_run_at >= until)) continue;
        campaigns.set(campaignId, { ...c, next_run_at: until });
        moved++;
      }
      return moved;
    },
  };

  /** Enrols `count` new leads in a campaign (pending, due since a minute before `now`). */
  function enrol(campaignId: string, count: number, now: Date, init: Partial<Omit<FakeEnrolment, 'id' | 'leadId' | 'email'>> = {}): FakeEnrolment[] {
    const added = Array.from({ length: count }, (_, i): FakeEnrolment => ({
      id: randomUUID(),
      leadId: randomUUID(),
      email: `lead${(enrolments.get(campaignId)?.length ?? 0) + i}@x.example`,
      status: 'pending',
      currentStep: 0,
      nextEmailAt: new Date(now.getTime() - 60_000),
      ...init,
    }));
    enrolments.set(campaignId, [...(enrolments.get(campaignId) ?? []), ...added]);
    return added;
  }

  /** Gives a campaign its own mailboxes (campaign_mailboxes) instead of the shared `mailboxes`. */
  function assignMailboxes(campaignId: string, list: MailboxRow[]): void {
    campaignMailboxes.set(campaignId, list);
  }

  return Object.assign(store, { campaigns, enrolments, rows, enrol, assignMailboxes });
}
