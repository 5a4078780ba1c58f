import { planEnqueue, type AnyJobDefinition, type EnqueueOptions, type JobInput, type JobPayload, type PlannedJob } from '@coldcopy/queue-core';
import { createSilentLogger, type JobContext, type Logger } from '@coldcopy/queue-core/runtime';

/** One job a handler enqueued through a fake context. */
export interface RecordedJob extends PlannedJob {
  /** the id the producer would return: the deterministic id, else a counter */
  readonly id: string;
  readonly options: EnqueueOptions | undefined;
}

/**
 * What handlers enqueued, shared by every fake context made with it. Like Bull, a job whose
 * deterministic id is already known is not added again (the call still returns its id).
 */
export class EnqueueRecorder {
  readonly jobs: RecordedJob[] = [];
  /** how many pauseQueue / resumeQueue calls, and whether the queue is paused now */
  readonly queue = { paused: false, pauses: 0, resumes: 0 };
  private readonly failures: Error[] = [];
  private counter = 0;

  /** The payloads enqueued for one definition, in order. */
  of<J extends AnyJobDefinition>(job: J): Array<JobPayload<J>> {
    return this.jobs.filter((j) => j.name === job.name).map((j) => j.payload as JobPayload<J>);
  }

  /** The next `n` enqueue calls fail with `error` (nothing recorded), as a Redis outage would. */
  failNext(error: Error, n = 1): void {
    for (let i = 0; i < n; i++) this.failures.push(error);
  }

  /** Validates like the producer (throws its errors), then records. */
  add(def: AnyJobDefinition, data: unknown, options: EnqueueOptions | undefined): { id: string; queue: RecordedJob['queue']; name: string } {
    const planned = planEnqueue(def, data, options);
    const failure = this.failures.shift();
    if (failure) throw failure;
    const id = planned.jobId ?? String(++this.counter);
    if (planned.jobId === undefined || !this.jobs.some((j) => j.id === id)) this.jobs.push({ ...planned, id, options });
    return { id, queue: planned.queue, name: planned.name };
  }
}

export interface FakeJobContextOptions {
  readonly jobId?: string;
  readonly attempt?: number;
  /** attempts allowed in all (default 1) */
  readonly attempts?: number;
  /** default: now */
  readonly scheduledAt?: Date;
  readonly log?: Logger;
  /** share one recorder between contexts (one per test, like one Redis) */
  readonly recorder?: EnqueueRecorder;
  /** an aborted or abortable signal (default: never aborts) */
  readonly signal?: AbortSignal;
}

export interface FakeJobContext<D> extends JobContext<D> {
  readonly recorder: EnqueueRecorder;
  /** progress values reported, in order */
  readonly progressReports: Array<number | Record<string, unknown>>;
}

/**
 * A JobContext for calling a handler directly in a unit test: `enqueue` and `enqueueBulk` validate
 * like the producer and record into `recorder`, `pauseQueue`/`resumeQueue` flip `recorder.queue`.
 */
export function createFakeJobContext<D>(deps: D, options: FakeJobContextOptions = {}): FakeJobContext<D> {
  const recorder = options.recorder ?? new EnqueueRecorder();
  const progressReports: Array<number | Record<string, unknown>> = [];
  return {
    jobId: options.jobId ?? 'test-job',
    attempt: options.attempt ?? 1,
    attempts: options.attempts ?? 1,
    scheduledAt: options.scheduledAt ?? new Date(),
    deps,
    log: options.log ?? createSilentLogger(),
    signal: options.signal ?? new AbortController().signal,
    recorder,
    progressReports,
    async progress(value) {
      progressReports.push(value);
    },
    async enqueue<J extends AnyJobDefinition>(job: J, data: JobInput<J>, enqueueOptions?: EnqueueOptions) {
      return recorder.add(job, data, enqueueOptions);
    },
    async enqueueBulk(job, items) {
      // every item validated before any is recorded, as the producer does
      for (const item of items) planEnqueue(job, item.data, item.options);
      return items.map((item) => recorder.add(job, item.data, item.options));
    },
    async pauseQueue() {
      recorder.queue.paused = true;
      recorder.queue.pauses++;
    },
    async resumeQueue() {
      recorder.queue.paused = false;
      recorder.queue.resumes++;
    },
  };
}
