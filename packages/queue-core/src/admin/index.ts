/**
 * `@coldcopy/queue-core/admin`: what operators' tools (dashboard, CLI) use: queues that never
 * process, queue counts, stuck jobs, schedules and dead letters, all as plain values (no Bull object
 * leaves queue-core; the dashboard's Bull Board adapters come from `@coldcopy/queue-core/board`).
 * Not for worker apps or the web app.
 */
export { openAdminQueues, readShardCounts, type AdminQueues, type AdminShard, type QueueStatus } from './admin-queues.js';
export { type JobState, type JobView, type ListedJobState, type QueueInspector, type ScheduleEntry } from './job-inspect.js';
export type { QueueCounts, ReadQueueCountsOptions } from './queue-counts.js';
export { clusterModeFromEnv, shardCountsFromEnv, type ShardCounts } from '../redis/sharding.js';
export { scheduleRows, type ScheduleRow } from './schedule-status.js';
export { findStuckJobs, fixStuckJobs, StuckJobError, type FindStuckOptions, type StuckFixOutcome, type StuckJob } from './stuck-jobs.js';
export {
  DeadLetterStore,
  DLQ_DEFAULTS,
  openDeadLetters,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetters,
  type ReplayOutcome,
} from '../dead-letters/store.js';
