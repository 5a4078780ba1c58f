import type Bull from 'bull';
import { createBullQueue } from '../redis/bull-queue.js';
import { QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { RedisConnections } from '../redis/connections.js';
import { clusterModeFromEnv, shardCountsFromEnv, shardQueueName, shardsOf, type ShardCounts } from '../redis/sharding.js';

/** Counts of one queue. `waiting` includes jobs held in the paused list (bull-v4.md §12). */
export interface QueueStatus {
  readonly queue: QueueName;
  /** 0 for an unsharded queue (sharding.ts) */
  readonly shard: number;
  /** the Bull queue's name: `email`, or `email-1` for shard 1 */
  readonly bullName: string;
  readonly paused: boolean;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
  /**
   * Seconds since the next job to run (the tail of `wait`, else of `paused`) was created plus its
   * intended delay; null when nothing waits. A scaling and alert signal (ops.md §8).
   */
  readonly oldestWaitingAgeSeconds: number | null;
}

/** `timestamp` + `opts.delay` of the tail of `wait` (or `paused`), as a string; nil when empty. */
const NEXT_JOB_CREATED_AT = `
local id = redis.call('LINDEX', KEYS[1], -1)
if not id then id = redis.call('LINDEX', KEYS[2], -1) end
if not id then return false end
local f = redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'opts')
local at = tonumber(f[1])
if not at then return false end
local ok, opts = pcall(cjson.decode, f[2] or '{}')
if ok and type(opts) == 'table' and tonumber(opts.delay) then at = at + tonumber(opts.delay) end
return tostring(at)
`;

export interface AdminShard {
  readonly queue: QueueName;
  readonly shard: number;
  readonly bullName: string;
  readonly bull: Bull.Queue;
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
  /** one row per Bull queue: every shard of every queue */
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
      list.push({ queue, shard, bullName, bull });
    }
    shards.set(queue, list);
  }
  return {
    queues: queues as AdminQueues['queues'],
    shardsOf: (queue) => shards.get(queue) ?? [],
    connections,
    status: () => Promise.all([...shards.values()].flat().map((s) => queueStatus(s.bull, s.queue, s.shard))),
    async close() {
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      await connections.close();
    },
  };
}

/**
 * One MULTI of O(1) commands per queue: safe with millions of jobs. Every key is one Bull queue's,
 * so on a Redis Cluster the MULTI stays in that queue's hash slot (sharding.ts `bullKeyLayout`).
 */
export async function queueStatus(queue: Bull.Queue, logical = queue.name as QueueName, shard = 0, now: () => number = Date.now): Promise<QueueStatus> {
  const client = queue.client;
  const key = (k: string) => `${(queue as unknown as { keyPrefix: string }).keyPrefix}:${queue.name}:${k}`;
  const results = await client
    .multi()
    .llen(key('wait'))
    .llen(key('paused'))
    .llen(key('active'))
    .zcard(key('delayed'))
    .zcard(key('completed'))
    .zcard(key('failed'))
    .exists(key('meta-paused'))
    .eval(NEXT_JOB_CREATED_AT, 2, key('wait'), key('paused'), key(''))
    .exec();
  if (!results) throw new Error('Redis transaction aborted');
  const n = (i: number) => {
    const [err, value] = results[i] ?? [new Error('missing reply'), 0];
    if (err) throw err;
    return Number(value);
  };
  const [ageErr, createdAt] = results[7] ?? [null, null];
  if (ageErr) throw ageErr;
  return {
    queue: logical,
    shard,
    bullName: queue.name,
    waiting: n(0) + n(1),
    paused: n(6) === 1,
    active: n(2),
    delayed: n(3),
    completed: n(4),
    failed: n(5),
    oldestWaitingAgeSeconds: createdAt === null || createdAt === undefined ? null : Math.max(0, (now() - Number(createdAt)) / 1000),
  };
}
