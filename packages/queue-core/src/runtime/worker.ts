/**
 * The worker runtime: `startWorker` composes the parts, each in its own module:
 *   dispatch.ts       the dispatch table and the processor (signature, decryption, schema, handler)
 *   attempt.ts        one attempt in flight: the handler's JobContext and its bookkeeping
 *   time-budget.ts    the sweep that aborts attempts past their time budget
 *   worker-events.ts  Bull's events → metrics, log lines, dead letters
 * and, here, the shards' Bull queues, start (processors, readiness, schedules) and shutdown.
 */
import type Bull from 'bull';
import type { AlertNotifier } from '../observability/alert-webhook.js';
import { createBullQueue } from '../redis/bull-queue.js';
import { DeadLetterStore, type DeadLetterBounds } from '../dead-letters/store.js';
import { createDeadLetterRecorder } from '../dead-letters/recorder.js';
import { jobSecurityFromEnv, type JobSecurity } from '../security/job-security.js';
import type { AnyJobDefinition } from '../definitions/define-job.js';
import { ConfigError, QueueUnavailableError } from '../definitions/errors.js';
import { Producer } from '../producer/producer.js';
import type { HandlersFor } from './job-context.js';
import { redactFieldNames, type Logger } from '../observability/logger.js';
import { createWorkerMetrics, type WorkerMetrics } from '../observability/metrics.js';
import { QUEUES, type LockSettings, type QueueName } from '../definitions/queues.js';
import { RedisConnections, whenReady } from '../redis/connections.js';
import type { Schedule } from '../jobs/schedules.js';
import { reconcileSchedules } from './schedule-reconciler.js';
import { shardCountsFromEnv, splitConcurrency, type ShardCounts } from '../redis/sharding.js';
import { type Attempt, ShutdownAbortError, type WorkerScope } from './attempt.js';
import { buildDispatchTable, createDispatch, type DispatchState } from './dispatch.js';
import { startTimeBudgetSweep } from './time-budget.js';
import { attachWorkerEvents, type FinalFailure } from './worker-events.js';
import { inspectQueue, type QueueInspector } from '../admin/job-inspect.js';

export { ShutdownAbortError } from './attempt.js';
export type { FinalFailure } from './worker-events.js';

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
  readonly concurrency: number;
  /** jobs, counts and schedules of shard 0 (where schedules and global jobs live), as plain values */
  readonly inspect: QueueInspector;
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
    options.connections ?? new RedisConnections(required(options.redisUrl, 'redisUrl or connections'), 'worker', `coldcopy-${queueName}-worker`);

  const table = buildDispatchTable(queueName, options, metrics);
  const security = options.security ?? jobSecurityFromEnv();
  const secret = [...table.values()].filter((e) => e.def.sensitive.length > 0).map((e) => e.def.name);
  if (secret.length > 0 && !security.encryption) {
    throw new ConfigError(`JOB_ENCRYPTION_KEYS is not set: ${secret.join(', ')} on queue ${queueName} have encrypted fields`);
  }
  // A handler that logs its decrypted payload must not leak it.
  redactFieldNames([...table.values()].flatMap((e) => e.def.sensitive));
  const inflight = new Set<Attempt<D>>();
  const state: DispatchState = { shuttingDown: false };
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

  attachWorkerEvents({ queueName, shardQueues, table, metrics, log, deadLetters, onFinalFailure: options.onFinalFailure, state });

  const dispatch = createDispatch({ queueName, table, security, scope, inflight, log, state });

  const stopSweep = startTimeBudgetSweep(inflight, table, abortGraceMs);

  // One '*' processor per queue: Bull's named processors add their concurrency up (bull-v4.md §3).
  // The returned promise settles only when the queue closes: never await it.
  shardQueues.forEach((q, shard) => {
    // Bull rejects it (sometimes with undefined) when the queue closes, also right after start.
    q.process('*', shardConcurrency[shard]!, dispatch).catch((err: unknown) => {
      if (!state.shuttingDown && !closing) log.error('processor stopped', { queue: q.name, err: err instanceof Error ? err.message : String(err) });
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
    concurrency,
    inspect: inspectQueue(queue),
    isReady: () => ready && !state.shuttingDown && connections.client.status === 'ready',
    activeCount: () => inflight.size,
    close(graceMs = config.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        ready = false;
        const closed = Promise.all(shardQueues.map((q) => q.close()));
        let graceful = await finishesWithin(closed, graceMs);
        let abandoned = 0;
        if (!graceful) {
          state.shuttingDown = true;
          abandoned = inflight.size;
          log.warn('shutdown grace period over, aborting in-flight jobs', { queue: queueName, abandoned });
          for (const attempt of inflight) attempt.abort(new ShutdownAbortError());
          graceful = await finishesWithin(closed, Math.min(abortGraceMs, 2000));
        }
        state.shuttingDown = true;
        stopSweep();
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
  WORKER_QUEUES.set(worker, shardQueues);
  return worker;
}

/** The Bull queues behind each Worker startWorker made. */
const WORKER_QUEUES = new WeakMap<Worker, readonly Bull.Queue[]>();

/**
 * Every shard's Bull queue of a worker, shard 0 first, for queue-core's own tests. Not exported by
 * any package entry point: apps read a worker's jobs through `worker.inspect`.
 */
export function bullQueuesOf(worker: Worker): readonly Bull.Queue[] {
  const queues = WORKER_QUEUES.get(worker);
  if (!queues) throw new TypeError(`not a worker of startWorker(): ${worker.queueName}`);
  return queues;
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
