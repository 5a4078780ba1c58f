/**
 * Typed errors shared by producers, the worker runtime and handlers.
 *
 * Bull passes the thrown error to our `classified` backoff strategy, which decides by `name`
 * (not `instanceof`, so errors that crossed a module copy or a process still classify).
 */

export interface FieldIssue {
  /** dotted path, `(root)` for the payload itself; bulk items are prefixed with `[index]` */
  readonly path: string;
  readonly message: string;
}

function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}

/** A job must not run again: retrying cannot help. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The payload in Redis does not match the job's schema: fails at once, never retried. */
export class InvalidPayloadError extends PermanentJobError {
  override name = 'InvalidPayloadError';
  constructor(
    readonly jobName: string,
    readonly issues: readonly FieldIssue[],
  ) {
    super(`invalid payload for ${jobName}: ${describeIssues(issues)}`);
  }
}

/** The worker has no handler (or no definition) for a job name. */
export class UnknownJobError extends PermanentJobError {
  override name = 'UnknownJobError';
  constructor(
    readonly jobName: string,
    queue: string,
  ) {
    super(`no handler for job "${jobName}" on queue "${queue}"`);
  }
}

/**
 * Retry after a delay the provider asked for (HTTP Retry-After, SES throttling).
 * Still counts as an attempt in Bull.
 */
export class RetryAfterError extends Error {
  override name = 'RetryAfterError';
  constructor(
    readonly retryAfterMs: number,
    message = `retry after ${retryAfterMs} ms`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    if (!Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
      throw new RangeError(`retryAfterMs must be a non-negative number, got ${retryAfterMs}`);
    }
  }
}

/** The attempt ran out of its time budget (the handler's AbortSignal fired first). */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(
    readonly jobName: string,
    readonly timeoutMs: number,
  ) {
    super(`job ${jobName} exceeded its time budget of ${timeoutMs} ms`);
  }
}

/** Producer input failed validation; nothing was written to Redis. */
export class JobValidationError extends Error {
  override name = 'JobValidationError';
  constructor(
    readonly jobName: string,
    readonly issues: readonly FieldIssue[],
  ) {
    super(`invalid data for job "${jobName}": ${describeIssues(issues)}`);
  }
}

/** Producer options (priority, delay, runAt, idempotency key) are wrong; nothing was written. */
export class EnqueueOptionsError extends Error {
  override name = 'EnqueueOptionsError';
}

/** The job name is not in the catalog. */
export class UnknownJobNameError extends Error {
  override name = 'UnknownJobNameError';
  constructor(readonly jobName: string) {
    super(`unknown job "${jobName}"`);
  }
}

/** Redis could not be reached in time: the producer fails fast instead of queueing commands. */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Configuration (env) is invalid; the message lists every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function isPermanentError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    ((err as { permanent?: unknown }).permanent === true ||
      (err as Error).name === 'PermanentJobError' ||
      (err as Error).name === 'InvalidPayloadError' ||
      (err as Error).name === 'UnknownJobError')
  );
}

/**
 * A job's signature is missing, names an unknown key or does not match its name, data, id and
 * behaviour options: the job was not written by one of our producers (or was altered or copied in
 * Redis). `outdated`: a v1 signature, which bound neither the id nor the options. Never retried;
 * the handler never sees the data.
 */
export class JobSignatureError extends PermanentJobError {
  override name = 'JobSignatureError';
  constructor(
    readonly jobName: string,
    readonly reason: 'missing' | 'malformed' | 'unknown-key' | 'mismatch' | 'outdated',
  ) {
    super(`signature check failed for job ${jobName}: ${reason}`);
  }
}

/**
 * The job's hash in Redis holds data or options that are not valid JSON: written by something other
 * than our producers, or damaged. Never retried; it is dead-lettered with what was stored.
 */
export class CorruptJobError extends PermanentJobError {
  override name = 'CorruptJobError';
  constructor(
    readonly jobName: string,
    readonly field: 'data' | 'opts',
    detail: string,
  ) {
    super(`stored job ${jobName} is corrupt: its ${field} is not valid JSON (${detail})`);
  }
}

/** An encrypted field cannot be decrypted (unknown key, wrong key, tampered ciphertext). */
export class FieldDecryptionError extends PermanentJobError {
  override name = 'FieldDecryptionError';
  constructor(
    readonly jobName: string,
    readonly field: string,
    reason: string,
  ) {
    super(`cannot decrypt field ${field} of job ${jobName}: ${reason}`);
  }
}
