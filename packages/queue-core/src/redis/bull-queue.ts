import Bull from 'bull';
import { BACKOFF_STRATEGY, classifiedBackoff } from '../definitions/backoff.js';
import { QUEUES, type LockSettings, type QueueName } from '../definitions/queues.js';
import type { RedisConnections } from './connections.js';
import { bullKeyLayout, shardQueueName } from './sharding.js';

export interface BullQueueOptions {
  readonly prefix: string;
  readonly connections: RedisConnections;
  readonly locks?: Partial<LockSettings>;
  /** skip the INFO round trip at construction (producers) */
  readonly skipVersionCheck?: boolean;
  /** Bull's per-minute completed/failed metrics, read by the dashboard */
  readonly metricsDataPoints?: number;
  /** shard of a sharded queue (sharding.ts); default 0, the queue's own name */
  readonly shard?: number;
  /**
   * Redis Cluster key layout: one hash slot per shard (sharding.ts `bullKeyLayout`). Always on when
   * `connections` are cluster connections (a Redis Cluster URL): Bull's scripts fail otherwise.
   */
  readonly cluster?: boolean;
}

/** The only place a Bull `Queue` is constructed. */
export function createBullQueue(queue: QueueName, options: BullQueueOptions): Bull.Queue {
  const locks = { ...QUEUES[queue].locks, ...stripUndefined(options.locks ?? {}) };
  const cluster = options.connections.cluster || (options.cluster ?? false);
  const layout = bullKeyLayout(options.prefix, shardQueueName(queue, options.shard ?? 0), cluster);
  const queueOptions: Bull.QueueOptions & { skipVersionCheck?: boolean } = {
    prefix: layout.prefix,
    createClient: options.connections.createClient,
    settings: {
      lockDuration: locks.lockDuration,
      lockRenewTime: Math.floor(locks.lockDuration / 2),
      stalledInterval: locks.stalledInterval,
      maxStalledCount: locks.maxStalledCount,
      guardInterval: locks.guardInterval,
      retryProcessDelay: locks.retryProcessDelay,
      backoffStrategies: { [BACKOFF_STRATEGY]: classifiedBackoff as never },
    },
    metrics: options.metricsDataPoints ? { maxDataPoints: options.metricsDataPoints } : undefined,
    // supported by Bull 4.x (lib/queue.js), missing from its typings: skips an INFO round trip
    skipVersionCheck: options.skipVersionCheck,
  };
  return new Bull(layout.name, queueOptions);
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== 0)) as Partial<T>;
}
