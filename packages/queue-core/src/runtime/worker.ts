import type Bull from 'bull';
import type { AlertNotifier } from '../observability/alert-webhook.js';
import { createBullQueue } from '../redis/bull-queue.js';
import { DeadLetterStore, type DeadLetterBounds } from '../dead-letters/store.js';
import { createDeadLetterRecorder } from '../dead-letters/recorder.js';
import { jobSecurityFromEnv, type JobSecurity } from '../security/job-security.js';
import type { AnyJobDefinition, JobInput } from '../definitions/define-job.js';
import type { EnqueueOptions } from '../definitions/job-options.js';
import { ConfigError, CorruptJobError, InvalidPayloadError, isPermanentError, JobSignatureError, JobTimeoutError, QueueUnavailableError, UnknownJobError } from '../definitions/errors.js';
import { jobsOnQueue } from '../jobs/index.js';
import { Producer, type BulkItem, type EnqueuedJob } from '../producer/producer.js';
import type { Handler, HandlersFor, JobContext } from './job-context.js';
import type { HotCounterSeries, HotHistogramSeries } from '../observability/hot-metrics.js';
import { redactFieldNames, type Logger } from '../observability/logger.js';
import { createWorkerMetrics, type WorkerMetrics } from '../observability/metrics.js';
import { QUEUES, type LockSettings, type QueueName } from '../definitions/queues.js';
import { RedisConnections, whenReady } from '../redis/connections.js';
import type { Schedule } from '../jobs/schedules.js';
import { reconcileSchedules } from './schedule-reconciler.js';
import { shardCountsFromEnv, splitConcurrency, type ShardCounts } from '../redis/sharding.js';
import { toFieldIssues } from '../definitions/validation.js';

export interface FinalFailure {
  readonly queue: QueueName;
  readonly job: Bull.Job;
  readonly error: Error;
}

export interface WorkerOptions<Q extends QueueName, D> {
  readonly queue: Q;
  readonly handlers: HandlersFor<Q, D>;
  readonly deps: D;
  readonly logger: Logger;
  /** either a URL (the worker owns its connections) or shared connections */
  readonly redisUrl?: string;
  readonly connections?: RedisConnections;
  readonly prefix?: string;
  /** default: the queue's catalog value */
  readonly concurrency?: number;
  readonly locks?: Partial<LockSettings>;
  readonly metrics?: WorkerMetrics;
  /** How long start waits for Redis before failing with QueueUnavailableError (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** After an abort on timeout or shutdown, how long a handler may take to stop (default 5 s). */
  readonly abortGraceMs?: number;
  /** Called once when a job fails for the last time (retries spent or permanent error). */
  readonly onFinalFailure?: (failure: FinalFailure) => void | Promise<void>;
  /**
   * The definitions dispatched by this worker. Default: every catalog job of the queue. Tests
   * and benchmarks pass their own.
   */
  readonly definitions?: readonly AnyJobDefinition[];
  /**
   * Signature verification and field decryption before every handler (job-security.ts).
   * Default: from `JOB_SIGNING_KEYS`, `JOB_ENCRYPTION_KEYS` and `JOB_SIGNING` in process.env.
   */
  readonly security?: JobSecurity;
  /**
   * Final failures go to the dead-letter store under the prefix (dead-letter.ts), with optional
   * webhook alerts. Default: on, with the default bounds; `false` turns it off.
   */
  readonly deadLetters?: (DeadLetterBounds & { readonly alerts?: AlertNotifier }) | false;
  /**
   * Shards of the queue (sharding.ts, `<QUEUE>_SHARDS`; default 1): one Bull queue and fetch loop
   * per shard, `concurrency` split over them (at least 1 each).
   */
  readonly shards?: number;
  /**
   * Shards of every queue, for the jobs handlers enqueue (`ctx.enqueue`) to any queue. Default:
   * `<QUEUE>_SHARDS` from process.env; this queue's own count is `shards`.
   */
  readonly shardCounts?: ShardCounts;
  /**
   * The producer behind `ctx.enqueue`, left open by `close()`. Default: one on this worker's
   * connections (no connections of its own), created on the first enqueue and closed with the worker.
   */
  readonly producer?: Producer;
  /** Redis Cluster key layout (sharding.ts `bullKeyLayout`) */
  readonly cluster?: boolean;
  /**
   * Reconcile the queue's repeatable jobs with these schedules at startup (schedule-reconciler.ts;
   * `[]` removes every schedule). Default: leave them alone.
   */
  readonly schedules?: readonly Schedule[];
}

export interface Worker {
  readonly queueName: QueueName;
  /** shard 0 (the queue itself when unsharded) */
  readonly bull: Bull.Queue;
  /** every shard's Bull queue, shard 0 first */
  readonly shards: readonly Bull.Queue[];
  readonly concurrency: number;
  /** processors registered and Redis connected, not shutting down */
  isReady(): boolean;
  /** jobs in flight in this process */
  activeCount(): number;
  /**
   * Stops fetching, lets in-flight jobs finish for up to `graceMs`, then aborts the rest through
   * their signal and closes. Jobs cut off stay active in Redis and are recovered by the stalled
   * check after their lock expires (stalls do not use up attempts).
   */
  close(graceMs?: number): Promise<{ graceful: boolean; abandoned: number }>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Entry {
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
interface WorkerScope<D> {
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
class Attempt<D> implements JobContext<D> {
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
    this.deadline = Date.now() + entry.timeoutMs;
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

const NEVER = new Promise<never>(() => {});

export async function startWorker<Q extends QueueName, D>(options: WorkerOptions<Q, D>): Promise<Worker> {
  const queueName = options.queue;
  const config = QUEUES[queueName];
  const concurrency = options.concurrency ?? config.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const log = options.logger;
  const metrics = options.metrics ?? createWorkerMetrics(undefined, { defaultMetrics: false });
  const abortGraceMs = options.abortGraceMs ?? 5000;
  const ownsConnections = !options.connections;
  const connections =
    options.connections ??
    new RedisConnections(required(options.redisUrl, 'redisUrl or connections'), 'worker', `coldcopy-${queueName}-worker`);

  const table = buildDispatchTable(queueName, options, metrics);
  const security = options.security ?? jobSecurityFromEnv();
  const secret = [...table.values()].filter((e) => e.def.sensitive.length > 0).map((e) => e.def.name);
  if (secret.length > 0 && !security.encryption) {
    throw new ConfigError(`JOB_ENCRYPTION_KEYS is not set: ${secret.join(', ')} on queue ${queueName} have encrypted fields`);
  }
  // A handler that logs its decrypted payload must not leak it.
  redactFieldNames([...table.values()].flatMap((e) => e.def.sensitive));
  const inflight = new Set<Attempt<D>>();
  let shuttingDown = false;
  let ready = false;

  // One Bull queue per shard, each with its own fetch loop and a share of the concurrency, so a
  // backlog on one shard cannot hold up the others (sharding.ts).
  const shardConcurrency = splitConcurrency(concurrency, options.shards ?? 1);
  const shardQueues = shardConcurrency.map((_, shard) =>
    createBullQueue(queueName, {
      prefix: options.prefix ?? 'bull',
      connections,
      locks: options.locks,
      // Bull's per-minute completed/failed counts, read by the dashboard for throughput (one week).
      metricsDataPoints: 10_080,
      shard,
      cluster: options.cluster,
    }),
  );
  const queue = shardQueues[0]!;
  const onEveryShard = ((event: string, listener: (...args: unknown[]) => void) => {
    for (const q of shardQueues) q.on(event as 'error', listener);
    return queue;
  }) as unknown as Bull.Queue['on'];

  const deadLetters =
    options.deadLetters === false
      ? undefined
      : createDeadLetterRecorder({
          store: new DeadLetterStore(connections.client, options.prefix ?? 'bull', options.deadLetters),
          logger: log,
          added: metrics.deadLettered,
          alerts: options.deadLetters?.alerts,
        });

  let producer = options.producer;
  const ownsProducer = !options.producer;
  const scope: WorkerScope<D> = {
    deps: options.deps,
    log,
    queue: queueName,
    producer: () =>
      (producer ??= new Producer({
        redisUrl: connections.url,
        connections,
        prefix: options.prefix ?? 'bull',
        security,
        shards: { ...(options.shardCounts ?? shardCountsFromEnv()), [queueName]: shardQueues.length },
        cluster: options.cluster ?? false,
      })),
    // global pause/resume (every replica) of every shard
    pause: async () => {
      await Promise.all(shardQueues.map((q) => q.pause(false)));
      log.warn('queue paused by a job', { queue: queueName, shards: shardQueues.length });
    },
    resume: async () => {
      await Promise.all(shardQueues.map((q) => q.resume(false)));
      log.info('queue resumed by a job', { queue: queueName, shards: shardQueues.length });
    },
  };

  metrics.concurrency.labels(queueName).set(shardConcurrency.reduce((a, b) => a + b, 0));
  const untrackActive = metrics.trackActive(queueName, () => inflight.size);
  const stalled = metrics.stalled.labels(queueName);

  onEveryShard('error', (err: Error) => {
    if (shuttingDown && /Connection is closed/.test(err.message)) return;
    log.error('queue error', { queue: queueName, err: err.message });
  });
  onEveryShard('stalled', (job: Bull.Job) => {
    stalled.inc();
    log.warn('job stalled', { queue: queueName, job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
  });
  onEveryShard('lock-extension-failed', (job: Bull.Job, err: Error) => {
    log.warn('job lock extension failed', { queue: queueName, job: job.name, jobId: job.id, err: err.message });
  });
  onEveryShard('completed', (job: Bull.Job) => {
    const entry = table.get(job.name);
    const seconds = (Date.now() - (job.processedOn ?? Date.now())) / 1000;
    if (entry) {
      entry.completed.inc();
      entry.durationOk.observe(seconds);
    }
    // One line per completed job at `debug`: a winston line costs ~10 µs of CPU, more than the
    // rest of the runtime's per-job work together (docs/benchmarks.md), so at the default level
    // completions are counted in metrics and failures, retries and stalls get the lines. The
    // level check comes first because even a filtered winston call costs several µs.
    if (log.isLevelEnabled('debug')) {
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
    const final = isPermanentError(err) || (job as unknown as { isDiscarded(): boolean }).isDiscarded() || job.attemptsMade >= (job.opts.attempts ?? 1);
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
          .then(() => options.onFinalFailure?.({ queue: queueName, job, error: err }))
          .catch((hookErr: Error) => log.error('final-failure hook failed', { queue: queueName, jobId: job.id, err: hookErr.message }));
      }
    } else {
      deadLetters?.attemptFailed(queueName, job);
      log.warn('job attempt failed, will retry', fields);
    }
  });

  const dispatch = (job: Bull.Job): Promise<unknown> => {
    const entry = table.get(job.name);
    if (entry === undefined) {
      job.discard();
      return Promise.reject(new UnknownJobError(job.name, queueName));
    }
    // Signature first, then decryption, then the schema: the handler never sees unverified data.
    let data: unknown;
    try {
      data = security.admit(entry.def, job);
    } catch (err) {
      job.discard();
      if (err instanceof JobSignatureError) {
        log.error('security: job rejected, signature check failed', { security: true, queue: queueName, job: job.name, jobId: job.id, reason: err.reason });
      } else if (err instanceof CorruptJobError) {
        log.error('security: job rejected, stored job is corrupt', { security: true, reason: 'corrupt', queue: queueName, job: job.name, jobId: job.id, field: err.field });
      }
      return Promise.reject(err);
    }
    const parsed = entry.def.schema.safeParse(data);
    if (!parsed.success) {
      job.discard();
      return Promise.reject(new InvalidPayloadError(job.name, toFieldIssues(parsed.error)));
    }
    if (job.attemptsMade === 0 && job.processedOn) {
      entry.wait.observe(Math.max(0, job.processedOn - job.timestamp - ((job.opts.delay as number | undefined) ?? 0)) / 1000);
    }
    const attempt = new Attempt(job, scope, entry);
    return new Promise((resolve, reject) => {
      attempt.resolve = resolve;
      attempt.reject = reject;
      inflight.add(attempt);
      let running: Promise<unknown>;
      try {
        running = entry.handler(parsed.data, attempt);
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (result) => {
          inflight.delete(attempt);
          resolve(result);
        },
        (err: unknown) => {
          inflight.delete(attempt);
          const reason = attempt.abortReason;
          if (shuttingDown && reason instanceof ShutdownAbortError) {
            // Leave the job active in Redis: the stalled check re-queues it without using an attempt.
            resolve(NEVER);
            return;
          }
          if (reason instanceof JobTimeoutError && !isPermanentError(err)) {
            reject(reason);
            return;
          }
          if (isPermanentError(err)) job.discard();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  };

  // Time budgets: one sweep over the attempts in flight instead of a timer per job. At its deadline
  // an attempt's signal is aborted with JobTimeoutError; a handler that has not stopped
  // `abortGraceMs` later fails with it (its promise is abandoned).
  const sweepEveryMs = Math.min(1000, Math.max(5, Math.min(abortGraceMs, ...[...table.values()].map((e) => e.timeoutMs)) / 10));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const attempt of inflight) {
      if (now < attempt.deadline) continue;
      if (attempt.abortReason === undefined) {
        attempt.abort(new JobTimeoutError(attempt.job.name, attempt.entry.timeoutMs));
        attempt.deadline = now + abortGraceMs;
      } else if (attempt.abortReason instanceof JobTimeoutError) {
        inflight.delete(attempt);
        attempt.reject(attempt.abortReason);
      }
      // aborted for shutdown: left active in Redis for the stalled check
    }
  }, sweepEveryMs);
  sweep.unref();

  // One '*' processor per queue: Bull's named processors add their concurrency up (bull-v4.md §3).
  // The returned promise settles only when the queue closes: never await it.
  shardQueues.forEach((q, shard) => {
    // Bull rejects it (sometimes with undefined) when the queue closes, also right after start.
    q.process('*', shardConcurrency[shard]!, dispatch).catch((err: unknown) => {
      if (!shuttingDown && !closing) log.error('processor stopped', { queue: q.name, err: err instanceof Error ? err.message : String(err) });
    });
  });
  await Promise.all(shardQueues.map((q) => q.isReady()));
  // Bull's isReady() does not wait for the command connection, and a queue closed before it is
  // ready leaves Bull's own setWorkerName() rejecting unhandled: start means connected (or a clear
  // error when Redis stays unreachable; the orchestrator restarts the process).
  await whenReady(connections.client, options.connectTimeoutMs ?? 30_000).catch(async (err: Error) => {
    if (ownsConnections) await connections.close();
    throw new QueueUnavailableError(`worker for ${queueName} could not connect to Redis: ${err.message}`, { cause: err });
  });
  if (options.schedules) {
    // Schedules live on shard 0 (global jobs route there). A failure is logged, not fatal: the
    // worker still processes, and the next start reconciles again.
    await reconcileSchedules({ queue, schedules: options.schedules, security, logger: log }).catch((err: Error) =>
      log.error('schedules: reconciliation failed', { queue: queueName, err: err.message }),
    );
  }
  ready = true;
  log.info('worker started', { queue: queueName, concurrency, shards: shardQueues.length, jobs: [...table.keys()] });

  let closing: Promise<{ graceful: boolean; abandoned: number }> | undefined;
  const worker: Worker = {
    queueName,
    bull: queue,
    shards: shardQueues,
    concurrency,
    isReady: () => ready && !shuttingDown && connections.client.status === 'ready',
    activeCount: () => inflight.size,
    close(graceMs = config.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        ready = false;
        const closed = Promise.all(shardQueues.map((q) => q.close()));
        let graceful = await finishesWithin(closed, graceMs);
        let abandoned = 0;
        if (!graceful) {
          shuttingDown = true;
          abandoned = inflight.size;
          log.warn('shutdown grace period over, aborting in-flight jobs', { queue: queueName, abandoned });
          for (const attempt of inflight) attempt.abort(new ShutdownAbortError());
          graceful = await finishesWithin(closed, Math.min(abortGraceMs, 2000));
        }
        shuttingDown = true;
        clearInterval(sweep);
        if (ownsProducer) await producer?.close();
        untrackActive();
        await deadLetters?.drain();
        if (ownsConnections) await connections.close();
        log.info('worker closed', { queue: queueName, graceful, abandoned });
        return { graceful, abandoned };
      })();
      return closing;
    },
    async [Symbol.asyncDispose]() {
      await worker.close();
    },
  };
  return worker;
}

function buildDispatchTable<Q extends QueueName, D>(
  queueName: Q,
  options: WorkerOptions<Q, D>,
  metrics: WorkerMetrics,
): Map<string, Entry> {
  const definitions = options.definitions ?? jobsOnQueue(queueName);
  const handlers = options.handlers as unknown as Record<string, Handler<AnyJobDefinition, unknown>>;
  const table = new Map<string, Entry>();
  for (const def of definitions) {
    if (def.queue !== queueName) throw new Error(`job ${def.name} belongs to queue ${def.queue}, not ${queueName}`);
    const handler = handlers[def.name];
    if (typeof handler !== 'function') throw new Error(`no handler for job ${def.name} on queue ${queueName}`);
    table.set(def.name, {
      def,
      handler,
      timeoutMs: def.options.timeoutMs ?? QUEUES[queueName].defaults.timeoutMs,
      completed: metrics.completed.labels(queueName, def.name),
      failedFinal: metrics.failed.labels(queueName, def.name, 'true'),
      failedRetry: metrics.failed.labels(queueName, def.name, 'false'),
      durationOk: metrics.duration.labels(queueName, def.name, 'completed'),
      durationFailed: metrics.duration.labels(queueName, def.name, 'failed'),
      wait: metrics.wait.labels(queueName, def.name),
    });
  }
  for (const name of Object.keys(handlers)) {
    if (!table.has(name)) throw new Error(`handler ${name} has no job definition on queue ${queueName}`);
  }
  return table;
}

function finishesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new TypeError(`${what} is required`);
  return value;
}
