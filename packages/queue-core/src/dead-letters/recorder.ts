import type Bull from 'bull';
import type { Counter } from 'prom-client';
import type { AlertNotifier } from '../observability/alert-webhook.js';
import { deadLetterEntry, type DeadLetterStore, FIRST_FAILED_FIELD, type DeadLetterBounds } from './store.js';
import type { Logger } from '../observability/logger.js';
import type { QueueName } from '../definitions/queues.js';

/**
 * The worker side of the dead-letter store, called from the runtime's `failed` event (never on
 * the success path): remembers the first failed attempt on retries, and on the final failure writes
 * the entry, logs it at error level, counts `bull_dead_letter_added_total` and notifies the alert
 * webhook. A failing write is logged; it never crashes the worker.
 */
export interface DeadLetterRecorder {
  attemptFailed(queue: QueueName, job: Bull.Job): void;
  finalFailure(queue: QueueName, job: Bull.Job, error: Error): void;
  /** waits for writes in flight (before the worker closes its connections) */
  drain(): Promise<void>;
}

export interface DeadLetterRecorderOptions extends DeadLetterBounds {
  readonly store: DeadLetterStore;
  readonly logger: Logger;
  readonly added: Counter<'queue' | 'job_name'>;
  readonly alerts?: AlertNotifier;
}

export function createDeadLetterRecorder(options: DeadLetterRecorderOptions): DeadLetterRecorder {
  const { store, logger, added, alerts } = options;
  const client = store.client;
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const jobKey = (queue: QueueName, job: Bull.Job) => `${store.prefix}:${queue}:${String(job.id)}`;

  return {
    attemptFailed(queue, job) {
      if (job.attemptsMade !== 1) return; // only the first failure matters
      track(client.hsetnx(jobKey(queue, job), FIRST_FAILED_FIELD, String(job.finishedOn ?? Date.now())).catch(() => {}));
    },
    finalFailure(queue, job, error) {
      track(
        (async () => {
          let firstFailedAt: number | undefined;
          if (job.attemptsMade > 1) {
            const raw = await client.hget(jobKey(queue, job), FIRST_FAILED_FIELD).catch(() => null);
            firstFailedAt = raw ? Number(raw) : undefined;
          }
          const entry = deadLetterEntry(queue, job, error, firstFailedAt);
          let stored = true;
          try {
            await store.add(entry);
          } catch (err) {
            stored = false;
            logger.error('dead-letter write failed', { queue, job: job.name, jobId: entry.jobId, err: (err as Error).message });
          }
          // Counted and alerted even when the write failed: the job did fail for good.
          added.labels(queue, job.name).inc();
          logger.error('job dead-lettered', {
            queue,
            job: job.name,
            jobId: entry.jobId,
            deadLetterId: entry.id,
            stored,
            workspaceId: entry.workspaceId,
            attempts: entry.attemptsMade,
            error: error.name,
            reason: error.message,
            firstFailedAt: new Date(entry.firstFailedAt).toISOString(),
          });
          alerts?.notify({ queue, jobName: job.name, error: error.name });
        })().catch((err: Error) => {
          logger.error('dead-letter recording failed', { queue, job: job.name, jobId: job.id, err: err.message });
        }),
      );
    },
    async drain() {
      await Promise.allSettled([...pending]);
    },
  };
}
