import type Bull from 'bull';
import { createBullQueue } from '../redis/bull-queue.js';
import { bullKey, readQueueCounts, workerClientName, type QueueCounts, type ReadQueueCountsOptions } from './queue-counts.js';
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

/**
 * One Bull queue of the admin set (a queue, or one shard of a sharded queue), as plain values: its
 * Bull queue stays inside queue-core (the board adapters of `@coldcopy/queue-core/board` and the
 * admin tools reach it through `bullQueueOf`, which no entry point exports).
 */
export interface AdminShard {
  readonly queue: QueueName;
  readonly shard: number;
  readonly bullName: string;
  /**
   * The name a Bull worker of this queue gives its blocking connection (`<key prefix>:<base64(bullName)>`),
   * as CLIENT LIST shows it.
   */
  readonly workerClientName: string;
  /**
   * The Redis key of one of the queue's structures (`wait`, `active`, `<job id>`…), in the key layout
   * the queue uses (prefix, `{hash tag}` on a Redis Cluster): e.g. to find the node serving it.
   */
  keyOf(type: string): string;
  /** the shard's jobs, counts and schedules as plain values */
  readonly inspect: QueueInspector;
}

export interface AdminQueues {
  /** the shards of a queue, shard 0 first (one entry when unsharded) */
  shardsOf(queue: QueueName): readonly AdminShard[];
  readonly connections: RedisConnections;
  /** one row per Bull queue: every shard of every queue, read in one round trip */
  status(): Promise<QueueStatus[]>;
  close(): Promise<void>;
}

/** The Bull queue behind each AdminShard openAdminQueues made. */
const BULL_QUEUES = new WeakMap<AdminShard, Bull.Queue>();

/**
 * The Bull queue of an admin shard, for queue-core's own modules (board adapters, stuck jobs,
 * schedules) and tests. Not exported by any package entry point: Bull stays sealed in queue-core.
 */
export function bullQueueOf(shard: AdminShard): Bull.Queue {
  const bull = BULL_QUEUES.get(shard);
  if (!bull) throw new TypeError(`${shard.bullName}: not a shard of openAdminQueues()`);
  return bull;
}

/**
 * Counts of several admin shards (of any admin set) in one round trip, as plain values
 * (queue-counts.ts `readQueueCounts`, the one reader of Bull's key layout). Not async on purpose:
 * its MULTIs are written before it returns, so a caller can send more commands right behind them
 * (the dashboard's CLIENT LIST) in the same round trip.
 */
export function readShardCounts(shards: readonly AdminShard[], options: ReadQueueCountsOptions = {}): Promise<QueueCounts[]> {
  let queues: Bull.Queue[];
  try {
    queues = shards.map(bullQueueOf);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return readQueueCounts(queues, options);
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
  const queues: Bull.Queue[] = [];
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
      queues.push(bull);
      const entry: AdminShard = {
        queue,
        shard,
        bullName: shardQueueName(queue, shard),
        workerClientName: workerClientName(bull),
        keyOf: (type) => bullKey(bull, type),
        inspect: inspectQueue(bull),
      };
      BULL_QUEUES.set(entry, bull);
      list.push(entry);
    }
    shards.set(queue, list);
  }
  return {
    shardsOf: (queue) => shards.get(queue) ?? [],
    connections,
    async status() {
      const all = [...shards.values()].flat();
      const counts = await readShardCounts(all);
      return all.map((s, i) => {
        const { finished: _finished, ...c } = counts[i]!;
        return { queue: s.queue, shard: s.shard, bullName: s.bullName, ...c };
      });
    },
    async close() {
      await Promise.allSettled(queues.map((q) => q.close()));
      await connections.close();
    },
  };
}
