import type Bull from 'bull';
import { readQueueCounts, type QueueCounts } from './queue-counts.js';

/**
 * A Bull-free view of one Bull queue's jobs, counts and schedules, for tests and operators: a
 * worker's `inspect` (runtime/worker.ts) and an admin shard's (admin-queues.ts). It hands out plain
 * values, never Bull's Job or Queue objects, so Bull stays sealed in queue-core. Counts go through
 * queue-counts.ts, the one reader of Bull's key layout.
 */

/** A job's state as Bull reports it (`stuck`: in no list, e.g. between two moves). */
export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'paused' | 'stuck';

/** The states `jobs(state)` lists. */
export type ListedJobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

export interface JobView<R = unknown> {
  readonly id: string;
  readonly name: string;
  readonly state: JobState;
  /** the payload as stored (signed and with encrypted fields when the producer sealed them) */
  readonly data: Readonly<Record<string, unknown>>;
  /** the handler's result; undefined until completed */
  readonly returnValue: R | undefined;
  /** the last progress the handler reported (0 when none) */
  readonly progress: unknown;
  /** the last attempt's error message, null when none failed */
  readonly failedReason: string | null;
  /** attempts that failed so far (a completed first attempt leaves it at 0) */
  readonly attemptsMade: number;
  /** attempts allowed (job option, default 1) */
  readonly attempts: number;
  /** the delay asked for at enqueue, in ms (0 when none) */
  readonly delay: number;
  /** creation time, ms since the epoch */
  readonly timestamp: number;
  /** ms since the epoch when it completed or failed for good, null before */
  readonly finishedOn: number | null;
}

/** A repeatable (cron or every) config in Redis. */
export interface ScheduleEntry {
  readonly key: string;
  readonly name: string;
  /** the repeat job id given at enqueue, null when none */
  readonly id: string | null;
  readonly cron: string | null;
  readonly tz: string | null;
  readonly every: number | null;
  /** ms since the epoch of the next run */
  readonly next: number;
}

export interface QueueInspector {
  /** one job, null when absent; its fields are read after its state, so never older than it */
  job<R = unknown>(id: string): Promise<JobView<R> | null>;
  /** jobs in one state, newest first as Bull lists them */
  jobs<R = unknown>(state: ListedJobState): Promise<JobView<R>[]>;
  counts(): Promise<QueueCounts>;
  /** the repeatable configs in Redis */
  schedules(): Promise<ScheduleEntry[]>;
  /** removes a job that is not active (locked); false when absent */
  remove(id: string): Promise<boolean>;
  /** moves a delayed job to waiting now; false when absent */
  promote(id: string): Promise<boolean>;
  /** pauses the queue globally: no worker of it takes a new job until `resume` (counts' `paused`) */
  pause(): Promise<void>;
  /** resumes a globally paused queue */
  resume(): Promise<void>;
}

/** A Bull job as plain values (also the runtime's final-failure hook's `job`). */
export function jobViewOf<R>(job: Bull.Job, state: JobState): JobView<R> {
  return {
    id: String(job.id),
    name: job.name,
    state,
    data: job.data as Record<string, unknown>,
    returnValue: (job.returnvalue as R | null) ?? undefined,
    progress: job.progress() as unknown,
    failedReason: job.failedReason ?? null,
    attemptsMade: job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    delay: job.opts.delay ?? 0,
    timestamp: job.timestamp,
    finishedOn: job.finishedOn ?? null,
  };
}

export function inspectQueue(queue: Bull.Queue): QueueInspector {
  return {
    async job<R>(id: string) {
      const first = await queue.getJob(id);
      if (!first) return null;
      const state = (await first.getState()) as JobState;
      // read again after the state: the copy read before it may predate the result
      const job = await queue.getJob(id);
      return job ? jobViewOf<R>(job, state) : null;
    },
    async jobs<R>(state: ListedJobState) {
      return (await queue.getJobs([state])).filter((j): j is Bull.Job => j !== null).map((j) => jobViewOf<R>(j, state));
    },
    async counts() {
      return (await readQueueCounts([queue]))[0]!;
    },
    async schedules() {
      return (await queue.getRepeatableJobs(0, -1, true)).map((r) => ({
        key: r.key,
        name: r.name,
        id: r.id ?? null,
        cron: r.cron ?? null,
        tz: r.tz ?? null,
        every: (r as { every?: number }).every ?? null,
        next: r.next,
      }));
    },
    async remove(id) {
      const job = await queue.getJob(id);
      if (!job) return false;
      await job.remove();
      return true;
    },
    async promote(id) {
      const job = await queue.getJob(id);
      if (!job) return false;
      await job.promote();
      return true;
    },
    async pause() {
      await queue.pause(false);
    },
    async resume() {
      await queue.resume(false);
    },
  };
}
