import type Bull from 'bull';
// @ts-expect-error -- Bull ships no types for its internal modules (typed below)
import bullBackoffs from 'bull/lib/backoffs.js';
// @ts-expect-error -- as above
import bullScripts from 'bull/lib/scripts.js';

/** The two Bull 4 modules used here (Bull's own main module loads both). */
const scripts = bullScripts as {
  addJob(
    client: unknown,
    queue: Bull.Queue,
    job: { name: string; data: string; opts: string; timestamp: unknown; delay: unknown; debounceId: unknown },
    opts: { lifo: unknown; customJobId: unknown; priority: unknown; debounce: unknown },
  ): Promise<string>;
};
const backoffs = bullBackoffs as { normalize(backoff: unknown): Bull.JobOptions['backoff'] };

/** A job to add: its name, its data already as JSON text, and its Bull options as passed to `add`. */
export interface NewJob {
  readonly name: string;
  readonly json: string;
  readonly opts: Bull.JobOptions;
}

/** Adds one job; resolves to its id (Bull's `Job.create`). */
export async function addJob(queue: Bull.Queue, job: NewJob, now = Date.now()): Promise<string> {
  await queue.isReady();
  return callAddJob(queue, queue.client, job, now);
}

/** Adds jobs in one MULTI; resolves to their ids in order (Bull's `Job.createBulk`). */
export async function addJobs(queue: Bull.Queue, jobs: readonly NewJob[], now = Date.now()): Promise<string[]> {
  await queue.isReady();
  const multi = queue.client.multi();
  for (const job of jobs) void callAddJob(queue, multi, job, now);
  const replies = await multi.exec();
  if (!replies) throw new Error('the MULTI adding jobs was discarded');
  // (Bull's createBulk ignores an error reply and gives that job the id undefined)
  return replies.map(([err, id]) => {
    if (err) throw err;
    return id as string;
  });
}

/**
 * Bull's `setDefaultOpts` (lib/job.js), in its key order: attempts 1 and delay 0 by default, the
 * timestamp now, the backoff normalised. Then `addJob` with `toData`'s fields: the script stores
 * name, data, options, timestamp and delay.
 */
function callAddJob(queue: Bull.Queue, client: unknown, job: NewJob, now: number): Promise<string> {
  const opts: Record<string, unknown> & Bull.JobOptions = { ...job.opts };
  opts.attempts = opts.attempts === undefined ? 1 : opts.attempts;
  opts.delay = opts.delay === undefined ? 0 : Number(opts.delay);
  opts.timestamp = opts.timestamp === undefined ? now : opts.timestamp;
  opts.attempts = parseInt(String(opts.attempts));
  opts.backoff = backoffs.normalize(opts.backoff);
  const stored = {
    name: job.name,
    data: job.json,
    opts: JSON.stringify(opts),
    timestamp: opts.timestamp,
    delay: opts.delay < 0 ? 0 : opts.delay,
    debounceId: opts.debounce?.id,
  };
  return scripts.addJob(client, queue, stored, { lifo: opts.lifo, customJobId: opts.jobId, priority: opts.priority, debounce: opts.debounce });
}
