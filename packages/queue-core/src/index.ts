/**
 * @coldcopy/queue-core — definitions only (zod schemas, queue catalog, types, errors).
 * Safe to import from the Next.js app: no Bull, no Redis, no SDKs. The producer lives in
 * `@coldcopy/queue-core/producer`, the worker runtime in
 * `@coldcopy/queue-core/runtime`, operators' tools in `@coldcopy/queue-core/admin`.
 */
export * from './definitions/define-job.js';
export * from './definitions/errors.js';
export * from './jobs/index.js';
export * from './definitions/priorities.js';
export * from './definitions/queues.js';
export { BACKOFF_STRATEGY, classifiedBackoff } from './definitions/backoff.js';
export { planEnqueue, type EnqueueOptions, type PlannedJob } from './definitions/job-options.js';
export { assertTimezone, localTime, zonedToUtc, type LocalTime } from './definitions/zoned-time.js';
