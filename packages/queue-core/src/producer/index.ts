/**
 * `@coldcopy/queue-core/producer`: typed enqueueing for the web app, the CLI and scripts. Adds Bull
 * and ioredis to the definitions; no worker runtime, logger, metrics or SDKs (a test proves it).
 */
export { createProducer, getProducer, Producer, type BulkItem, type EnqueuedJob, type ProducerConfig } from './producer.js';
export type { EnqueueOptions } from '../definitions/job-options.js';
export { JobSecurity, jobSecurityFromEnv, type JobSecurityOptions } from '../security/job-security.js';
export { shardQueueName, shardQueueNames, type ShardCounts } from '../redis/sharding.js';
