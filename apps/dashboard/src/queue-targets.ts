import { QUEUE_NAMES, QUEUES, type QueueName } from '@coldcopy/queue-core';
import type { AdminQueues, AdminShard } from '@coldcopy/queue-core/admin';

/**
 * One Bull queue the dashboard watches: the board shows it, /metrics and /health count it.
 *
 * Today every queue is one Bull queue and `shard` is empty. When queue sharding lands, this is
 * the one function to change: return one target per shard (its Bull queue, `shard: '3'`), and the
 * board, the metrics (label `shard`) and /health follow. An empty label value is dropped by
 * Prometheus, so the series of unsharded queues keep the names and labels of ops.md §2 A.
 */
export interface QueueTarget {
  readonly queue: QueueName;
  /** '' for an unsharded queue */
  readonly shard: string;
  /** the queue's name in Redis keys (`<prefix>:<bullName>:wait`) */
  readonly bullName: string;
  /** the admin's queue of this shard (it never processes): the board shows it, queue-core counts it */
  readonly bull: AdminShard['bull'];
  readonly description: string;
  /** the board's label */
  readonly displayName: string;
}

/** What listing the targets reads of the admin view: the queues, and each queue's shards with their Bull queue. */
type TargetSource = Pick<AdminQueues, 'queues'> & {
  readonly shardsOf?: (queue: QueueName) => readonly Pick<AdminShard, 'shard' | 'bullName' | 'bull'>[];
};

export function listQueueTargets(admin: TargetSource): QueueTarget[] {
  return QUEUE_NAMES.flatMap((queue) => {
    const shards = admin.shardsOf?.(queue) ?? [];
    if (shards.length <= 1) {
      return [{ queue, shard: '', bullName: queue, bull: admin.queues[queue], description: QUEUES[queue].description, displayName: queue }];
    }
    // A sharded queue (<QUEUE>_SHARDS > 1): one target per shard, shard 0 keeps the queue's name.
    return shards.map((s) => ({
      queue,
      shard: String(s.shard),
      bullName: s.bullName,
      bull: s.bull,
      description: QUEUES[queue].description,
      displayName: s.bullName,
    }));
  });
}
