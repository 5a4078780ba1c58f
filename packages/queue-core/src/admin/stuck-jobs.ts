import { bullQueueOf, type AdminQueues } from './admin-queues.js';
import { bullKey } from './queue-counts.js';
import { deadLetterEntry, type DeadLetterStore } from '../dead-letters/store.js';
import { PermanentJobError } from '../definitions/errors.js';
import { getJob } from '../jobs/index.js';
import { QUEUES, type QueueName } from '../definitions/queues.js';

/**
 * Stuck jobs (the seed's `clear-stuck-jobs`, `pnpm jobs stuck`): jobs in a queue's `active` list that
 * no worker is finishing.
 *
 * - `lock-expired`: no lock key. The worker died (or lost Redis) mid-job; Bull's stalled check in
 *   any running worker of the queue would move it back to `wait` within `stalledInterval`, but with
 *   no worker running, or while the operator wants it now, it sits there.
 * - `overdue`: the lock is still being renewed, but the job has run `overdueFactor` times its time
 *   budget. The runtime fails an attempt at its budget plus the abort grace, so a lock held that
 *   long means a wedged worker (blocked event loop, a handler that ignores its signal in a
 *   non-runtime process); waiting longer will not help.
 *
 * `fixStuckJobs` moves lock-expired jobs back to `wait` (or `paused` when the queue is paused) in
 * one Lua script that re-checks the lock, so a job a worker picked up meanwhile is left alone; and
 * fails overdue jobs for good (no retry) and writes them to the dead-letter store, from where
 * `pnpm jobs dlq replay` can run them again.
 */
export type StuckReason = 'lock-expired' | 'overdue';

export interface StuckJob {
  readonly queue: QueueName;
  readonly shard: number;
  readonly bullName: string;
  readonly jobId: string;
  readonly name: string;
  readonly reason: StuckReason;
  /** attempts finished before this one */
  readonly attemptsMade: number;
  /** when the current attempt started; null when Bull did not record it */
  readonly startedAt: number | null;
  readonly runningMs: number | null;
  /** the job's time budget (its definition's, else the queue's default) */
  readonly timeoutMs: number;
}

export interface FindStuckOptions {
  /** only these queues (default: all) */
  readonly queues?: readonly QueueName[];
  /** an attempt holding its lock this many times its budget is overdue (default 3) */
  readonly overdueFactor?: number;
  readonly now?: number;
  /** at most this many active jobs are inspected per Bull queue (default 10,000) */
  readonly scanLimit?: number;
}

const DEFAULT_OVERDUE_FACTOR = 3;

export async function findStuckJobs(admin: Pick<AdminQueues, 'shardsOf'>, options: FindStuckOptions = {}): Promise<StuckJob[]> {
  const factor = options.overdueFactor ?? DEFAULT_OVERDUE_FACTOR;
  if (!(factor >= 1) || !Number.isFinite(factor)) throw new RangeError(`overdueFactor must be a number >= 1, got ${factor}`);
  const now = options.now ?? Date.now();
  const limit = options.scanLimit ?? 10_000;
  const found: StuckJob[] = [];
  for (const queue of options.queues ?? (Object.keys(QUEUES) as QueueName[])) {
    for (const entry of admin.shardsOf(queue)) {
      const { shard, bullName } = entry;
      const bull = bullQueueOf(entry);
      const key = (k: string) => bullKey(bull, k);
      const ids = await bull.client.lrange(key('active'), 0, limit - 1);
      if (ids.length === 0) continue;
      // one MULTI per Bull queue: all of its keys share one hash slot on a Redis Cluster
      const multi = bull.client.multi();
      for (const id of ids) multi.exists(key(`${id}:lock`)).hmget(key(id), 'name', 'processedOn', 'attemptsMade');
      const replies = (await multi.exec()) ?? [];
      ids.forEach((jobId, i) => {
        const [lockErr, locked] = replies[2 * i] ?? [new Error('missing reply'), 0];
        const [hashErr, fields] = replies[2 * i + 1] ?? [new Error('missing reply'), []];
        if (lockErr) throw lockErr;
        if (hashErr) throw hashErr;
        const [name, processedOn, attemptsMade] = fields as Array<string | null>;
        if (name === null || name === undefined) return; // removed meanwhile
        const timeoutMs = getJob(name)?.options.timeoutMs ?? QUEUES[queue].defaults.timeoutMs;
        const startedAt = processedOn ? Number(processedOn) : null;
        const runningMs = startedAt === null ? null : Math.max(0, now - startedAt);
        let reason: StuckReason | undefined;
        if (Number(locked) === 0) reason = 'lock-expired';
        else if (runningMs !== null && runningMs > factor * timeoutMs) reason = 'overdue';
        if (!reason) return;
        found.push({ queue, shard, bullName, jobId, name, reason, attemptsMade: Number(attemptsMade ?? 0), startedAt, runningMs, timeoutMs });
      });
    }
  }
  return found;
}

export type StuckFixOutcome =
  | { readonly jobId: string; readonly bullName: string; readonly action: 'moved-to-wait' | 'dead-lettered' }
  | { readonly jobId: string; readonly bullName: string; readonly action: 'skipped'; readonly why: string };

/**
 * KEYS: active, wait, paused, meta-paused, lock; ARGV: job id. Returns 1 when moved, 0 when the
 * job is no longer active, -1 when it has a lock again.
 */
const MOVE_BACK = `
if redis.call('EXISTS', KEYS[5]) == 1 then return -1 end
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
local target = KEYS[2]
if redis.call('EXISTS', KEYS[4]) == 1 then target = KEYS[3] end
redis.call('RPUSH', target, ARGV[1])
return 1
`;

export class StuckJobError extends PermanentJobError {
  override name = 'StuckJobError';
}

export async function fixStuckJobs(admin: Pick<AdminQueues, 'shardsOf'>, stuck: readonly StuckJob[], deadLetters: DeadLetterStore): Promise<StuckFixOutcome[]> {
  const outcomes: StuckFixOutcome[] = [];
  for (const s of stuck) {
    const entry = admin.shardsOf(s.queue).find((x) => x.shard === s.shard);
    if (!entry) {
      outcomes.push({ jobId: s.jobId, bullName: s.bullName, action: 'skipped', why: 'shard not configured' });
      continue;
    }
    const bull = bullQueueOf(entry);
    const key = (k: string) => bullKey(bull, k);
    if (s.reason === 'lock-expired') {
      const moved = Number(
        await bull.client.eval(MOVE_BACK, 5, key('active'), key('wait'), key('paused'), key('meta-paused'), key(`${s.jobId}:lock`), s.jobId),
      );
      outcomes.push(
        moved === 1
          ? { jobId: s.jobId, bullName: s.bullName, action: 'moved-to-wait' }
          : { jobId: s.jobId, bullName: s.bullName, action: 'skipped', why: moved === -1 ? 'a worker holds its lock again' : 'no longer active' },
      );
      continue;
    }
    const job = await bull.getJob(s.jobId);
    if (!job || !(await job.isActive())) {
      outcomes.push({ jobId: s.jobId, bullName: s.bullName, action: 'skipped', why: 'no longer active' });
      continue;
    }
    const error = new StuckJobError(
      `stuck: attempt ${s.attemptsMade + 1} ran ${Math.round((s.runningMs ?? 0) / 1000)} s, more than ${Math.round(s.runningMs! / s.timeoutMs)}× its ${s.timeoutMs / 1000} s budget; failed by pnpm jobs stuck --fix`,
    );
    // Final: no retry. Bull takes it out of `active` even though a (wedged) worker holds the lock;
    // that worker's later completion is refused by Bull for the missing lock.
    job.discard();
    await (job as unknown as { moveToFailed(err: Error, ignoreLock: boolean): Promise<unknown> }).moveToFailed(error, true);
    await deadLetters.add(deadLetterEntry(s.queue, job, error, undefined));
    outcomes.push({ jobId: s.jobId, bullName: s.bullName, action: 'dead-lettered' });
  }
  return outcomes;
}
