import type { AdminQueues } from '@coldcopy/queue-core/admin';
import type { QueueName } from '@coldcopy/queue-core';
import type { Observation } from './policy.js';

/** What the scaler sees of the queues. */
export interface BacklogReader {
  read(): Promise<Map<QueueName, Observation>>;
}

/**
 * Backlog and oldest waiting age per queue from queue-core's admin view: waiting jobs (paused
 * included) summed over every shard, and the largest age of the shards' next jobs.
 */
export function adminBacklog(admin: Pick<AdminQueues, 'status'>): BacklogReader {
  return {
    async read() {
      const out = new Map<QueueName, Observation>();
      for (const row of await admin.status()) {
        const seen = out.get(row.queue) ?? { backlog: 0, oldestAgeSeconds: null };
        const age = row.oldestWaitingAgeSeconds;
        out.set(row.queue, {
          backlog: seen.backlog + row.waiting,
          oldestAgeSeconds: age === null ? seen.oldestAgeSeconds : Math.max(age, seen.oldestAgeSeconds ?? 0),
        });
      }
      return out;
    },
  };
}
