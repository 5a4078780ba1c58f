import { type z } from 'zod';
import type { Registry } from 'prom-client';
import type { AnyJobDefinition } from '../definitions/define-job.js';
import { keyLayoutOf, loadEnv, type workerAppEnv, type WorkerRuntimeBase, type WorkerRuntimeShape } from '../config/env.js';
import { ConfigError } from '../definitions/errors.js';
import { startHealthServer } from './health-server.js';
import { hardeningFromEnv, type HardeningConfig } from '../config/hardening-env.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createWorkerMetrics } from '../observability/metrics.js';
import { Producer } from '../producer/producer.js';
import { QUEUES, type QueueName } from '../definitions/queues.js';
import { redact, RedisConnections } from '../redis/connections.js';
import type { HandlersFor, HandlersOf } from './job-context.js';
import { startWorker, type FinalFailure, type Worker } from './worker.js';
import { jobsOnQueue, type JobsOn } from '../jobs/index.js';
import { schedulesOn, type Schedule } from '../jobs/schedules.js';
import { shardsOf, type ShardCounts } from '../redis/sharding.js';

/**
 * The composition root every worker app shares: env → logger → metrics → deps → worker → health
 * server → signals. An app's main.ts is one call to `runWorkerApp`.
 */
export interface WorkerAppTools {
  readonly producer: Producer;
  readonly logger: Logger;
  readonly registry: Registry;
}

/** A worker app's env schema: `workerAppEnv(queue, own)` (env.ts), exported by its src/env.ts. */
export type WorkerAppEnvSchema<Q extends QueueName> = z.ZodObject<WorkerRuntimeShape<Q>>;

export interface WorkerAppSpec<Q extends QueueName, S extends WorkerAppEnvSchema<Q>, D, J extends AnyJobDefinition = JobsOn<Q>> {
  /** app name, e.g. `email-worker` (log field, Redis connection name) */
  readonly app: string;
  readonly queue: Q;
  /**
   * The app's one env schema, `workerAppEnv(queue, ownVariables)` from its src/env.ts: parsed once
   * here, and read by the deploy generator for compose, app.yaml, .env.example and the README.
   */
  readonly env: S;
  /** a handler per dispatched job: every job of the queue, or each of `definitions` */
  readonly handlers: HandlersOf<J, D>;
  /**
   * builds the providers; the only place real SDKs are constructed. `registry` is the process's
   * metrics registry (served on the health port) for the app's own metrics.
   */
  readonly createDeps: (env: z.output<S>, tools: WorkerAppTools) => D | Promise<D>;
  /** closes what createDeps opened (pools, SDK clients), after the worker stopped */
  readonly closeDeps?: (deps: D) => Promise<void> | void;
  /**
   * the definitions to dispatch; default: the catalog's jobs of the queue. A worker that runs only
   * some of them lists them here (and has handlers for just those); tests pass their own.
   */
  readonly definitions?: readonly J[];
  /**
   * Schedules reconciled at startup (schedule-reconciler.ts). Default: the catalog's schedules of
   * the queue (jobs/schedules.ts); only those whose job this worker dispatches are kept.
   */
  readonly schedules?: readonly Schedule[];
  /**
   * Called once per job that failed for good (retries spent, a permanent error, or stalled more
   * often than allowed, when its handler may never have finished), with the app's deps: where an
   * app settles what the handler would have settled (a batch item), so that nothing waits for the
   * job forever. Its errors are logged, not retried.
   */
  readonly onFinalFailure?: (failure: FinalFailure, deps: D) => void | Promise<void>;
}

/** The parsed env of a worker app with its own variables `E` (a raw shape). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the empty raw shape: an app with no own variables
export type WorkerEnv<Q extends QueueName, E extends z.ZodRawShape = {}> = z.output<ReturnType<typeof workerAppEnv<Q, E>>>;

export interface RunningWorkerApp {
  readonly worker: Worker;
  readonly healthPort: number;
  shutdown(signal?: string): Promise<void>;
}

export async function runWorkerApp<Q extends QueueName, S extends WorkerAppEnvSchema<Q>, D, J extends AnyJobDefinition = JobsOn<Q>>(
  spec: WorkerAppSpec<Q, S, D, J>,
  source: Record<string, string | undefined> = process.env,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<RunningWorkerApp | undefined> {
  let env: z.output<S>;
  let hardening: HardeningConfig;
  let sharding: { shards: ShardCounts; cluster: boolean };
  const warnings: string[] = [];
  let logAlertError = (_err: Error) => {};
  try {
    // the one parse of the process's environment; what follows only derives from it
    env = loadEnv(spec.env, source);
    const base = env as WorkerRuntimeBase;
    sharding = keyLayoutOf(base);
    hardening = hardeningFromEnv(base, { app: spec.app, warn: (m) => warnings.push(m), onAlertError: (e) => logAlertError(e) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${spec.app}: ${err.message}\n`);
      exit(78); // EX_CONFIG
      return undefined;
    }
    throw err;
  }
  const base = env as WorkerRuntimeBase;
  const logger = createLogger({ level: base.LOG_LEVEL, defaultMeta: { app: spec.app } });
  for (const warning of warnings) logger.warn(warning, { security: true });
  logAlertError = (err) => logger.warn('alert webhook post failed', { err: err.message });
  const concurrency = (base as unknown as Record<string, number>)[`${spec.queue.toUpperCase()}_CONCURRENCY`]!;
  const graceSeconds = base.SHUTDOWN_GRACE_SECONDS ?? QUEUES[spec.queue].shutdownGraceSeconds;
  const metrics = createWorkerMetrics();
  const connections = new RedisConnections(base.REDIS_URL, 'worker', `coldcopy-${spec.app}`);
  // Follow-up jobs (ctx.enqueue) go through a producer on the worker's connections: one
  // connection set per process. Closed after the worker (bull-v4.md §9).
  const producer = new Producer({
    redisUrl: base.REDIS_URL,
    connections,
    prefix: base.BULL_PREFIX,
    security: hardening.security,
    shards: sharding.shards,
    cluster: sharding.cluster,
  });
  const deps = await spec.createDeps(env, { producer, logger, registry: metrics.registry });

  const dispatched = new Set((spec.definitions ?? jobsOnQueue(spec.queue)).map((d) => d.name));
  const worker = await startWorker({
    queue: spec.queue,
    shards: shardsOf(sharding.shards, spec.queue),
    shardCounts: sharding.shards,
    producer,
    cluster: sharding.cluster,
    schedules: (spec.schedules ?? schedulesOn(spec.queue)).filter((s) => dispatched.has(s.job.name)),
    // checked at startup against the definitions (a handler per job, no extra one)
    handlers: spec.handlers as unknown as HandlersFor<Q, D>,
    definitions: spec.definitions,
    deps,
    logger,
    connections,
    prefix: base.BULL_PREFIX,
    concurrency,
    metrics,
    security: hardening.security,
    deadLetters: { ...hardening.deadLetters, alerts: hardening.alerts },
    onFinalFailure: spec.onFinalFailure && ((failure) => spec.onFinalFailure!(failure, deps)),
    locks: {
      lockDuration: base.LOCK_DURATION_MS,
      stalledInterval: base.STALLED_INTERVAL_MS,
      guardInterval: base.GUARD_INTERVAL_MS,
    },
  });

  const health = await startHealthServer({
    port: base.HEALTH_PORT,
    host: base.HEALTH_HOST,
    registry: metrics.registry,
    ready: async () => {
      if (!worker.isReady()) return false;
      const pong = await Promise.race([connections.client.ping(), new Promise<string>((r) => setTimeout(() => r('timeout'), 1000).unref())]);
      return pong === 'PONG';
    },
  });
  logger.info('worker app started', {
    queue: spec.queue,
    concurrency,
    redis: redact(base.REDIS_URL),
    prefix: base.BULL_PREFIX,
    healthPort: health.port,
    shutdownGraceSeconds: graceSeconds,
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal = 'shutdown') => {
    stopping ??= (async () => {
      logger.info('shutting down', { signal, active: worker.activeCount(), graceSeconds });
      const result = await worker.close(graceSeconds * 1000);
      await producer.close();
      await hardening.alerts?.close();
      await connections.close();
      if (spec.closeDeps) await spec.closeDeps(deps);
      await health.close();
      logger.info('stopped', { ...result });
      await flush(logger);
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal, exiting now', { signal });
      exit(1);
      return;
    }
    shutdown(signal).then(
      () => exit(0),
      (err: Error) => {
        logger.error('shutdown failed', { err: err.message });
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { worker, healthPort: health.port, shutdown };
}

function flush(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
    setTimeout(resolve, 500).unref();
  });
}
