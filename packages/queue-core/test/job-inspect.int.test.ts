import { describe, expect, it } from 'vitest';
import { openAdminQueues } from '../src/admin/index.js';
import { Producer } from '../src/producer/producer.js';
import { testEcho, testFlaky } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';
import { useIsolatedRedis, waitFor } from './helpers.js';

const workspaceId = '00000000-0000-4000-8000-000000000001';

describe('job inspection (worker.inspect, admin shard inspect; real Redis)', () => {
  const redis = useIsolatedRedis();
  const producer = () => redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity() }), (p) => p.close());

  it('reads a finished job as plain values, the same through the worker and the admin shard', async () => {
    const p = producer();
    const w = await redis.worker();
    const admin = redis.track(openAdminQueues({ redisUrl: redis.redisUrl, prefix: redis.prefix, shards: {} }), (x) => x.close());
    const settled = (id: string) =>
      waitFor(
        async () => {
          const j = await w.inspect.job(id);
          return j?.state === 'completed' || j?.state === 'failed' ? j : false;
        },
        { timeoutMs: 20_000, what: `job ${id} settled` },
      );

    const { id } = await p.enqueue(testEcho, { workspaceId, value: 'a' });
    const done = await settled(id);
    expect(done).toMatchObject({
      id,
      name: 'test-echo',
      state: 'completed',
      returnValue: { echoed: 'a', workspaceId },
      failedReason: null,
      attemptsMade: 0,
      delay: 0,
    });
    expect(done.data).toMatchObject({ value: 'a' });
    expect(done.finishedOn).toBeGreaterThanOrEqual(done.timestamp);
    expect(await admin.shardsOf('maintenance')[0]!.inspect.job(id)).toEqual(done);

    const failed = await settled((await p.enqueue(testFlaky, { mode: 'permanent', tag: 'x' })).id);
    expect(failed).toMatchObject({ state: 'failed', failedReason: 'cannot ever work', attemptsMade: 1, attempts: 3, returnValue: undefined });
    expect((await w.inspect.jobs('completed')).map((j) => j.id)).toEqual([id]);
    expect((await w.inspect.jobs('failed')).map((j) => j.id)).toEqual([failed.id]);
    expect(await w.inspect.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: 1, failed: 1 });

    expect(await w.inspect.remove(id)).toBe(true);
    expect(await w.inspect.job(id)).toBeNull();
    expect(await w.inspect.remove(id)).toBe(false);
    expect(await w.inspect.job('no-such-job')).toBeNull();
  });

  it('lists and promotes a delayed job', async () => {
    const p = producer();
    const w = await redis.worker();
    const { id } = await p.enqueue(testEcho, { workspaceId, value: 'later' }, { delay: 3_600_000 });
    expect(await w.inspect.job(id)).toMatchObject({ state: 'delayed', delay: 3_600_000, returnValue: undefined, finishedOn: null });
    expect((await w.inspect.jobs('delayed')).map((j) => [j.id, j.state])).toEqual([[id, 'delayed']]);
    expect((await w.inspect.counts()).delayed).toBe(1);
    expect(await w.inspect.promote('no-such-job')).toBe(false);
    expect(await w.inspect.promote(id)).toBe(true);
    await waitFor(async () => (await w.inspect.job(id))?.state === 'completed', { timeoutMs: 20_000, what: 'the promoted job completed' });
    expect(await w.inspect.schedules()).toEqual([]);
  });

  it('pauses a queue globally from an admin shard: the worker takes no job until it is resumed', async () => {
    const p = producer();
    const w = await redis.worker();
    const admin = redis.track(openAdminQueues({ redisUrl: redis.redisUrl, prefix: redis.prefix, shards: {} }), (x) => x.close());
    const shard = admin.shardsOf('maintenance')[0]!.inspect;
    await shard.pause();
    expect((await w.inspect.counts()).paused).toBe(true);
    const { id } = await p.enqueue(testEcho, { workspaceId, value: 'held' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await w.inspect.job(id)).toMatchObject({ state: 'paused' });
    expect(await shard.counts()).toMatchObject({ paused: true, waiting: 1, completed: 0 });
    await shard.resume();
    expect((await shard.counts()).paused).toBe(false);
    await waitFor(async () => (await w.inspect.job(id))?.state === 'completed', { timeoutMs: 20_000, what: 'the held job completed after resume' });
  });
});
