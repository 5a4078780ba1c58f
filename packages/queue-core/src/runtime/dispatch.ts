/**
 * Dispatch and attempt: the dispatch table (a handler and metric series per job, built once) and
 * the processor Bull calls for each job: signature check and decryption, schema, then the handler
 * in an Attempt, settled by its outcome (or by the time-budget sweep, time-budget.ts).
 */
import type Bull from 'bull';
import type { AnyJobDefinition } from '../definitions/define-job.js';
import { CorruptJobError, InvalidPayloadError, isPermanentError, JobSignatureError, JobTimeoutError, UnknownJobError } from '../definitions/errors.js';
import { QUEUES, type QueueName } from '../definitions/queues.js';
import { toFieldIssues } from '../definitions/validation.js';
import { jobsOnQueue } from '../jobs/index.js';
import type { Logger } from '../observability/logger.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import type { JobSecurity } from '../security/job-security.js';
import { Attempt, type Entry, NEVER, ShutdownAbortError, type WorkerScope } from './attempt.js';
import type { Handler } from './job-context.js';

/** Shared with the worker: set once shutdown has aborted the attempts still in flight. */
export interface DispatchState {
  shuttingDown: boolean;
}

export function buildDispatchTable(
  queueName: QueueName,
  options: { readonly handlers: object; readonly definitions?: readonly AnyJobDefinition[] | undefined },
  metrics: WorkerMetrics,
): Map<string, Entry> {
  const definitions = options.definitions ?? jobsOnQueue(queueName);
  const handlers = options.handlers as Record<string, Handler<AnyJobDefinition, unknown>>;
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

/** The processor of one worker: Bull calls it for every job it fetches (on every shard). */
export function createDispatch<D>(w: {
  readonly queueName: QueueName;
  readonly table: ReadonlyMap<string, Entry>;
  readonly security: JobSecurity;
  readonly scope: WorkerScope<D>;
  readonly inflight: Set<Attempt<D>>;
  readonly log: Logger;
  readonly state: DispatchState;
}): (job: Bull.Job) => Promise<unknown> {
  const { queueName, table, security, scope, inflight, log, state } = w;
  return (job: Bull.Job): Promise<unknown> => {
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
        log.error('security: job rejected, stored job is corrupt', {
          security: true,
          reason: 'corrupt',
          queue: queueName,
          job: job.name,
          jobId: job.id,
          field: err.field,
        });
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
    // Bull waits on this promise; the time-budget sweep may settle it first (attempt.reject).
    // One async runner per attempt instead of two `then` callbacks closing over the executor's
    // scope: fewer closures and promise reactions per job.
    const promise = new Promise<unknown>((resolve, reject) => {
      attempt.resolve = resolve;
      attempt.reject = reject;
    });
    inflight.add(attempt);
    void runAttempt(attempt, parsed.data, inflight, state);
    return promise;
  };
}

/** Runs the handler of one attempt and settles the promise Bull waits on with its outcome. */
async function runAttempt<D>(attempt: Attempt<D>, data: Record<string, unknown>, inflight: Set<Attempt<D>>, state: DispatchState): Promise<void> {
  let result: unknown;
  try {
    result = await attempt.entry.handler(data, attempt);
  } catch (err) {
    inflight.delete(attempt);
    const reason = attempt.abortReason;
    if (state.shuttingDown && reason instanceof ShutdownAbortError) {
      // Leave the job active in Redis: the stalled check re-queues it without using an attempt.
      attempt.resolve(NEVER);
      return;
    }
    if (reason instanceof JobTimeoutError && !isPermanentError(err)) {
      attempt.reject(reason);
      return;
    }
    if (isPermanentError(err)) attempt.job.discard();
    attempt.reject(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  inflight.delete(attempt);
  attempt.resolve(result);
}
