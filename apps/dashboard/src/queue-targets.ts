import { QUEUE_NAMES, QUEUES, type QueueName } from '@coldcopy/queue-core';
import type { AdminQueues, AdminShard } from '@coldcopy/queue-core/admin';

/**
 * One Bull queue the dashboard watches: the board shows it, /metrics and /health count it.
 *
 * An unsharded queue is one target with an empty `shard`; a sharded queue (`<QUEUE>_SHARDS` > 1)
 * one target per shard (`shard: '3'`), and the board, the metrics (label `shard`) and /health
 * follow. An empty label value is dropped by Prometheus, so the series of unsharded queues keep
 * the names and labels of ops.md §2 A.
 */
export interface QueueTarget {
  readonly queue: QueueName;
  /** '' for an unsharded queue */
  readonly shard: string;
  /** the queue's name in Redis keys (`<prefix>:<bullName>:wait`) */
  readonly bullName: string;
  /**
   * The admin's queue of this shard (it never processes), as queue-core's plain values: the board
   * shows it (`@coldcopy/queue-core/board`), queue-core counts it (`readShardCounts`).
   */
  readonly source: AdminShard;
  readonly description: string;
  /** the board's label */
  readonly displayName: string;
}

/** What listing the targets reads of the admin view: each queue's shards. */
type TargetSource = Pick<AdminQueues, 'shardsOf'>;

export function listQueueTargets(admin: TargetSource): QueueTarget[] {
  return QUEUE_NAMES.flatMap((queue) => {
    const shards = admin.shardsOf(queue);
    const sharded = shards.length > 1;
    // shard 0 keeps the queue's name; one target per shard of a sharded queue
    return shards.map((s) => ({
      queue,
      shard: sharded ? String(s.shard) : '',
      bullName: s.bullName,
      source: s,
      description: QUEUES[queue].description,
      displayName: s.bullName,
    }));
  });
}
