import { QUEUE_NAMES, type QueueName } from '@coldcopy/queue-core';
import type { AdminShard } from '@coldcopy/queue-core/admin';
import { describe, expect, it } from 'vitest';
import { listQueueTargets } from './queue-targets.js';

/** an admin shard as listing reads it (its name fields; nothing here touches Redis) */
const fake = (queue: QueueName, shard: number) => ({ queue, shard, bullName: shard === 0 ? queue : `${queue}-${shard}` }) as unknown as AdminShard;

describe('listQueueTargets', () => {
  it('gives one target per queue when unsharded, with an empty shard label', () => {
    const shardsOf = (queue: QueueName) => [fake(queue, 0)];
    const targets = listQueueTargets({ shardsOf });
    expect(targets.map((t) => [t.bullName, t.shard, t.displayName])).toEqual(QUEUE_NAMES.map((q) => [q, '', q]));
    expect(targets.map((t) => t.source)).toEqual(QUEUE_NAMES.map((q) => fake(q, 0)));
  });

  it('gives one target per shard of a sharded queue', () => {
    const shardsOf = (queue: QueueName) => (queue === 'email' ? [0, 1, 2].map((shard) => fake(queue, shard)) : [fake(queue, 0)]);
    const targets = listQueueTargets({ shardsOf });
    expect(targets.filter((t) => t.queue === 'email').map((t) => [t.bullName, t.shard, t.displayName])).toEqual([
      ['email', '0', 'email'],
      ['email-1', '1', 'email-1'],
      ['email-2', '2', 'email-2'],
    ]);
    expect(targets.filter((t) => t.queue === 'email').map((t) => t.source.bullName)).toEqual(['email', 'email-1', 'email-2']);
    expect(targets.filter((t) => t.queue === 'ai').map((t) => [t.bullName, t.shard])).toEqual([['ai', '']]);
  });
});
