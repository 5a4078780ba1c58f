import type Bull from 'bull';
import { createBullQueue } from './bull-factory.js';
import { QUEUE_NAMES, type QueueName } from './queues.js';
import { RedisConnections } from './redis.js';

export type { default as Bull } from 'bull';
export {
  DLQ_DEFAULTS,
  openDeadLetters,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetters,
  type ReplayOutcome,
} from './dead-letter.js';

/** Counts of one queue. `waiting` includes jobs held in the paused list (bull-v4.md §12). */
export interface QueueStatus {
  readonly queue: QueueName;
  readonly paused: boolean;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
}

export interface AdminQueues {
  readonly queues: Readonly<Record<QueueName, Bull.Queue>>;
  readonly connections: RedisConnections;
  status(): Promise<QueueStatus[]>;
  close(): Promise<void>;
}

/**
 * Bull queues for operators (dashboard, CLI): they never process jobs. One Queue instance per
 * queue, sharing one command client.
 */
export function openAdminQueues(options: { redisUrl: string; prefix?: string; metricsDataPoints?: number }): AdminQueues {
  const connections = new RedisConnections(options.redisUrl, 'worker', 'coldcopy-admin');
  const queues = Object.fromEntries(
    QUEUE_NAMES.map((name) => [
      name,
      createBullQueue(name, {
        prefix: options.prefix ?? 'bull',
        connections,
        skipVersionCheck: true,
        metricsDataPoints: options.metricsDataPoints,
      }),
    ]),
  ) as Record<QueueName, Bull.Queue>;
  for (const q of Object.values(queues)) q.on('error', () => {});
  return {
    queues,
    connections,
    status: () => Promise.all(QUEUE_NAMES.map((name) => queueStatus(queues[name]))),
    async close() {
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      await connections.close();
    },
  };
}

/** One MULTI of O(1) commands per queue: safe with millions of jobs. */
export async function queueStatus(queue: Bull.Queue): Promise<QueueStatus> {
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
    .exec();
  if (!results) throw new Error('Redis transaction aborted');
  const n = (i: number) => {
    const [err, value] = results[i] ?? [new Error('missing reply'), 0];
    if (err) throw err;
    return Number(value);
  };
  return {
    queue: queue.name as QueueName,
    waiting: n(0) + n(1),
    paused: n(6) === 1,
    active: n(2),
    delayed: n(3),
    completed: n(4),
    failed: n(5),
  };
}
