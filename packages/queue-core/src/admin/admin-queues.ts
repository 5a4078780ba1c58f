import type Bull from 'bull';
import { createBullQueue } from '../redis/bull-queue.js';
import { readQueueCounts, type QueueCounts } from './queue-counts.js';
import { inspectQueue, type QueueInspector } from './job-inspect.js';
import { QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { RedisConnections } from '../redis/connections.js';
import { clusterModeFromEnv, shardCountsFromEnv, shardQueueName, shardsOf, type ShardCounts } from '../redis/sharding.js';

/** Counts of one Bull queue (queue-counts.ts). `waiting` includes jobs held in the paused list (bull-v4.md §12). */
export interface QueueStatus extends Omit<QueueCounts, 'finished'> {
  readonly queue: QueueName;
  /** 0 for an unsharded queue (sharding.ts) */
  readonly shard: number;
  /** the Bull queue's name: `email`, or `email-1` for shard 1 */
  readonly bullName: string;
}

export interface AdminShard {
  readonly queue: QueueName;
  readonly shard: number;
  readonly bullName: string;
  readonly bull: Bull.Queue;
  /** the shard's jobs, counts and schedules as plain values */
  readonly inspect: QueueInspector;
}

export interface AdminQueues {
  /**
   * Every Bull queue by its name: `queues.email` is the queue itself (shard 0 when sharded), and
   * `queues['email-1']` its shard 1.
   */
  readonly queues: Readonly<Record<QueueName, Bull.Queue>> & Readonly<Record<string, Bull.Queue>>;
  /** the shards of a queue, shard 0 first (one entry when unsharded) */
  shardsOf(queue: QueueName): readonly AdminShard[];
  readonly connections: RedisConnections;
  /** one row per Bull queue: every shard of every queue, read in one round trip */
  status(): Promise<QueueStatus[]>;
  close(): Promise<void>;
}

/**
 * Bull queues for operators (dashboard, CLI): they never process jobs. One Queue instance per
 * queue, sharing one command client.
 */
export function openAdminQueues(options: {
  redisUrl: string;
  prefix?: string;
  metricsDataPoints?: number;
  /** default: `<QUEUE>_SHARDS` from process.env */
  shards?: ShardCounts;
  /**
   * Redis Cluster key layout; default: `BULL_CLUSTER`, a Redis Cluster `REDIS_URL` or a prefix
   * containing `{`. Always on with a Redis Cluster `redisUrl` (bull-factory.ts).
   */
  cluster?: boolean;
}): AdminQueues {
  const connections = new RedisConnections(options.redisUrl, 'worker', 'coldcopy-admin');
  const counts = options.shards ?? shardCountsFromEnv();
  const cluster = options.cluster ?? clusterModeFromEnv(process.env, options.prefix ?? 'bull');
  const shards = new Map<QueueName, AdminShard[]>();
  const queues: Record<string, Bull.Queue> = {};
  for (const queue of QUEUE_NAMES) {
    const list: AdminShard[] = [];
    for (let shard = 0; shard < shardsOf(counts, queue); shard++) {
      const bull = createBullQueue(queue, {
        prefix: options.prefix ?? 'bull',
        connections,
        skipVersionCheck: true,
        metricsDataPoints: options.metricsDataPoints,
        shard,
        cluster,
      });
      bull.on('error', () => {});
      const bullName = shardQueueName(queue, shard);
      queues[bullName] = bull;
      list.push({ queue, shard, bullName, bull, inspect: inspectQueue(bull) });
    }
    shards.set(queue, list);
  }
  return {
    queues: queues as AdminQueues['queues'],
    shardsOf: (queue) => shards.get(queue) ?? [],
    connections,
    async status() {
      const all = [...shards.values()].flat();
      const counts = await readQueueCounts(all.map((s) => s.bull));
      return all.map((s, i) => {
        const { finished: _finished, ...c } = counts[i]!;
        return { queue: s.queue, shard: s.shard, bullName: s.bullName, ...c };
      });
    },
    async close() {
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      await connections.close();
    },
  };
}
