import type { AnyJobDefinition, JobInput, JobPayload } from '../definitions/define-job.js';
import type { EnqueueOptions } from '../definitions/job-options.js';
import type { QueueName } from '../definitions/queues.js';
import type { JobsOn } from '../jobs/index.js';
import type { Logger } from '../observability/logger.js';
import type { BulkItem, EnqueuedJob } from '../producer/producer.js';

/**
 * What a handler receives besides its payload. Nothing of Bull shows through: handlers read the
 * job's facts here and enqueue follow-up jobs through `enqueue`, which signs, shards and adds them
 * like the producer does, over the worker's own Redis connections.
 */
export interface JobContext<D> {
  readonly jobId: string;
  /** 1 for the first attempt */
  readonly attempt: number;
  /** attempts this job may make in all: `attempt === attempts` is its last (barring a permanent error) */
  readonly attempts: number;
  /**
   * When this run was meant to start: a scheduled (repeatable) run's slot in its cron series, any
   * other job its enqueue time plus its delay. Stable across retries, so a retried run keeps its
   * slot.
   */
  readonly scheduledAt: Date;
  readonly deps: D;
  /** child logger carrying queue, job, jobId, attempt and workspaceId */
  readonly log: Logger;
  /** fires when the attempt's time budget runs out or the worker shuts down */
  readonly signal: AbortSignal;
  /** reports progress (one Redis write; call it sparingly) */
  progress(value: number | Record<string, unknown>): Promise<void>;
  /**
   * Adds a job of any queue, exactly as the producer would: validated by the job's input schema
   * (a `JobValidationError` names every bad field, nothing is written), signed, sharded by
   * workspace, with the definition's idempotency key as the job id.
   */
  enqueue<J extends AnyJobDefinition>(job: J, data: JobInput<J>, options?: EnqueueOptions): Promise<EnqueuedJob>;
  /** Many jobs of one definition: every item validated first, then `addBulk` per shard in chunks. */
  enqueueBulk<J extends AnyJobDefinition>(job: J, items: ReadonlyArray<BulkItem<J>>): Promise<EnqueuedJob[]>;
  /**
   * Pauses this job's queue for every worker (every shard, every replica): waiting jobs stay
   * queued, jobs in flight finish. For emergencies such as a provider suspending the account.
   */
  pauseQueue(): Promise<void>;
  /** Resumes this job's queue on every shard after `pauseQueue` (or an operator's pause). */
  resumeQueue(): Promise<void>;
}

export type Handler<J extends AnyJobDefinition, D> = (payload: JobPayload<J>, ctx: JobContext<D>) => Promise<unknown>;

/** A handler for every job of queue Q: a missing or mistyped handler fails to compile. */
export type HandlersFor<Q extends QueueName, D> = { [J in JobsOn<Q> as J['name']]: Handler<J, D> };

/** A handler for each of the jobs J (a worker that dispatches only some jobs of its queue). */
export type HandlersOf<J extends AnyJobDefinition, D> = { [K in J as K['name']]: Handler<K, D> };
