import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { RedisConnections } from '@coldcopy/queue-core/runtime';
import { deletePrefix, testPrefix, waitFor } from '@coldcopy/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readQueueStates } from '../src/queue-state.js';
import { listQueueTargets } from '../src/queue-targets.js';

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

  it('counts a worker of analytics-1 under shard 1 only', async () => {
    const url = inject('redisUrl');
    const prefix = testPrefix();
    const shards = { analytics: 2 };
    const admin = openAdminQueues({ redisUrl: url, prefix, shards });
    const worker = openAdminQueues({ redisUrl: url, prefix, shards });
    const probe = new RedisConnections(url, 'producer', 'dashboard-test');
    closers.push(
      () => deletePrefix(url, prefix),
      () => admin.close(),
      () => worker.close(),
      () => probe.close(),
    );
    void worker.queues['analytics-1' as 'analytics'].process('*', 1, async () => 'ok').catch(() => undefined);

    const targets = listQueueTargets(admin);
    const analytics = (states: Awaited<ReturnType<typeof readQueueStates>>) =>
      Object.fromEntries(states.filter((s) => s.queue === 'analytics').map((s) => [s.shard, s.workers?.length]));
    const counts = await waitFor(
      async () => {
        // the probe fails fast until it is connected
        const states = await readQueueStates(probe.client, targets).catch(() => undefined);
        const c = states && analytics(states);
        return c?.['1'] === 1 ? c : undefined;
      },
      { what: 'the analytics-1 worker' },
    );
    expect(counts).toEqual({ '0': 0, '1': 1 });
  });
});
