import { describe, expect, it } from 'vitest';
import { JobSecurity } from '../security/job-security.js';
import { PRIORITIES } from '../definitions/priorities.js';
import { QUEUE_NAMES } from '../definitions/queues.js';
import { desiredSchedule, scheduleKeyOf } from '../runtime/schedule-reconciler.js';
import { SCHEDULES, schedulesOn } from './schedules.js';

const security = new JobSecurity({ signing: 'disabled' });

describe('schedules', () => {
  // Module-load validation: every declared schedule passes its job's schema and cron check.
  const desired = SCHEDULES.map((s) => desiredSchedule(s, security));

  it('declares valid, unique, UTC schedules for static data only', () => {
    expect(new Set(SCHEDULES.map((s) => s.key)).size).toBe(SCHEDULES.length);
    for (const s of SCHEDULES) {
      expect(s.tz).toBe('UTC');
      // static data has no tenant: a global job, or the global fan-out form of send-bulk-email / warm-email
      expect(s.data, s.key).not.toHaveProperty('workspaceId');
      if (s.job.scope !== 'global') expect(s.data, s.key).toMatchObject({ fanOut: true });
    }
    expect(schedulesOn('email').map((s) => `${s.key} ${s.cron}`)).toEqual([
      'campaign-tick */5 * * * *',
      'warm-up-sends 0 8,12,16,20 * * *',
      'warm-up-day-advance 0 0 * * *',
    ]);
    expect(schedulesOn('analytics').map((s) => s.key)).toEqual([
      'refresh-analytics-15-min',
      'refresh-analytics-30-min',
      'refresh-analytics-hourly',
      'refresh-analytics-6-hours',
    ]);
    // staggered: the light hourly/half-hourly runs avoid minute 0 and 30 of the nightly ones
    expect(schedulesOn('maintenance').map((s) => `${s.key} ${s.cron}`)).toEqual([
      'cache-warming 10,40 * * * *',
      'enrichment-cache-purge 5 * * * *',
      'consent-expiry 0 1 * * *',
      'cleanup-old-data 0 2 * * *',
      'partition-maintenance 30 2 * * *',
      'backup-data-monthly 0 3 1 * *',
      'backup-data-daily 0 3 2-31 * *',
      'backup-verify 0 4 * * 0',
    ]);
    expect(QUEUE_NAMES.flatMap((q) => schedulesOn(q)).length).toBe(SCHEDULES.length);
  });

  it('gives every schedule a priority, its job options and a stable job id that changes with the config', () => {
    for (const d of desired) {
      expect(d.opts.priority).toBe(PRIORITIES[d.schedule.job.options.priority ?? 'normal']);
      expect(d.opts.repeat).toEqual({ cron: d.schedule.cron, tz: 'UTC' });
      expect(d.jobId).not.toContain(':');
      expect(scheduleKeyOf(d.jobId)).toBe(d.schedule.key);
      expect(desiredSchedule(d.schedule, security).jobId).toBe(d.jobId);
    }
    const base = SCHEDULES[0]!;
    const ids = new Set([
      desired[0]!.jobId,
      desiredSchedule({ ...base, cron: '*/10 * * * *' }, security).jobId,
      desiredSchedule({ ...base, tz: 'Europe/Berlin' }, security).jobId,
      desiredSchedule({ ...base, data: { ...base.data, force: true } }, security).jobId,
      desiredSchedule({ ...base, priority: 'high' }, security).jobId,
    ]);
    expect(ids.size).toBe(5);
  });

  it('rejects bad declarations', () => {
    const base = SCHEDULES[0]!;
    expect(() => desiredSchedule({ ...base, cron: '* * * *' }, security)).toThrow(/cron/);
    expect(() => desiredSchedule({ ...base, cron: '@daily' }, security)).toThrow(/cron/);
    expect(() => desiredSchedule({ ...base, tz: 'Mars/Olympus' }, security)).toThrow(/time zone/);
    expect(() => desiredSchedule({ ...base, key: 'Bad Key' }, security)).toThrow(/key/);
    expect(() => desiredSchedule({ ...base, data: { group: 'yearly' } }, security)).toThrow(/refresh-analytics/);
  });
});
