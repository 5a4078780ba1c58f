import { randomUUID } from 'node:crypto';
import { sendBulkEmail } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { CampaignRow, MailboxRow } from '@coldcopy/db';
import type { FakeJobContextOptions } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext } from '../../test/fixtures/fake-deps.js';
import { createFakeCampaignTickStore } from '../providers/fake-campaign-tick-store.js';
import { REENQUEUE_AFTER_MS } from '../env.js';
import { campaignStartsAt, FAN_OUT_PAGE_SIZE, sendBulkEmailHandler } from './send-bulk-email.js';

// the fake clock (fake-deps.ts) reads 2026-12-01T15:00:00Z
const SLOT = '20261201T1500Z';

function campaignRow(init: Partial<CampaignRow> = {}): CampaignRow {
  return {
    id: randomUUID(),
    workspace_id: randomUUID(),
    status: 'active',
    timezone: 'UTC',
    schedule_settings: {},
    daily_limit: 1000,
    next_run_at: null,
    started_at: null,
    completed_at: null,
    deleted_at: null,
    ...init,
  } as CampaignRow;
}

function setup(options: { leads?: number; campaigns?: CampaignRow[]; campaign?: Partial<CampaignRow>; mailboxes?: number; steps?: number } = {}) {
  const f = createFakeDeps();
  const campaign = campaignRow(options.campaign);
  const mailboxes = Array.from({ length: options.mailboxes ?? 2 }, () => ({ id: randomUUID(), status: 'active' })) as MailboxRow[];
  const ticks = createFakeCampaignTickStore({ campaigns: [campaign, ...(options.campaigns ?? [])], mailboxes, steps: options.steps });
  const enrolled = ticks.enrol(campaign.id, options.leads ?? 0, f.clock.now);
  const deps = { ...f.deps, campaignTicks: ticks };
  const context = (options: FakeJobContextOptions = {}) => fakeContext(deps, { recorder: f.recorder, ...options });
  /** the per-campaign ticks the fan-out enqueued */
  const queue = {
    get jobs() {
      return f.recorder.of(sendBulkEmail) as Array<{ workspaceId: string; campaignId: string; windowSlot: string; batchSize: number; traceId?: string }>;
    },
  };
  const run = (batchSize = 50, c: CampaignRow = campaign) =>
    sendBulkEmailHandler({ workspaceId: c.workspace_id, requestedBy: 'system', campaignId: c.id, windowSlot: SLOT, batchSize }, context());
  const fanOut = (ctx: JobContext<typeof deps> = context(), windowSlot?: string) =>
    sendBulkEmailHandler({ fanOut: true, requestedBy: 'system', batchSize: 50, ...(windowSlot ? { windowSlot } : {}) }, ctx);
  const statusOf = (c: CampaignRow = campaign) => ticks.campaigns.get(c.id)!.status;
  return { ...f, campaign, ticks, queue, deps, enrolled, run, fanOut, statusOf, context };
}

describe('send-bulk-email: per-campaign tick', () => {
  it('schedules a batch, fans out deterministic keys, and a repeated tick adds nothing', async () => {
    const s = setup({ leads: 30 });
    expect(await s.run(20)).toMatchObject({ form: 'campaign', scheduled: 20, queued: 20, remaining: true, skippedLimit: 0 });
    expect(s.followUps.jobs).toHaveLength(20);
    expect(s.followUps.jobs.every((j) => j.key === j.payload.campaignEmailId)).toBe(true);
    await s.run(20);
    await s.run(20);
    expect(s.ticks.rows.size).toBe(30);
    expect(new Set(s.followUps.jobs.map((j) => j.key)).size).toBe(30);
  });

  it('spreads the send-email jobs over a random delay of up to sendJitterMs (none when 0)', async () => {
    const s = setup({ leads: 200 });
    expect(await s.run(100)).toMatchObject({ queued: 100 });
    expect(s.followUps.jobs.every((j) => j.delayMs === 0)).toBe(true); // testConfig: no jitter
    const deps = { ...s.deps, config: { ...s.deps.config, sendJitterMs: 30_000 } };
    await sendBulkEmailHandler(
      { workspaceId: s.campaign.workspace_id, requestedBy: 'system', campaignId: s.campaign.id, windowSlot: SLOT, batchSize: 100 },
      fakeContext(deps, { recorder: s.recorder }),
    );
    const delays = s.followUps.jobs.slice(100).map((j) => j.delayMs);
    expect(delays).toHaveLength(100);
    expect(delays.every((d) => d >= 0 && d < 30_000 && Number.isInteger(d))).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(50); // spread, not one shared delay
  });

  it('enqueues only rows that need a job: new, claimed and claimable again, or marked longer ago than REENQUEUE_AFTER_MS', async () => {
    const s = setup({ leads: 3 });
    expect(await s.run()).toMatchObject({ scheduled: 3, queued: 3 });
    expect(await s.run()).toMatchObject({ scheduled: 0, queued: 0 });
    const [failed, deferred, lost] = [...s.ticks.rows.values()];
    expect(failed!.enqueuedAt).toEqual(s.clock.now);

    s.clock.now = new Date('2026-12-01T15:01:00Z');
    // claimed, then back to retryable without a job (mailbox paused): at once, as `<id>.1`
    Object.assign(failed!, { status: 'retryable', attempt: 1, claimedAt: new Date('2026-12-01T15:00:30Z') });
    // deferred before the claim to 15:03, with its own follow-up job: not until 15:13
    deferred!.scheduledAt = new Date('2026-12-01T15:03:00Z');
    expect(await s.run()).toMatchObject({ queued: 1 });
    expect(s.followUps.jobs.at(-1)!.key).toBe(`${failed!.id}.1`);
    expect(await s.run()).toMatchObject({ queued: 0 });

    s.clock.now = new Date(Date.parse('2026-12-01T15:00:00Z') + REENQUEUE_AFTER_MS + 1);
    expect(await s.run()).toMatchObject({ queued: 1 }); // `lost`: its job may be gone
    expect(lost!.enqueuedAt).toEqual(s.clock.now);
    s.clock.now = new Date(Date.parse('2026-12-01T15:03:00Z') + REENQUEUE_AFTER_MS + 1);
    // `deferred`, its follow-up long overdue, and `failed`, enqueued at 15:01
    expect(await s.run()).toMatchObject({ queued: 2 });
    expect([failed!, deferred!, lost!].map((r) => r.enqueuedAt)).toEqual([
      s.clock.now,
      s.clock.now,
      new Date(Date.parse('2026-12-01T15:00:00Z') + REENQUEUE_AFTER_MS + 1),
    ]);
    expect(await s.run()).toMatchObject({ queued: 0 });
  });

  it('stops at the daily limit, outside the window, and for inactive campaigns', async () => {
    const limited = setup({ leads: 10, campaign: { daily_limit: 3 } });
    expect(await limited.run()).toMatchObject({ scheduled: 3, skippedLimit: 7, remaining: true });
    expect(await limited.run()).toMatchObject({ scheduled: 0, skippedLimit: 7, skipped: 'daily-limit' });
    const closed = setup({ leads: 2, campaign: { schedule_settings: { sendBetween: { start: '16:00', end: '17:00' } } } });
    expect(await closed.run()).toMatchObject({ skipped: 'outside-window', scheduled: 0 });
    expect(await setup({ leads: 2, campaign: { status: 'paused' } }).run()).toMatchObject({ skipped: 'campaign-not-active' });
    expect(await setup({ leads: 2, campaign: { status: 'draft' } }).run()).toMatchObject({ skipped: 'campaign-not-active' });
    expect(await setup({ leads: 2, mailboxes: 0 }).run()).toMatchObject({ skipped: 'no-active-mailbox', scheduled: 0, remaining: true });
  });

  it('counts suppressed, condition-not-met and daily-limit leads apart, and ends or advances their enrolments', async () => {
    const s = setup({ steps: 3, campaign: { daily_limit: 2 } });
    const suppressed = s.ticks.enrol(s.campaign.id, 2, s.clock.now, { suppressed: 'unsubscribed' });
    const bounced = s.ticks.enrol(s.campaign.id, 1, s.clock.now, { suppressed: 'bounced' });
    // step 2 requires an open the lead never made; for one of them step 3 too (the last step)
    const unmet = s.ticks.enrol(s.campaign.id, 1, s.clock.now, { status: 'in_progress', currentStep: 1, unmetSteps: [2] });
    const unmetLast = s.ticks.enrol(s.campaign.id, 1, s.clock.now, { status: 'in_progress', currentStep: 2, unmetSteps: [3] });
    const sendable = s.ticks.enrol(s.campaign.id, 5, s.clock.now);

    const result = await s.run();
    expect(result).toMatchObject({ skippedSuppressed: 3, skippedCondition: 2, skippedLimit: 3, scheduled: 2, queued: 2, remaining: true, completed: false });
    expect(suppressed.map((e) => e.status)).toEqual(['unsubscribed', 'unsubscribed']);
    expect(bounced[0]!.status).toBe('bounced');
    // step 2 skipped: the enrolment waits for step 3, two days later (its delay)
    expect(unmet[0]).toMatchObject({ status: 'in_progress', currentStep: 2, nextEmailAt: new Date('2026-12-03T15:00:00Z') });
    expect(unmetLast[0]).toMatchObject({ status: 'completed', currentStep: 3, nextEmailAt: null });
    expect(sendable.filter((e) => [...s.ticks.rows.values()].some((r) => r.leadId === e.leadId))).toHaveLength(2);

    // the next tick: the ended and skipped ones are gone, the limit still holds
    expect(await s.run()).toMatchObject({ skippedSuppressed: 0, skippedCondition: 0, skippedLimit: 3, scheduled: 0, skipped: 'daily-limit' });
  });

  it('starts a scheduled campaign whose start date has come and ticks it; a later one waits', async () => {
    const due = setup({ leads: 3, campaign: { status: 'scheduled', schedule_settings: { startDate: '2026-12-01' } } });
    expect(await due.run()).toMatchObject({ started: true, scheduled: 3, queued: 3 });
    expect(due.statusOf()).toBe('active');
    expect(due.ticks.campaigns.get(due.campaign.id)!.started_at).toBeInstanceOf(Date);
    expect(await due.run()).toMatchObject({ started: false });

    const later = setup({ leads: 3, campaign: { status: 'scheduled', schedule_settings: { startDate: '2026-12-01T16:00:00Z' } } });
    expect(await later.run()).toMatchObject({ skipped: 'not-started', started: false, scheduled: 0 });
    expect(later.statusOf()).toBe('scheduled');
    // no start date: the campaign waits rather than starting by guess
    expect(await setup({ leads: 1, campaign: { status: 'scheduled' } }).run()).toMatchObject({ skipped: 'not-started' });
  });

  it('completes the campaign once every enrolment is finished, not before', async () => {
    const s = setup({ steps: 2 });
    const [a, b, c] = s.ticks.enrol(s.campaign.id, 3, s.clock.now);
    a!.status = 'replied';
    b!.status = 'bounced';
    c!.status = 'in_progress';
    c!.currentStep = 1;
    c!.nextEmailAt = new Date('2026-12-02T00:00:00Z'); // step 2 still to come
    expect(await s.run()).toMatchObject({ completed: false, scheduled: 0 });
    expect(s.statusOf()).toBe('active');

    c!.currentStep = 2; // sent the last step, not yet marked completed: no further step
    expect(await s.run()).toMatchObject({ completed: true });
    expect(s.statusOf()).toBe('completed');
    expect(await s.run()).toMatchObject({ skipped: 'campaign-not-active', completed: false });
  });

  it('completes in the same tick that ends the last enrolments; waits while a send is live; never completes an empty campaign', async () => {
    const s = setup({ steps: 1 });
    s.ticks.enrol(s.campaign.id, 2, s.clock.now, { suppressed: 'unsubscribed' });
    expect(await s.run()).toMatchObject({ skippedSuppressed: 2, completed: true });

    const live = setup({ leads: 1, steps: 1 });
    expect(await live.run()).toMatchObject({ scheduled: 1, completed: false });
    live.enrolled[0]!.status = 'completed'; // recorded as sent, but the ledger row is still unknown
    [...live.ticks.rows.values()][0]!.status = 'unknown';
    expect(await live.run()).toMatchObject({ completed: false });
    [...live.ticks.rows.values()][0]!.status = 'sent';
    expect(await live.run()).toMatchObject({ completed: true });

    expect(await setup({ leads: 0 }).run()).toMatchObject({ completed: false });
  });
});

describe('send-bulk-email: fan-out', () => {
  it('enqueues one tick per active or due scheduled campaign across workspaces, once per slot', async () => {
    const ws = randomUUID();
    const others = [
      campaignRow({ workspace_id: ws }),
      campaignRow({ workspace_id: ws, status: 'scheduled', schedule_settings: { startDate: '2026-11-30' } }),
      campaignRow({ status: 'paused' }),
      campaignRow({ status: 'draft' }),
      campaignRow({ status: 'completed' }),
      campaignRow({ status: 'scheduled', schedule_settings: { startDate: '2026-12-24' } }),
      campaignRow({ deleted_at: new Date('2026-11-01T00:00:00Z') }),
    ];
    const s = setup({ campaigns: others });
    const first = await s.fanOut();
    expect(first).toEqual({ form: 'fan-out', windowSlot: SLOT, enqueued: 3, notStarted: 1, pages: 1 });
    const expected = [s.campaign, others[0]!, others[1]!];
    expect(s.queue.jobs.map((j) => j.campaignId).sort()).toEqual(expected.map((c) => c.id).sort());
    for (const job of s.queue.jobs) {
      expect(job).toMatchObject({ windowSlot: SLOT, batchSize: 50, traceId: `campaign-tick-${SLOT}` });
      expect(job.workspaceId).toBe(expected.find((c) => c.id === job.campaignId)!.workspace_id);
    }
    // the same slot again (a duplicated run, or a retry): nothing
    expect(await s.fanOut()).toMatchObject({ enqueued: 0 });
    expect(s.queue.jobs).toHaveLength(3);
    // the next slot ticks them again
    s.clock.now = new Date('2026-12-01T15:05:00Z');
    expect(await s.fanOut()).toMatchObject({ windowSlot: '20261201T1505Z', enqueued: 3 });
    expect(s.queue.jobs).toHaveLength(6);
  });

  it('takes the slot from the time the run was scheduled for (ctx.scheduledAt), unless the payload names one', async () => {
    const s = setup();
    const scheduledRun = s.context({ scheduledAt: new Date('2026-12-01T14:55:00Z') });
    expect(await s.fanOut(scheduledRun)).toMatchObject({ windowSlot: '20261201T1455Z', enqueued: 1 });
    // enqueued at 15:01 with a 10 min delay
    const delayed = s.context({ scheduledAt: new Date('2026-12-01T15:11:00Z') });
    expect(await s.fanOut(delayed)).toMatchObject({ windowSlot: '20261201T1510Z' });
    expect(await s.fanOut(s.context(), '20261201T1600Z')).toMatchObject({ windowSlot: '20261201T1600Z' });
    expect(s.queue.jobs.map((j) => j.windowSlot)).toEqual(['20261201T1455Z', '20261201T1510Z', '20261201T1600Z']);
  });

  it('pages through many campaigns', async () => {
    const many = Array.from({ length: FAN_OUT_PAGE_SIZE * 2 + 10 }, () => campaignRow());
    const s = setup({ campaigns: many });
    expect(await s.fanOut()).toMatchObject({ enqueued: many.length + 1, pages: 3 });
    expect(new Set(s.queue.jobs.map((j) => j.campaignId)).size).toBe(many.length + 1);
  });
});

describe('campaignStartsAt', () => {
  it('reads a local date at midnight in the campaign time zone, or an ISO date-time', () => {
    expect(campaignStartsAt({ timezone: 'America/New_York', schedule_settings: { startDate: '2026-12-01' } })).toEqual(new Date('2026-12-01T05:00:00Z'));
    expect(campaignStartsAt({ timezone: 'Pacific/Kiritimati', schedule_settings: { startDate: '2026-12-01' } })).toEqual(new Date('2026-11-30T10:00:00Z'));
    expect(campaignStartsAt({ timezone: 'UTC', schedule_settings: { startDate: '2026-12-01T09:30:00+01:00' } })).toEqual(new Date('2026-12-01T08:30:00Z'));
    expect(campaignStartsAt({ timezone: 'UTC', schedule_settings: {} })).toBeNull();
    expect(campaignStartsAt({ timezone: 'UTC', schedule_settings: { startDate: 'soon' } })).toBeNull();
    expect(campaignStartsAt({ timezone: 'UTC', schedule_settings: { startDate: '2026-02-30' } })).toBeNull();
  });
});
