import type { AdminQueues } from './admin-queues.js';
import { JobSecurity } from '../security/job-security.js';
import { SCHEDULES, type Schedule } from '../jobs/schedules.js';
import { QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { desiredSchedule, scheduleKeyOf } from '../runtime/schedule-reconciler.js';

/**
 * What operators see of the schedules (`pnpm jobs schedules`, the dashboard): the declared ones
 * joined with the repeatable configs in Redis.
 * - `active`: in Redis with the declared cron, tz and data;
 * - `pending`: declared but not in Redis, or declared with another config: the queue's worker
 *   reconciles it at its next start;
 * - `stale`: in Redis but no longer declared (or an old config of a declared one): removed at the
 *   worker's next start.
 */
export interface ScheduleRow {
  readonly key: string;
  readonly job: string;
  readonly queue: QueueName;
  readonly cron: string | null;
  readonly tz: string | null;
  /** ISO time of the next run (from Redis), null when not in Redis */
  readonly nextRun: string | null;
  readonly state: 'active' | 'pending' | 'stale';
  readonly description?: string;
}

/** The schedules of `admin`'s queues: each queue's live on its shard 0. */
export async function scheduleRows(admin: Pick<AdminQueues, 'shardsOf'>, schedules: readonly Schedule[] = SCHEDULES): Promise<ScheduleRow[]> {
  // Only the job id is needed here: no signing or encryption happens.
  const security = new JobSecurity({ signing: 'disabled' });
  const rows: ScheduleRow[] = [];
  for (const queue of QUEUE_NAMES) {
    const shard0 = admin.shardsOf(queue)[0];
    if (!shard0) throw new RangeError(`no shard of queue ${queue} in the admin set`);
    const entries = await shard0.inspect.schedules();
    const byKey = new Map(entries.map((e) => [e.key, e]));
    const seen = new Set<string>();
    for (const schedule of schedules.filter((s) => s.job.queue === queue)) {
      const desired = desiredSchedule(schedule, security);
      const entry = byKey.get(desired.repeatKey);
      if (entry) seen.add(entry.key);
      rows.push({
        key: schedule.key,
        job: schedule.job.name,
        queue,
        cron: desired.opts.repeat && 'cron' in desired.opts.repeat ? (desired.opts.repeat.cron ?? null) : null,
        tz: schedule.tz,
        nextRun: entry ? new Date(entry.next).toISOString() : null,
        state: entry ? 'active' : 'pending',
        description: schedule.description,
      });
    }
    for (const entry of entries) {
      if (seen.has(entry.key)) continue;
      rows.push({
        key: scheduleKeyOf(entry.id) ?? entry.id ?? entry.key,
        job: entry.name,
        queue,
        cron: entry.cron ?? null,
        tz: entry.tz ?? null,
        nextRun: new Date(entry.next).toISOString(),
        state: 'stale',
      });
    }
  }
  return rows;
}
