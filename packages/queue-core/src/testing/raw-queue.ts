/**
 * Bull's own queue, for queue-core's tests that check what Bull itself stores and does: a job added
 * past the producer (unsigned, or signed by hand as an old deploy would), Bull's `add`/`addBulk`
 * storage to compare the producer's with, Bull's stalled check, and job state read back. Bull is
 * sealed in this folder (eslint.config.js): tests outside it reach Bull only through this module.
 * Not for apps: they read jobs through the runtime's `Worker` or the admin API.
 */
import Bull from 'bull';

/** a Bull queue as Bull builds it, with Bull's default settings (no queue-core locks or backoff) */
export type RawQueue = Bull.Queue;
export type RawJob = Bull.Job;
export type RawJobOptions = Bull.JobOptions;

/**
 * `new Bull(name, redisUrl, { prefix })`: Bull's own queue `name` (a shard's Bull name, e.g.
 * `maintenance-1`) under `prefix`, never processing unless a test calls `process`. Close it after use.
 */
export function openRawQueue(name: string, redisUrl: string, prefix: string): RawQueue {
  return new Bull(name, redisUrl, { prefix });
}

/**
 * One pass of Bull's stalled-jobs check (its `moveUnlockedJobsToWait`, which Bull runs on a timer
 * in a processing queue and does not declare in its typings): runs the patched
 * moveStalledJobsToWait script once.
 */
export function runStalledCheck(queue: RawQueue): Promise<unknown> {
  return (queue as unknown as { moveUnlockedJobsToWait(): Promise<unknown> }).moveUnlockedJobsToWait();
}
