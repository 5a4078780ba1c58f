import { createHash } from 'node:crypto';
import type Bull from 'bull';
import { BACKOFF_STRATEGY } from './backoff.js';
import type { AnyJobDefinition, JobPayload } from './define-job.js';
import { EnqueueOptionsError, JobValidationError, type FieldIssue } from './errors.js';
import { isPriority, PRIORITIES, type Priority } from './priorities.js';
import { QUEUES, type QueueName } from './queues.js';
import { toFieldIssues } from './validation.js';

export interface EnqueueOptions {
  /** default: the job's own priority, else `normal` */
  readonly priority?: Priority;
  /** run no earlier than this many ms from now */
  readonly delay?: number;
  /** run no earlier than this time (Date or ISO string); exclusive with `delay` */
  readonly runAt?: Date | string;
  /**
   * Makes the Bull job id deterministic: enqueueing again while a job with this key is still
   * known to Redis is a no-op. Default: the job definition's idempotency key, if it has one.
   */
  readonly idempotencyKey?: string;
  /** override the definition's attempts (1..25) */
  readonly attempts?: number;
}

/** Bull options shared by every enqueue of one definition, computed once. */
const baseOptions = new WeakMap<AnyJobDefinition, Bull.JobOptions>();

export function baseJobOptions(def: AnyJobDefinition): Bull.JobOptions {
  let opts = baseOptions.get(def);
  if (!opts) {
    const defaults = QUEUES[def.queue].defaults;
    opts = Object.freeze({
      attempts: def.options.attempts ?? defaults.attempts,
      backoff: { type: BACKOFF_STRATEGY, options: def.options.backoff ?? defaults.backoff },
      priority: PRIORITIES[def.options.priority ?? 'normal'],
      removeOnComplete: { ...defaults.removeOnComplete },
      removeOnFail: { ...defaults.removeOnFail },
    });
    baseOptions.set(def, opts);
  }
  return opts;
}

const ID_SAFE = /^[A-Za-z0-9_.-]{1,160}$/;

/**
 * Deterministic Bull job id: `<job-name>.<key>`. Bull ids must avoid `:` (groupKey parsing, and
 * BullMQ forbids it); keys that are not plain ids are hashed.
 */
export function jobIdFor(def: AnyJobDefinition, key: string, hash: (s: string) => string): string {
  return `${def.name}.${ID_SAFE.test(key) ? key : hash(key)}`;
}

export function keyFromParts(parts: ReadonlyArray<string | number | boolean>): string {
  return parts.map(String).join('.');
}

/**
 * How far ahead a job may be scheduled by default (`delay` or `runAt`): one year. A larger value is
 * almost always a unit mistake (seconds for ms, a year typed wrong), and Bull would keep the job
 * forever in the delayed set. Producers take `maxDelayMs` to allow more.
 */
export const DEFAULT_MAX_DELAY_MS = 365 * 24 * 3600 * 1000;

const describeMs = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} days` : `${ms} ms`);

const sha256Id = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 40);

/**
 * The Bull job id an enqueue gets: from the caller's idempotency key, else the definition's key of
 * the payload, else none (Bull numbers it).
 */
export function jobIdOf(def: AnyJobDefinition, payload: JobPayload<AnyJobDefinition>, idempotencyKey: string | undefined): string | undefined {
  const key = idempotencyKey ?? (def.idempotencyKey ? keyFromParts(def.idempotencyKey(payload)) : undefined);
  return key === undefined ? undefined : jobIdFor(def, key, sha256Id);
}

/** What an enqueue would add, worked out without Redis (fakes of `ctx.enqueue` record it). */
export interface PlannedJob<J extends AnyJobDefinition = AnyJobDefinition> {
  readonly name: J['name'];
  readonly queue: QueueName;
  /** the payload as the handler will get it (defaults applied) */
  readonly payload: JobPayload<J>;
  /** deterministic id, when the job has an idempotency key */
  readonly jobId: string | undefined;
  readonly delayMs: number;
  /** Bull priority (1 = highest) */
  readonly priority: number;
  readonly attempts: number;
}

/**
 * Validates an enqueue exactly as the producer does (the input schema, then the options) and says
 * what would be added. Throws JobValidationError naming every bad field, or EnqueueOptionsError.
 */
export function planEnqueue<J extends AnyJobDefinition>(def: J, data: unknown, options?: EnqueueOptions, now = Date.now()): PlannedJob<J> {
  const parsed = def.inputSchema.safeParse(data);
  if (!parsed.success) throw new JobValidationError(def.name, toFieldIssues(parsed.error));
  const payload = parsed.data as JobPayload<J>;
  const { opts, idempotencyKey } = resolveEnqueueOptions(def, options, now);
  return {
    name: def.name,
    queue: def.queue,
    payload,
    jobId: jobIdOf(def, payload, idempotencyKey),
    delayMs: opts.delay ?? 0,
    priority: opts.priority ?? PRIORITIES.normal,
    attempts: opts.attempts ?? 1,
  };
}

/** Validates enqueue options; returns the Bull options, or throws naming every bad option. */
const ENQUEUE_OPTION_KEYS: ReadonlySet<string> = new Set(['priority', 'delay', 'runAt', 'idempotencyKey', 'attempts']);

export function resolveEnqueueOptions(
  def: AnyJobDefinition,
  options: EnqueueOptions | undefined,
  now: number,
  maxDelayMs: number = DEFAULT_MAX_DELAY_MS,
): { opts: Bull.JobOptions; idempotencyKey: string | undefined } {
  const base = baseJobOptions(def);
  if (options === undefined) return { opts: { ...base }, idempotencyKey: undefined };
  const issues: FieldIssue[] = [];
  const opts: Bull.JobOptions = { ...base };
  const { priority, delay, runAt, idempotencyKey, attempts } = options;
  for (const key in options) {
    if (!ENQUEUE_OPTION_KEYS.has(key)) issues.push({ path: key, message: `unknown option (known: ${[...ENQUEUE_OPTION_KEYS].join(', ')})` });
  }
  if (priority !== undefined) {
    if (typeof priority === 'string' && isPriority(priority)) opts.priority = PRIORITIES[priority];
    else issues.push({ path: 'priority', message: `must be one of ${Object.keys(PRIORITIES).join(', ')}` });
  }
  if (delay !== undefined && runAt !== undefined) {
    issues.push({ path: 'delay', message: 'give either delay or runAt, not both' });
  } else if (delay !== undefined) {
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0) {
      issues.push({ path: 'delay', message: 'must be a non-negative integer number of milliseconds' });
    } else if (delay > maxDelayMs) {
      issues.push({ path: 'delay', message: `must be at most ${describeMs(maxDelayMs)} (${maxDelayMs} ms) ahead` });
    } else if (delay > 0) opts.delay = delay;
  } else if (runAt !== undefined) {
    const at = runAt instanceof Date ? runAt.getTime() : typeof runAt === 'string' ? Date.parse(runAt) : NaN;
    if (!Number.isFinite(at)) issues.push({ path: 'runAt', message: 'must be a valid date or ISO 8601 string' });
    else if (at - now > maxDelayMs) issues.push({ path: 'runAt', message: `must be at most ${describeMs(maxDelayMs)} ahead` });
    else if (at > now) opts.delay = at - now;
  }
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length < 1 || idempotencyKey.length > 500)) {
    issues.push({ path: 'idempotencyKey', message: 'must be a string of 1 to 500 characters' });
  }
  if (attempts !== undefined) {
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 25) {
      issues.push({ path: 'attempts', message: 'must be an integer from 1 to 25' });
    } else opts.attempts = attempts;
  }
  if (issues.length > 0) {
    throw new EnqueueOptionsError(`invalid enqueue options for "${def.name}": ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  return { opts, idempotencyKey };
}
