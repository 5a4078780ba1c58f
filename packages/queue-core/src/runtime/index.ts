/** `@coldcopy/queue-core/runtime`: the worker runtime, everything a worker app needs. Not for the web app. */
export { runWorkerApp, type RunningWorkerApp, type WorkerAppEnvSchema, type WorkerAppSpec, type WorkerAppTools, type WorkerEnv } from './app.js';
export { boolEnv, loadEnv, queueEnv, redisEnv, workerAppEnv, workerRuntimeEnv } from '../config/env.js';
export { startHealthServer, type HealthServer } from './health-server.js';
export { createLogger, createSilentLogger, type Logger } from '../observability/logger.js';
export { collectProcessMetrics, createWorkerMetrics, declareMetrics, PROMTOOL_REJECTED_DEFAULTS, type WorkerMetrics } from '../observability/metrics.js';
export { RedisConnections } from '../redis/connections.js';
export { ShutdownAbortError, startWorker, type FinalFailure, type Worker, type WorkerOptions } from './worker.js';
export type { Handler, HandlersFor, HandlersOf, JobContext } from './job-context.js';
export {
  createRateLimiter,
  type AcquireOptions,
  type Admission,
  type RateLimit,
  type RateLimiter,
  type RateLimiterOptions,
  type Reservation,
} from '../redis/rate-limit.js';
export type { JobState, JobView, ListedJobState, QueueInspector, ScheduleEntry } from '../admin/job-inspect.js';
