import { describe, expect, it } from 'vitest';
import type { Schedule } from '../src/jobs/schedules.js';
import { PRIORITIES } from '../src/definitions/priorities.js';
import { desiredSchedule, reconcileSchedules, scheduleKeyOf } from '../src/runtime/schedule-reconciler.js';
import { bullQueuesOf } from '../src/runtime/worker.js';
import { repeatRunIdPrefix } from '../src/security/job-binding.js';
import { openRawQueue, type RawQueue } from '../src/testing/raw-queue.js';
import { testSleep } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';
import { readEvents, useIsolatedRedis, waitFor } from './helpers.js';

const nightly: Schedule = {
  key: 'test-nightly',
  job: testSleep,
  cron: '0 2 * * *',
  tz: 'UTC',
  data: { ms: 0, tag: 'nightly' },
  description: 'test',
};
const hourly: Schedule = { ...nightly, key: 'test-hourly', cron: '0 * * * *', data: { ms: 0, tag: 'hourly' }, priority: 'low' };

describe('schedule reconciliation (real Redis)', () => {
  const redis = useIsolatedRedis();

  const worker = (schedules: readonly Schedule[] | undefined) => redis.worker({ concurrency: 1, schedules });

  function rawQueue(): RawQueue {
    const q = openRawQueue('maintenance', redis.redisUrl, redis.prefix);
    return redis.track(q, (x) => x.close());
  }

  async function snapshot(q: RawQueue) {
    const repeatables = await q.getRepeatableJobs();
    const delayed = await q.getDelayed();
    return {
      keys: repeatables.map((r) => `${scheduleKeyOf(r.id)} ${r.cron} ${r.tz}`).sort(),
      delayed: delayed.map((j) => `${j.name} ${(j.data as { tag: string }).tag} p${j.opts.priority}`).sort(),
      delayedIds: delayed.map((j) => String(j.id)),
    };
  }

  it('three workers starting together leave exactly one copy of each schedule and one armed run', async () => {
    const workers = await Promise.all([worker([nightly, hourly]), worker([nightly, hourly]), worker([nightly, hourly])]);
    expect(workers).toHaveLength(3);
    const q = rawQueue();
    const state = await snapshot(q);
    expect(state.keys).toEqual(['test-hourly 0 * * * * UTC', 'test-nightly 0 2 * * * UTC']);
    // priority set on every run: the job's default (normal) or the schedule's own
    expect(state.delayed).toEqual([`test-sleep hourly p${PRIORITIES.low}`, `test-sleep nightly p${PRIORITIES.normal}`]);

    // a later start with the same declarations changes nothing, even without the lock
    const again = await reconcileSchedules({ queue: bullQueuesOf(workers[0])[0]!, schedules: [nightly, hourly], security: testSecurity() });
    expect(again).toMatchObject({ reconciled: true, added: [], removed: [] });
    expect(await snapshot(q)).toEqual(state);
  });

  it('replaces a changed cron and removes a dropped schedule together with its armed runs', async () => {
    const first = await worker([nightly, hourly]);
    const q = rawQueue();
    const before = await snapshot(q);
    expect(before.keys).toHaveLength(2);

    // The pitfall of bull-v4.md §14: a run armed for another tick survives removeRepeatableByKey.
    const [hourlyEntry] = (await q.getRepeatableJobs()).filter((r) => scheduleKeyOf(r.id) === 'test-hourly');
    const strayId = `${repeatRunIdPrefix(hourlyEntry!.name, hourlyEntry!.id, hourlyEntry!.key)}${hourlyEntry!.next + 3_600_000}`;
    await q.add('test-sleep', { ms: 0, tag: 'hourly' }, { jobId: strayId, delay: 3_600_000, priority: 20 });
    expect((await snapshot(q)).delayedIds).toContain(strayId);
    await first.close(2000);

    const changed: Schedule = { ...nightly, cron: '30 2 * * *' };
    await worker([changed]);
    const after = await snapshot(q);
    expect(after.keys).toEqual(['test-nightly 30 2 * * * UTC']);
    expect(after.delayed).toEqual([`test-sleep nightly p${PRIORITIES.normal}`]);
    expect(after.delayedIds.some((id) => before.delayedIds.includes(id))).toBe(false);
    expect(after.delayedIds).not.toContain(strayId);
  });

  it('replaces a schedule whose data changed (Bull keys repeatables without data)', async () => {
    await worker([nightly]);
    const q = rawQueue();
    const result = await reconcileSchedules({
      queue: q,
      schedules: [{ ...nightly, data: { ms: 5, tag: 'nightly' } }],
      security: testSecurity(),
    });
    expect(result).toMatchObject({ reconciled: true, added: ['test-nightly'], removed: [expect.stringMatching(/^sched\.test-nightly\./)] });
    const delayed = await q.getDelayed();
    expect(delayed.map((j) => j.data)).toEqual([{ ms: 5, tag: 'nightly', honourAbort: true }]);
  });

  it('re-arms schedules whose runs were signed with a key that was rotated away', async () => {
    const old = testSecurity({ signingKeys: 'k0:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=' });
    const q = rawQueue();
    await reconcileSchedules({ queue: q, schedules: [nightly], security: old });
    const [before] = await q.getDelayed();
    expect(before!.opts).toHaveProperty('signature', expect.stringMatching(/^v2\.k0\./));
    const result = await reconcileSchedules({ queue: q, schedules: [nightly], security: testSecurity() });
    expect(result.added).toEqual(['test-nightly']);
    const [after] = await q.getDelayed();
    expect(after!.opts).toHaveProperty('signature', expect.stringMatching(/^v2\.k2\./));
  });

  it('runs an armed schedule run through the normal dispatch path (signature verified)', async () => {
    await worker([nightly]);
    const q = rawQueue();
    const [armed] = await q.getDelayed();
    await armed!.promote();
    await waitFor(async () => (await readEvents(redis.client(), redis.prefix)).some((e) => e.startsWith('done:nightly')), {
      what: 'the promoted scheduled run to complete',
    });
    // the next tick is armed from the run, the config is still there once
    expect((await q.getRepeatableJobs()).length).toBe(1);
  });

  it('lets only one replica reconcile at a time', async () => {
    const q = rawQueue();
    await q.isReady();
    await q.client.set(q.toKey('schedules-lock'), 'someone-else', 'PX', 10_000);
    const result = await reconcileSchedules({ queue: q, schedules: [nightly], security: testSecurity() });
    expect(result.reconciled).toBe(false);
    expect(await q.getRepeatableJobs()).toEqual([]);
  });

  it('validates every declaration before touching Redis', async () => {
    const q = rawQueue();
    await reconcileSchedules({ queue: q, schedules: [nightly], security: testSecurity() });
    await expect(reconcileSchedules({ queue: q, schedules: [{ ...nightly, data: { tag: 'x' } }], security: testSecurity() })).rejects.toThrow(/test-sleep/);
    expect((await q.getRepeatableJobs()).map((r) => scheduleKeyOf(r.id))).toEqual(['test-nightly']);
    expect(desiredSchedule(nightly, testSecurity()).repeatKey).toBe((await q.getRepeatableJobs())[0]!.key);
  });
});
