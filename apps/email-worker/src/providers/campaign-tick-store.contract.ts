import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CampaignTickStore } from './campaign-tick-store.js';

/*
 * Contract of the CampaignTickStore port, run against the in-memory fake (unit project,
 * campaign-tick-store.contract.test.ts) and the Postgres adapter (integration project,
 * test/campaign-tick-store.contract.int.test.ts). A world seeds what the fake keeps in memory and
 * Postgres in tables: campaigns of their own workspaces, each with one active mailbox and two
 * steps (step 1, then step 2 after 1 day 3 hours), and enrolled leads.
 */

export interface TickCampaign {
  readonly workspaceId: string;
  readonly campaignId: string;
  readonly mailboxId: string;
}

export interface TickEnrolment {
  readonly enrolmentId: string;
  readonly leadId: string;
}

export interface CampaignTickWorld {
  readonly store: CampaignTickStore;
  /** a campaign in a new workspace (status active unless told) */
  addCampaign(options?: { status?: 'active' | 'scheduled' }): Promise<TickCampaign>;
  /** enrols new leads: pending, step 0, due at `nextEmailAt` (default a minute ago; null = never set) */
  enrol(c: TickCampaign, count: number, options?: { nextEmailAt?: Date | null }): Promise<TickEnrolment[]>;
  /** an active suppression of the lead's address in the campaign's workspace */
  suppress(c: TickCampaign, leadId: string, type: 'bounce' | 'unsubscribe'): Promise<void>;
  /** plays the send path on a ledger row, as the ledger statements would */
  setSend(c: TickCampaign, campaignEmailId: string, patch: { status?: string; claimedAt?: Date; attempt?: number }): Promise<void>;
  sendStatus(c: TickCampaign, campaignEmailId: string): Promise<string>;
  enrolment(c: TickCampaign, enrolmentId: string): Promise<{ status: string; currentStep: number; nextEmailAt: Date | null }>;
}

const MIN = 60_000;
const errorName = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err as Error).name,
  );

export function runCampaignTickStoreContract(name: string, makeWorld: () => Promise<CampaignTickWorld>): void {
  describe(`CampaignTickStore contract: ${name}`, () => {
    /** schedules step 1 for the enrolments (due at `at`) and returns the new rows' ids, oldest due first */
    async function schedule(w: CampaignTickWorld, c: TickCampaign, list: readonly TickEnrolment[], at: Date) {
      await w.store.schedule(
        c.workspaceId,
        c.campaignId,
        list.map((e) => ({ leadId: e.leadId, stepNumber: 1, mailboxId: c.mailboxId, scheduledAt: at })),
      );
      return (await w.store.dueSends(c.workspaceId, c.campaignId, new Date(at.getTime() + 1), 100, new Date(at.getTime() + 1))).map((r) => r.id);
    }

    it('campaign and activeMailboxes: the campaign of the workspace; another workspace is refused, a missing id not found', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const other = await w.addCampaign();
      expect(await w.store.campaign(c.workspaceId, c.campaignId)).toMatchObject({ id: c.campaignId, workspace_id: c.workspaceId, status: 'active' });
      expect(await errorName(w.store.campaign(other.workspaceId, c.campaignId))).toBe('TenancyError');
      expect(await errorName(w.store.campaign(c.workspaceId, randomUUID()))).toBe('RecordNotFoundError');
      expect(await errorName(w.store.dueEnrolments(other.workspaceId, c.campaignId, new Date(), 10))).toBe('TenancyError');
      expect((await w.store.activeMailboxes(c.workspaceId, c.campaignId)).map((m) => m.id)).toEqual([c.mailboxId]);
    });

    it('dueEnrolments: due ones, never-set first then oldest due, with the next step and the one after it; limit', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const now = new Date();
      const [late] = await w.enrol(c, 1, { nextEmailAt: new Date(now.getTime() - MIN) });
      const [early] = await w.enrol(c, 1, { nextEmailAt: new Date(now.getTime() - 3 * MIN) });
      const [unset] = await w.enrol(c, 1, { nextEmailAt: null });
      await w.enrol(c, 1, { nextEmailAt: new Date(now.getTime() + 60 * MIN) }); // not due
      const due = await w.store.dueEnrolments(c.workspaceId, c.campaignId, now, 10);
      expect(due.map((d) => d.enrolment_id)).toEqual([unset!.enrolmentId, early!.enrolmentId, late!.enrolmentId]);
      expect(due[0]).toMatchObject({
        lead_id: unset!.leadId,
        next_step: 1,
        suppressed: null,
        condition_met: true,
        following_step: { delay_days: 1, delay_hours: 3 },
      });
      expect(typeof due[0]!.email).toBe('string');
      expect((await w.store.dueEnrolments(c.workspaceId, c.campaignId, now, 2)).map((d) => d.enrolment_id)).toEqual([unset!.enrolmentId, early!.enrolmentId]);
    });

    it('dueEnrolments flags suppressed leads with how their enrolment ends', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const [bounced, unsubscribed, fine] = await w.enrol(c, 3);
      await w.suppress(c, bounced!.leadId, 'bounce');
      await w.suppress(c, unsubscribed!.leadId, 'unsubscribe');
      const due = new Map((await w.store.dueEnrolments(c.workspaceId, c.campaignId, new Date(), 10)).map((d) => [d.enrolment_id, d.suppressed]));
      expect(due).toEqual(
        new Map([
          [bounced!.enrolmentId, 'bounced'],
          [unsubscribed!.enrolmentId, 'unsubscribed'],
          [fine!.enrolmentId, null],
        ]),
      );
    });

    it('schedule inserts each (lead, step) once; a scheduled lead is no longer due; sendsSince counts rows created since, whatever their due time', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const list = await w.enrol(c, 3);
      const createdFrom = new Date(Date.now() - MIN);
      const yesterday = new Date(Date.now() - 86_400_000);
      const rows = list.slice(0, 2).map((e) => ({ leadId: e.leadId, stepNumber: 1, mailboxId: c.mailboxId, scheduledAt: yesterday }));
      expect(await w.store.schedule(c.workspaceId, c.campaignId, rows)).toBe(2);
      expect(await w.store.schedule(c.workspaceId, c.campaignId, rows)).toBe(0);
      expect((await w.store.dueEnrolments(c.workspaceId, c.campaignId, new Date(), 10)).map((d) => d.enrolment_id)).toEqual([list[2]!.enrolmentId]);
      expect(await w.store.sendsSince(c.workspaceId, c.campaignId, createdFrom)).toBe(2);
      expect(await w.store.sendsSince(c.workspaceId, c.campaignId, new Date(Date.now() + 60 * MIN))).toBe(0);
    });

    it('dueSends and markEnqueued: a row needs a job until marked; again once claimed since, or once mark and due time are old', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const due = new Date(Date.now() - 5 * MIN);
      const ids = await schedule(w, c, await w.enrol(c, 2), due);
      await w.store.schedule(c.workspaceId, c.campaignId, [
        { leadId: (await w.enrol(c, 1))[0]!.leadId, stepNumber: 1, mailboxId: c.mailboxId, scheduledAt: new Date(Date.now() + 60 * MIN) },
      ]);
      const now = new Date();
      const longAgo = new Date(now.getTime() - 10 * MIN);
      expect(await w.store.dueSends(c.workspaceId, c.campaignId, now, 10, longAgo)).toEqual(ids.map((id) => ({ id, attempt: 0 })));
      expect(await w.store.dueSends(c.workspaceId, c.campaignId, now, 1, longAgo)).toHaveLength(1);
      expect(await w.store.markEnqueued(c.workspaceId, c.campaignId, ids, now)).toBe(2);
      expect(await w.store.markEnqueued(c.workspaceId, c.campaignId, ids, now)).toBe(0); // never moved back or repeated
      expect(await w.store.dueSends(c.workspaceId, c.campaignId, now, 10, longAgo)).toEqual([]);
      // the job may be lost: mark and due time both before enqueuedBefore
      expect(await w.store.dueSends(c.workspaceId, c.campaignId, now, 10, new Date(now.getTime() + MIN))).toHaveLength(2);
      // claimed after the mark and back to retryable: that claim used the job up
      await w.setSend(c, ids[0]!, { status: 'retryable', claimedAt: new Date(now.getTime() + 1000), attempt: 1 });
      expect(await w.store.dueSends(c.workspaceId, c.campaignId, now, 10, longAgo)).toEqual([{ id: ids[0], attempt: 1 }]);
      // a row no longer claimable is not marked
      await w.setSend(c, ids[1]!, { status: 'sent' });
      expect(await w.store.markEnqueued(c.workspaceId, c.campaignId, [ids[1]!], new Date(now.getTime() + MIN))).toBe(0);
    });

    it('endEnrolments ends open enrolments once; skipSteps moves the current step once, completing after the last', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const [ended, skipped] = await w.enrol(c, 2);
      expect(await w.store.endEnrolments(c.workspaceId, c.campaignId, [], new Date())).toBe(0);
      expect(await w.store.endEnrolments(c.workspaceId, c.campaignId, [{ enrolmentId: ended!.enrolmentId, as: 'unsubscribed' }], new Date())).toBe(1);
      expect(await w.store.endEnrolments(c.workspaceId, c.campaignId, [{ enrolmentId: ended!.enrolmentId, as: 'bounced' }], new Date())).toBe(0);
      expect(await w.enrolment(c, ended!.enrolmentId)).toEqual({ status: 'unsubscribed', currentStep: 0, nextEmailAt: null });

      const soon = new Date(Date.now() - 1000);
      const skip = [{ enrolmentId: skipped!.enrolmentId, stepNumber: 1, nextEmailAt: soon }];
      expect(await w.store.skipSteps(c.workspaceId, c.campaignId, skip)).toBe(1);
      expect(await w.store.skipSteps(c.workspaceId, c.campaignId, skip)).toBe(0);
      expect(await w.enrolment(c, skipped!.enrolmentId)).toEqual({ status: 'in_progress', currentStep: 1, nextEmailAt: soon });
      expect(await w.store.dueEnrolments(c.workspaceId, c.campaignId, new Date(), 10)).toEqual([
        expect.objectContaining({ enrolment_id: skipped!.enrolmentId, next_step: 2, following_step: null }),
      ]);
      expect(await w.store.skipSteps(c.workspaceId, c.campaignId, [{ enrolmentId: skipped!.enrolmentId, stepNumber: 2, nextEmailAt: null }])).toBe(1);
      expect(await w.enrolment(c, skipped!.enrolmentId)).toEqual({ status: 'completed', currentStep: 2, nextEmailAt: null });
    });

    it('start moves a scheduled campaign to active once; completeIfFinished completes only when every enrolment is done and no send is live', async () => {
      const w = await makeWorld();
      const scheduled = await w.addCampaign({ status: 'scheduled' });
      expect(await w.store.start(scheduled.workspaceId, scheduled.campaignId)).toMatchObject({ id: scheduled.campaignId, status: 'active' });
      expect(await w.store.start(scheduled.workspaceId, scheduled.campaignId)).toBeNull();

      const c = await w.addCampaign();
      expect(await w.store.completeIfFinished(c.workspaceId, c.campaignId)).toBe(false); // no enrolments
      const list = await w.enrol(c, 1);
      const [id] = await schedule(w, c, list, new Date(Date.now() - MIN));
      expect(await w.store.completeIfFinished(c.workspaceId, c.campaignId)).toBe(false); // enrolment open
      await w.store.endEnrolments(c.workspaceId, c.campaignId, [{ enrolmentId: list[0]!.enrolmentId, as: 'failed' }], new Date());
      expect(await w.store.completeIfFinished(c.workspaceId, c.campaignId)).toBe(false); // a send is scheduled
      await w.setSend(c, id!, { status: 'cancelled' });
      expect(await w.store.completeIfFinished(c.workspaceId, c.campaignId)).toBe(true);
      expect(await w.store.completeIfFinished(c.workspaceId, c.campaignId)).toBe(false);
      expect((await w.store.campaign(c.workspaceId, c.campaignId)).status).toBe('completed');
    });

    it('settle: a sending row past its lease becomes unknown, an unknown one past the window is resolved by the policy', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const [stale, once, fresh] = await schedule(w, c, await w.enrol(c, 3), new Date(Date.now() - 3 * 60 * MIN));
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * MIN);
      await w.setSend(c, stale!, { status: 'sending', claimedAt: twoHoursAgo, attempt: 1 });
      await w.setSend(c, once!, { status: 'unknown', claimedAt: twoHoursAgo, attempt: 1 });
      await w.setSend(c, fresh!, { status: 'sending', claimedAt: new Date(), attempt: 1 });
      const options = { leaseMs: MIN, windowMs: 30 * MIN, now: new Date() };
      expect(await w.store.settle(c.workspaceId, c.campaignId, { ...options, policy: 'resend-once' })).toEqual({ expired: 1, released: 0, resolved: 2 });
      // `stale` expired to unknown and, being past the window too, resolved in the same pass
      expect(await w.sendStatus(c, stale!)).toBe('retryable');
      expect(await w.sendStatus(c, once!)).toBe('retryable');
      expect(await w.sendStatus(c, fresh!)).toBe('sending');
      await w.setSend(c, once!, { status: 'unknown', claimedAt: twoHoursAgo, attempt: 2 });
      expect(await w.store.settle(c.workspaceId, c.campaignId, { ...options, policy: 'resend-once' })).toEqual({ expired: 0, released: 0, resolved: 1 });
      expect(await w.sendStatus(c, once!)).toBe('failed_unknown');
    });

    it('settle: lapsed claims proven unsent become retryable whatever the policy; pending ones wait; marked ones stay for the Send event', async () => {
      const w = await makeWorld();
      const c = await w.addCampaign();
      const [unsent, marked, unknownUnsent, pending, fresh] = await schedule(w, c, await w.enrol(c, 5), new Date(Date.now() - 3 * 60 * MIN));
      const hourAgo = new Date(Date.now() - 60 * MIN);
      await w.setSend(c, unsent!, { status: 'sending', claimedAt: hourAgo, attempt: 1 });
      await w.setSend(c, marked!, { status: 'sending', claimedAt: hourAgo, attempt: 1 });
      await w.setSend(c, unknownUnsent!, { status: 'unknown', claimedAt: hourAgo, attempt: 2 });
      await w.setSend(c, pending!, { status: 'unknown', claimedAt: hourAgo, attempt: 1 });
      await w.setSend(c, fresh!, { status: 'sending', claimedAt: new Date(), attempt: 1 });
      const asked: Array<{ id: string; attempt: number }> = [];
      const onWire = async (claims: ReadonlyArray<{ id: string; attempt: number; claimedAt: Date }>) => {
        asked.push(...claims.map((x) => ({ id: x.id, attempt: x.attempt })));
        expect(claims.every((x) => Math.abs(x.claimedAt.getTime() - hourAgo.getTime()) < 1000)).toBe(true);
        return { unsent: new Set([unsent!, unknownUnsent!, fresh!]), pending: new Set([pending!]) };
      };
      // past the event window too: the marked one is resolved by the policy, the pending one is not
      const options = { leaseMs: MIN, windowMs: 30 * MIN, now: new Date(), policy: 'review' as const, onWire };
      expect(await w.store.settle(c.workspaceId, c.campaignId, options)).toEqual({ expired: 2, released: 2, resolved: 1 });
      // only lapsed unknown rows are asked about (the fresh claim's attempt may still send)
      const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
      expect(asked.sort(byId)).toEqual(
        [
          { id: unsent!, attempt: 1 },
          { id: marked!, attempt: 1 },
          { id: unknownUnsent!, attempt: 2 },
          { id: pending!, attempt: 1 },
        ].sort(byId),
      );
      expect(await w.sendStatus(c, unsent!)).toBe('retryable');
      expect(await w.sendStatus(c, unknownUnsent!)).toBe('retryable');
      expect(await w.sendStatus(c, marked!)).toBe('failed_unknown');
      expect(await w.sendStatus(c, pending!)).toBe('unknown');
      expect(await w.sendStatus(c, fresh!)).toBe('sending');
    });

    it('campaignsToTick and markTicked: active and scheduled campaigns of every workspace by id, until ticked for the slot', async () => {
      const w = await makeWorld();
      const mine = await Promise.all([w.addCampaign(), w.addCampaign({ status: 'scheduled' }), w.addCampaign()]);
      const ids = new Set(mine.map((c) => c.campaignId));
      const slot = new Date(Date.now() + 60 * MIN);
      const list = async (options: { slotStart: Date; after?: string }) =>
        (await w.store.campaignsToTick({ ...options, limit: 1000 })).filter((c) => ids.has(c.id));
      const all = await list({ slotStart: slot });
      expect(all.map((c) => c.id)).toEqual([...ids].sort());
      expect(all.find((c) => c.id === mine[1].campaignId)).toMatchObject({ workspace_id: mine[1].workspaceId, status: 'scheduled', timezone: 'UTC' });
      expect((await list({ slotStart: slot, after: all[0]!.id })).map((c) => c.id)).toEqual(all.slice(1).map((c) => c.id));

      const first = mine.find((c) => c.campaignId === all[0]!.id)!;
      const until = new Date(slot.getTime() + 60 * MIN);
      const wrongPair = { workspaceId: mine.find((c) => c !== first)!.workspaceId, campaignId: first.campaignId };
      expect(await w.store.markTicked([wrongPair], until)).toBe(0);
      expect(await w.store.markTicked([first], until)).toBe(1);
      expect(await w.store.markTicked([first], until)).toBe(0);
      expect((await list({ slotStart: slot })).map((c) => c.id)).toEqual(all.slice(1).map((c) => c.id));
      expect((await list({ slotStart: until })).map((c) => c.id)).toEqual(all.map((c) => c.id));
    });
  });
}
