import { QUEUE_NAMES, type QueueName } from '@coldcopy/queue-core';
import type { AdminQueues, AdminShard } from '@coldcopy/queue-core/admin';
import { describe, expect, it } from 'vitest';
import { listQueueTargets } from './queue-targets.js';

const fake = (name: string) => ({ name }) as unknown as AdminShard['bull'];

describe('listQueueTargets', () => {
  it('gives one target per queue when unsharded, with an empty shard label', () => {
    const queues = Object.fromEntries(QUEUE_NAMES.map((q) => [q, fake(q)])) as AdminQueues['queues'];
    const targets = listQueueTargets({ queues });
    expect(targets.map((t) => [t.bullName, t.shard])).toEqual(QUEUE_NAMES.map((q) => [q, '']));
  });

  it('gives one target per shard of a sharded queue', () => {
    const queues = Object.fromEntries(QUEUE_NAMES.map((q) => [q, fake(q)])) as AdminQueues['queues'];
    const shardsOf = (queue: QueueName) =>
      queue === 'email'
        ? [0, 1, 2].map((shard) => ({ queue, shard, bullName: shard === 0 ? 'email' : `email-${shard}`, bull: fake(`email-${shard}`) }))
        : [{ queue, shard: 0, bullName: queue, bull: queues[queue] }];
    const targets = listQueueTargets({ queues, shardsOf });
    expect(targets.filter((t) => t.queue === 'email').map((t) => [t.bullName, t.shard, t.displayName])).toEqual([
      ['email', '0', 'email'],
      ['email-1', '1', 'email-1'],
      ['email-2', '2', 'email-2'],
    ]);
    expect(targets.filter((t) => t.queue === 'ai').map((t) => [t.bullName, t.shard])).toEqual([['ai', '']]);
  });
});
