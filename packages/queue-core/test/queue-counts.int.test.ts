import { describe, expect, it } from 'vitest';
import { openAdminQueues, readShardCounts } from '../src/admin/index.js';
import { QUEUE_NAMES } from '../src/definitions/queues.js';
import { Producer } from '../src/producer/producer.js';
import { testEcho } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';
import { useIsolatedRedis } from './helpers.js';

const workspaceId = '00000000-0000-4000-8000-000000000001';

describe('queue counts (admin readShardCounts over queue-counts.ts, real Redis)', () => {
  const redis = useIsolatedRedis();

  it('counts waiting, paused, delayed and the next job’s age from Bull’s keys, with an injected clock', async () => {
    const producer = redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity() }), (p) => p.close());
    const admin = redis.track(openAdminQueues({ redisUrl: redis.redisUrl, prefix: redis.prefix }), (x) => x.close());
    const before = Date.now();
    await producer.enqueueBulk(
      testEcho,
      ['a', 'b'].map((value) => ({ data: { workspaceId, value } })),
    );
    await producer.enqueue(testEcho, { workspaceId, value: 'later' }, { delay: 60_000 });
    const maintenance = admin.shardsOf('maintenance')[0]!;
    const [counts] = await readShardCounts([maintenance], { now: () => before + 10_000 });
    expect(counts).toMatchObject({ waiting: 2, active: 0, delayed: 1, completed: 0, failed: 0, paused: false, finished: { completed: null, failed: null } });
    expect(counts!.oldestWaitingAgeSeconds).toBeGreaterThan(5);
    expect(counts!.oldestWaitingAgeSeconds).toBeLessThanOrEqual(10);
    await maintenance.inspect.pause();
    const [paused] = await readShardCounts([maintenance]);
    expect([paused!.paused, paused!.waiting]).toEqual([true, 2]);
    const [email] = await readShardCounts([admin.shardsOf('email')[0]!]);
    expect(email!.oldestWaitingAgeSeconds).toBeNull();
    // the admin status reads the same counts for every Bull queue
    const row = (await admin.status()).find((r) => r.bullName === 'maintenance')!;
    expect(row).toMatchObject({ queue: 'maintenance', shard: 0, waiting: 2, delayed: 1, paused: true });
  });

  it('writes every queue’s MULTI before awaiting a reply: one round trip for all queues', async () => {
    const admin = redis.track(openAdminQueues({ redisUrl: redis.redisUrl, prefix: redis.prefix }), (x) => x.close());
    const queues = QUEUE_NAMES.flatMap((q) => admin.shardsOf(q));
    const client = admin.connections.client;
    await client.ping(); // connected, nothing in flight
    const commandQueue = (client as unknown as { commandQueue: { length: number } }).commandQueue;
    expect(commandQueue.length).toBe(0);
    const pending = readShardCounts(queues, { client });
    // MULTI, 11 commands and EXEC per queue, all sent before the first reply can arrive
    expect(commandQueue.length).toBe(queues.length * 13);
    expect(await pending).toHaveLength(queues.length);
  });
});
