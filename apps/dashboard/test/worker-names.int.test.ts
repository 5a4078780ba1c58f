import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { RedisConnections } from '@coldcopy/queue-core/runtime';
import { deletePrefix, testPrefix, waitFor } from '@coldcopy/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readQueueStates } from '../src/queue-state.js';
import { listQueueTargets } from '../src/queue-targets.js';
import { testQueues } from './helpers.js';

/**
 * Bull names a worker's blocking connection `<prefix>:<base64(queue name)>`. A base64 text with no
 * padding is a prefix of the base64 of any longer name that starts with the same bytes:
 * `analytics` (9 bytes) → `YW5hbHl0aWNz`, `analytics-1` → `YW5hbHl0aWNzLTE=`. Matching names by
 * prefix, as Bull's own getWorkers() does, counted shard 1's workers under shard 0 as well.
 */
describe('worker names of sharded queues on one Redis server', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  });

  it('counts the worker of analytics-1 under shard 1 only, and the one of analytics under shard 0 only', async () => {
    const url = inject('redisUrl');
    const prefix = testPrefix();
    const shards = { analytics: 2 };
    const admin = openAdminQueues({ redisUrl: url, prefix, shards });
    const queues = testQueues(url, prefix, { shards });
    const probe = new RedisConnections(url, 'producer', 'dashboard-test');
    closers.push(
      () => deletePrefix(url, prefix),
      () => admin.close(),
      () => queues.close(),
      () => probe.close(),
    );
    // a worker of both shards: one blocking connection named for `analytics`, one for `analytics-1`
    await queues.startWorker('analytics', async () => 'ok');

    const targets = listQueueTargets(admin);
    // ground truth first: both blocking connections named on the server
    const names = admin.shardsOf('analytics').map((s) => s.workerClientName);
    await waitFor(
      async () => {
        // the probe fails fast until it is connected
        const list = (await probe.client.client('LIST').catch(() => '')) as string;
        return names.every((name) => list.includes(` name=${name} `));
      },
      { what: 'the workers of analytics and analytics-1' },
    );
    const states = await readQueueStates(probe.client, targets);
    const counts = Object.fromEntries(states.filter((s) => s.queue === 'analytics').map((s) => [s.shard, s.workers?.length]));
    // matched by prefix, shard 0 would count both connections (2)
    expect(counts).toEqual({ '0': 1, '1': 1 });
  });
});
