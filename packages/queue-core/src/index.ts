/**
 * @coldcopy/queue-core — definitions only (zod schemas, queue catalog, types, errors).
 * Safe to import from the Next.js app: no Bull, no Redis, no SDKs. The producer lives in
 * `@coldcopy/queue-core/producer`, the worker runtime in `@coldcopy/queue-core/worker`.
 */
export * from './define-job.js';
export * from './errors.js';
export * from './jobs/index.js';
export * from './priorities.js';
export * from './queues.js';
export { BACKOFF_STRATEGY, classifiedBackoff } from './backoff.js';
export type { EnqueueOptions } from './job-options.js';
