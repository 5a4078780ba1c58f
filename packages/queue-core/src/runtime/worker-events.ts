/**
 * Events and metrics: what the worker records from Bull's events on every shard (completions and
 * failures with their durations, stalls, lock extension failures, queue errors), the log lines
 * that go with them, and final failures to the dead-letter store and the optional hook.
 */
import type Bull from 'bull';
import { jobViewOf, type JobView } from '../admin/job-inspect.js';
import type { DeadLetterRecorder } from '../dead-letters/recorder.js';
import { isPermanentError } from '../definitions/errors.js';
import type { QueueName } from '../definitions/queues.js';
import type { Logger } from '../observability/logger.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import type { Entry } from './attempt.js';
import type { DispatchState } from './dispatch.js';

/**
 * Bull's error for a job its stalled check moved to `failed` (queue.js `moveUnlockedJobsToWait`,
 * after `maxStalledCount` recoveries): failed for good whatever attempts it has left, so a final
 * failure (dead letter, hook), not a retry.
 */
const STALLED_LIMIT = 'job stalled more than allowable limit';

export interface FinalFailure {
  readonly queue: QueueName;
  /** the failed job as plain values (as `inspect` reads it) */
  readonly job: JobView;
  readonly error: Error;
}

export function attachWorkerEvents(w: {
  readonly queueName: QueueName;
  readonly shardQueues: readonly Bull.Queue[];
  readonly table: ReadonlyMap<string, Entry>;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  readonly deadLetters: DeadLetterRecorder | undefined;
  readonly onFinalFailure: ((failure: FinalFailure) => void | Promise<void>) | undefined;
  readonly state: DispatchState;
}): void {
  const { queueName, shardQueues, table, metrics, log, deadLetters, state } = w;
  const options = { onFinalFailure: w.onFinalFailure };
  const stalled = metrics.stalled.labels(queueName);
  const onEveryShard = (event: string, listener: (...args: never[]) => void) => {
    for (const q of shardQueues) q.on(event as 'error', listener as (...args: unknown[]) => void);
  };
  onEveryShard('error', (err: Error) => {
    if (state.shuttingDown && /Connection is closed/.test(err.message)) return;
    log.error('queue error', { queue: queueName, err: err.message });
  });
  onEveryShard('stalled', (job: Bull.Job) => {
    stalled.inc();
    log.warn('job stalled', { queue: queueName, job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
  });
  onEveryShard('lock-extension-failed', (job: Bull.Job, err: Error) => {
    log.warn('job lock extension failed', { queue: queueName, job: job.name, jobId: job.id, err: err.message });
  });
  // One line per completed job at `debug`: a winston line costs ~10 µs of CPU, more than the rest
  // of the runtime's per-job work together (docs/benchmarks.md), so at the default level
  // completions are counted in metrics and failures, retries and stalls get the lines. The level
  // check comes first because even a filtered winston call costs several µs, and its answer is
  // kept for a second because the check itself builds arrays (winston's `transports` getter): a
  // level changed at run time applies to completion lines within a second.
  let debugLines = false;
  let debugCheckedUntil = 0;
  onEveryShard('completed', (job: Bull.Job) => {
    const entry = table.get(job.name);
    const now = Date.now();
    const seconds = (now - (job.processedOn ?? now)) / 1000;
    if (entry) {
      entry.completed.inc();
      entry.durationOk.observe(seconds);
    }
    if (now >= debugCheckedUntil) {
      debugLines = log.isLevelEnabled('debug');
      debugCheckedUntil = now + 1000;
    }
    if (debugLines) {
      log.debug('job completed', {
        queue: queueName,
        job: job.name,
        jobId: job.id,
        attempt: job.attemptsMade + 1,
        durationMs: Math.round(seconds * 1000),
        workspaceId: (job.data as { workspaceId?: string } | undefined)?.workspaceId,
      });
    }
  });
  onEveryShard('failed', (job: Bull.Job, err: Error) => {
    const entry = table.get(job.name);
    const final =
      isPermanentError(err) ||
      err.message === STALLED_LIMIT ||
      (job as unknown as { isDiscarded(): boolean }).isDiscarded() ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    const seconds = (Date.now() - (job.processedOn ?? Date.now())) / 1000;
    if (entry) {
      (final ? entry.failedFinal : entry.failedRetry).inc();
      entry.durationFailed.observe(seconds);
    } else {
      metrics.failed.labels(queueName, 'unknown', String(final)).inc();
    }
    const fields = {
      queue: queueName,
      job: job.name,
      jobId: job.id,
      attempt: job.attemptsMade,
      attempts: job.opts.attempts,
      durationMs: Math.round(seconds * 1000),
      workspaceId: (job.data as { workspaceId?: string } | undefined)?.workspaceId,
      error: err.name,
      reason: err.message,
      final,
    };
    if (final) {
      log.error('job failed', { ...fields, stack: err.stack });
      deadLetters?.finalFailure(queueName, job, err);
      if (options.onFinalFailure) {
        Promise.resolve()
          .then(() => options.onFinalFailure?.({ queue: queueName, job: jobViewOf(job, 'failed'), error: err }))
          .catch((hookErr: Error) => log.error('final-failure hook failed', { queue: queueName, jobId: job.id, err: hookErr.message }));
      }
    } else {
      deadLetters?.attemptFailed(queueName, job);
      log.warn('job attempt failed, will retry', fields);
    }
  });
}
