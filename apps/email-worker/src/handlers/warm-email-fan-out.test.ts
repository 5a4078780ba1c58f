import { randomUUID } from 'node:crypto';
import { warmEmail, warmupBatchShare } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { FakeJobContextOptions } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext, testConfig } from '../../test/fixtures/fake-deps.js';
import { createFakeWarmupStore, type FakeWarmup } from '../providers/fake-warmup-store.js';
import type { WarmEmailRequest, WarmupToAdvance } from '../providers/warmup-store.js';
import { rampStep, WARMUP_BATCH_SPREAD_MS, warmEmailHandler, type WarmupFanOutResult } from './warm-email.js';

// the fake clock (fake-deps.ts) reads 2026-12-01T15:00:00Z: the 12:00 batch
const TODAY = '2026-12-01';
const YESTERDAY = '2026-11-30';

function warmup(workspaceId: string, init: Partial<FakeWarmup> = {}): FakeWarmup {
  return {
    id: randomUUID(),
    workspaceId,
    senderAccountId: randomUUID(),
    status: 'active',
    mailboxStatus: 'active',
    senderStatus: 'active',
    dayNumber: 3,
    currentDailyLimit: 15,
    targetDaily: 40,
    maxSendsPerDay: 40,
    peerIds: [randomUUID(), randomUUID()],
    claimed: new Map(),
    stats: new Map(),
    ...init,
  };
}

function setup(list: FakeWarmup[]) {
  const f = createFakeDeps();
  const warmups = createFakeWarmupStore(list);
  const deps = { ...f.deps, warmups };
  const context = (options: FakeJobContextOptions = {}) => fakeContext(deps, { recorder: f.recorder, ...options });
  /** the warm-email jobs the fan-out enqueued, by Bull job id, with their delays */
  const queue = {
    get jobs() {
      return new Map(
        f.recorder.jobs
          .filter((j) => j.name === warmEmail.name)
          .map((j) => [j.id, { ...(j.payload as Omit<WarmEmailRequest, 'delayMs'>), delayMs: j.delayMs }]),
      );
    },
  };
  const fanOut = (slot?: string, ctx: JobContext<typeof deps> = context()) =>
    warmEmailHandler({ fanOut: true, requestedBy: 'system', ...(slot ? { slot } : {}) }, ctx) as Promise<WarmupFanOutResult>;
  const advance = (ctx: JobContext<typeof deps> = context(), slot?: string) =>
    warmEmailHandler({ fanOut: true, advanceDay: true, requestedBy: 'system', ...(slot ? { slot } : {}) }, ctx);
  const jobsOf = (w: FakeWarmup) => [...queue.jobs.values()].filter((j) => j.warmupCampaignId === w.id);
  return { ...f, warmups, queue, deps, fanOut, advance, jobsOf, context };
}

describe('warm-email: send batch fan-out', () => {
  it('enqueues the batch share of eligible warm-ups of every workspace, none for paused, finished, capped or peerless ones', async () => {
    const [one, two] = [randomUUID(), randomUUID()];
    const a = warmup(one);
    const b = warmup(two, { dayNumber: 1, currentDailyLimit: 5 });
    const capped = warmup(two, { maxSendsPerDay: 2, claimed: new Map([[TODAY, [0, 1]]]) });
    const lonely = warmup(two, { peerIds: [] });
    const others = [
      warmup(one, { status: 'paused' }),
      warmup(one, { status: 'completed' }),
      warmup(two, { status: 'frozen' }),
      warmup(two, { mailboxStatus: 'paused' }),
      warmup(two, { mailboxStatus: 'disabled' }),
      warmup(two, { senderStatus: 'error' }),
    ];
    const s = setup([a, b, capped, lonely, ...others]);

    const result = await s.fanOut();
    // 12:00 batch (index 1): cap 15 → seqs 3-6; cap 5 → seq 1
    expect(result).toEqual({
      form: 'fan-out',
      date: TODAY,
      batch: 1,
      slot: '20261201T1200Z',
      warmups: 4,
      enqueued: 5,
      capped: 1,
      noPeer: 1,
      pages: 1,
      advance: { advanced: 0, held: 7 }, // every active warm-up, eligible to send or not (none sent yesterday)
    });
    expect(s.jobsOf(a).map((j) => j.seq)).toEqual([3, 4, 5, 6]);
    expect(s.jobsOf(b).map((j) => j.seq)).toEqual([1]);
    for (const j of s.jobsOf(a)) {
      expect(j).toMatchObject({ workspaceId: one, senderAccountId: a.senderAccountId, dayNumber: 3, date: TODAY, traceId: 'warm-up-20261201T1200Z' });
      expect(a.peerIds).toContain(j.recipientAccountId);
    }
    // spread over the batch's hours, in seq order, never at once
    const delays = s.jobsOf(a).map((j) => j.delayMs);
    expect(delays).toEqual([...delays].sort((x, y) => x - y));
    expect(new Set(delays).size).toBe(4);
    expect(delays.every((d) => d >= 0 && d < WARMUP_BATCH_SPREAD_MS)).toBe(true);

    // a second run in the same batch: nothing
    expect(await s.fanOut()).toMatchObject({ warmups: 0, enqueued: 0, capped: 0, noPeer: 0 });
    expect(await s.fanOut('20261201T1355Z')).toMatchObject({ slot: '20261201T1200Z', enqueued: 0 });
    expect(s.queue.jobs.size).toBe(5);
  });

  it('four batches send the whole cap once, skipping claimed seqs', async () => {
    const w = warmup(randomUUID(), { claimed: new Map([[TODAY, [5]]]) });
    const s = setup([w]);
    let total = 0;
    for (const hhmm of ['0800', '1200', '1600', '2000']) total += (await s.fanOut(`20261201T${hhmm}Z`)).enqueued;
    expect(total).toBe(14);
    expect(
      s
        .jobsOf(w)
        .map((j) => j.seq)
        .sort((x, y) => x - y),
    ).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    // a batch in the past of the clock's day still lands within the date: no spread past 23:50
    const late = setup([warmup(randomUUID())]);
    await late.fanOut('20261130T2000Z');
    expect([...late.queue.jobs.values()].every((j) => j.delayMs === 0 && j.date === YESTERDAY)).toBe(true);
  });

  it('shares any cap over the four batches without gaps or overlaps', () => {
    for (const cap of [0, 1, 3, 4, 5, 15, 40, 999]) {
      const seqs = [0, 1, 2, 3].flatMap((b) => {
        const { from, to } = warmupBatchShare(cap, b);
        return Array.from({ length: to - from }, (_, i) => from + i);
      });
      expect(seqs).toEqual(Array.from({ length: cap }, (_, i) => i));
    }
  });

  it('pages through many warm-ups', async () => {
    const list = Array.from({ length: 501 }, () => warmup(randomUUID(), { dayNumber: 1, currentDailyLimit: 4 }));
    const s = setup(list);
    expect(await s.fanOut('20261201T0800Z')).toMatchObject({ warmups: 501, enqueued: 501, pages: 2 });
  });

  it('takes its batch from the repeat run time', async () => {
    const s = setup([warmup(randomUUID())]);
    const ctx = s.context({ scheduledAt: new Date('2026-12-01T16:00:00Z') });
    expect(await s.fanOut(undefined, ctx)).toMatchObject({ batch: 2, slot: '20261201T1600Z', enqueued: 4 }); // seqs 7-10
  });
});

describe('warm-email: day advance', () => {
  const row = (yesterday: WarmupToAdvance['yesterday'], init: Partial<WarmupToAdvance> = {}): WarmupToAdvance => ({
    warmup_campaign_id: 'w',
    workspace_id: 'ws',
    day_number: 3,
    current_daily_limit: 15,
    target_daily: 40,
    yesterday,
    ...init,
  });
  const day = (sent: number, bounced = 0, spam = 0, is_healthy = true) => ({ sent, delivered: sent - bounced, bounced, spam, is_healthy });

  it('advances only past the gates: sends, health, complaints, bounce rate from 20 sends', () => {
    expect(rampStep(row(day(15)), testConfig)).toEqual({ workspaceId: 'ws', warmupCampaignId: 'w', fromDay: 3, day: 4, cap: 20 });
    expect(rampStep(row(day(15, 5)), testConfig)).toMatchObject({ day: 4 }); // a small day's bounces are not judged
    expect(rampStep(row(day(40, 2)), testConfig)).toMatchObject({ day: 4 }); // 5 %: at the limit
    expect(rampStep(row(day(40, 3)), testConfig)).toMatchObject({ day: 3, cap: 15, hold: 'bounce-rate' });
    expect(rampStep(row(day(40, 0, 1)), testConfig)).toMatchObject({ day: 3, cap: 15, hold: 'complaint' });
    expect(rampStep(row(day(15, 0, 0, false)), testConfig)).toMatchObject({ day: 3, hold: 'unhealthy' });
    expect(rampStep(row(null), testConfig)).toMatchObject({ day: 3, hold: 'no-sends' });
    expect(rampStep(row(day(0)), testConfig)).toMatchObject({ hold: 'no-sends' });
    // the cap stops at the warm-up's target and the configured one
    expect(rampStep(row(day(30), { day_number: 20, target_daily: 25 }), testConfig)).toMatchObject({ day: 21, cap: 25 });
    expect(rampStep(row(day(30), { day_number: 20 }), testConfig)).toMatchObject({ day: 21, cap: 40 });
  });

  it('applies the steps once per day, at midnight or from the first batch', async () => {
    const healthy = warmup(randomUUID(), { stats: new Map([[YESTERDAY, day(15)]]) });
    const bounced = warmup(randomUUID(), { stats: new Map([[YESTERDAY, day(40, 4)]]) });
    const paused = warmup(randomUUID(), { status: 'paused', stats: new Map([[YESTERDAY, day(15)]]) });
    const s = setup([healthy, bounced, paused]);
    const midnight = s.context({ scheduledAt: new Date('2026-12-01T00:00:00Z') });
    expect(await s.advance(midnight)).toEqual({ form: 'advance-day', date: TODAY, advanced: 1, held: 1, pages: 1 });
    expect([healthy.dayNumber, healthy.currentDailyLimit, bounced.dayNumber, bounced.currentDailyLimit, paused.dayNumber]).toEqual([4, 20, 3, 15, 3]);
    expect(await s.advance(midnight)).toMatchObject({ advanced: 0, held: 0 });
    expect(await s.fanOut('20261201T0800Z')).toMatchObject({ advance: { advanced: 0, held: 0 } });
    expect(healthy.dayNumber).toBe(4);

    // midnight lost: the day's first batch advances before it reads the caps
    const late = warmup(randomUUID(), { stats: new Map([[YESTERDAY, day(15)]]) });
    const t = setup([late]);
    expect(await t.fanOut('20261201T0800Z')).toMatchObject({ advance: { advanced: 1, held: 0 }, enqueued: 5 });
    expect(t.jobsOf(late).every((j) => j.dayNumber === 4)).toBe(true);
  });
});
