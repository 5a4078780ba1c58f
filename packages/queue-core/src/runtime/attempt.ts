/**
 * One attempt of a job in this process: the handler's context (JobContext) and the runtime's
 * bookkeeping for it, plus the dispatch table's entry type. Part of the worker runtime
 * (worker.ts composes dispatch.ts, time-budget.ts, worker-events.ts and this).
 */
import type Bull from 'bull';
import type { AnyJobDefinition, JobInput } from '../definitions/define-job.js';
import type { EnqueueOptions } from '../definitions/job-options.js';
import type { QueueName } from '../definitions/queues.js';
import type { HotCounterSeries, HotHistogramSeries } from '../observability/hot-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { BulkItem, EnqueuedJob, Producer } from '../producer/producer.js';
import type { Handler, JobContext } from './job-context.js';

/** A job the worker dispatches: its definition, handler, time budget and metric series. */
export interface Entry {
  readonly def: AnyJobDefinition;
  readonly handler: Handler<AnyJobDefinition, unknown>;
  readonly timeoutMs: number;
  readonly completed: HotCounterSeries;
  readonly failedFinal: HotCounterSeries;
  readonly failedRetry: HotCounterSeries;
  readonly durationOk: HotHistogramSeries;
  readonly durationFailed: HotHistogramSeries;
  readonly wait: HotHistogramSeries;
}

/** Reason given to handlers' signals on shutdown; their rejection is not recorded as a failure. */
export class ShutdownAbortError extends Error {
  override name = 'ShutdownAbortError';
  constructor() {
    super('worker is shutting down');
  }
}

/** What every attempt of one worker shares: built once per worker, read by each Attempt. */
export interface WorkerScope<D> {
  readonly deps: D;
  readonly log: Logger;
  readonly queue: QueueName;
  /** the worker's producer on its own connections, created on the first enqueue */
  producer(): Producer;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/**
 * One attempt in flight: the handler's context, and the runtime's bookkeeping for it. The
 * AbortController is created only when a handler reads `signal` (most jobs finish without ever
 * looking at it, and an AbortSignal costs a few µs); an abort before that is remembered and the
 * signal is born aborted. Time budgets are enforced by one sweep per worker, not a timer per job.
 */
export class Attempt<D> implements JobContext<D> {
  private childLog: Logger | undefined;
  private controller: AbortController | undefined;
  /** why the attempt was aborted (JobTimeoutError or ShutdownAbortError); undefined while not */
  abortReason: unknown;
  /** the end of the time budget, then (after the abort) the end of the abort grace period */
  deadline: number;
  /** settle the promise Bull waits on */
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  readonly deps: D;
  constructor(
    readonly job: Bull.Job,
    private readonly scope: WorkerScope<D>,
    readonly entry: Entry,
  ) {
    this.deps = scope.deps;
    // the budget runs from when Bull moved the job to active (its clock reading, saves one here)
    this.deadline = (job.processedOn ?? Date.now()) + entry.timeoutMs;
  }
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
  abort(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
  get jobId(): string {
    return String(this.job.id);
  }
  get attempt(): number {
    return this.job.attemptsMade + 1;
  }
  get attempts(): number {
    return this.job.opts.attempts ?? 1;
  }
  get scheduledAt(): Date {
    // A repeatable run carries its cron slot in `prevMillis`; any other job was meant for its
    // enqueue time plus delay (both stay the same on a retry).
    const opts = this.job.opts as { prevMillis?: unknown; delay?: unknown };
    if (typeof opts.prevMillis === 'number' && opts.prevMillis > 0) return new Date(opts.prevMillis);
    return new Date(this.job.timestamp + (typeof opts.delay === 'number' ? opts.delay : 0));
  }
  get log(): Logger {
    // created on first use: most jobs never log beyond the runtime's own lines
    return (this.childLog ??= this.scope.log.child({
      queue: this.scope.queue,
      job: this.job.name,
      jobId: String(this.job.id),
      attempt: this.job.attemptsMade + 1,
      workspaceId: (this.job.data as { workspaceId?: string }).workspaceId,
    }));
  }
  progress(value: number | Record<string, unknown>): Promise<void> {
    return this.job.progress(value) as Promise<void>;
  }
  enqueue<J extends AnyJobDefinition>(job: J, data: JobInput<J>, options?: EnqueueOptions): Promise<EnqueuedJob> {
    return this.scope.producer().enqueue(job, data, options);
  }
  enqueueBulk<J extends AnyJobDefinition>(job: J, items: ReadonlyArray<BulkItem<J>>): Promise<EnqueuedJob[]> {
    return this.scope.producer().enqueueBulk(job, items);
  }
  pauseQueue(): Promise<void> {
    return this.scope.pause();
  }
  resumeQueue(): Promise<void> {
    return this.scope.resume();
  }
}

/** A promise that never settles: Bull keeps a job cut off by shutdown active (the stalled check re-queues it). */
export const NEVER = new Promise<never>(() => {});
