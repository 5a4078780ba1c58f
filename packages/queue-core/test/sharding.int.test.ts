import { describe, expect, it } from 'vitest';
import { openAdminQueues } from '../src/admin/index.js';
import { bullQueueOf } from '../src/admin/admin-queues.js';
import { createSilentLogger } from '../src/observability/logger.js';
import { Producer } from '../src/producer/producer.js';
import { shardFor } from '../src/redis/sharding.js';
import { bullQueuesOf, startWorker, type Worker } from '../src/runtime/worker.js';
import { openRawQueue, type RawJob, type RawQueue } from '../src/testing/raw-queue.js';
import { testEcho, testJobs, testSleep } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';
import { useIsolatedRedis, waitFor } from './helpers.js';

const ws = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Two workspace ids on different shards of 2, found (not assumed) and asserted. */
function workspacesOnDifferentShards(): [string, string] {
  const a = ws(1);
  for (let n = 2; ; n++) if (shardFor(ws(n), 2) !== shardFor(a, 2)) return [a, ws(n)];
}

describe('workspace sharding (real Redis)', () => {
  const redis = useIsolatedRedis();

  function producer(shards: number): Producer {
    return redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity(), shards: { maintenance: shards } }), (p) =>
      p.close(),
    );
  }

  function rawQueue(name: string): RawQueue {
    const q = openRawQueue(name, redis.redisUrl, redis.prefix);
    return redis.track(q, (x) => x.close());
  }

  /** An in-process worker whose test-echo handler only counts completions per workspace. */
  async function countingWorker(shards: number, concurrency: number) {
    const completed = new Map<string, number>();
    const order: string[] = [];
    const w: Worker = await startWorker({
      queue: 'maintenance',
      redisUrl: redis.redisUrl,
      prefix: redis.prefix,
      definitions: testJobs,
      handlers: { 'test-echo': async () => ({}), 'test-sleep': async () => ({}), 'test-flaky': async () => ({}) } as never,
      deps: {},
      logger: createSilentLogger(),
      concurrency,
      shards,
      security: testSecurity(),
      deadLetters: false,
    });
    redis.track(w, (x) => x.close(2000));
    for (const q of bullQueuesOf(w)) {
      q.on('completed', (job: RawJob) => {
        const id = (job.data as { workspaceId?: string }).workspaceId ?? 'global';
        completed.set(id, (completed.get(id) ?? 0) + 1);
        order.push(id);
      });
    }
    return { worker: w, completed, order };
  }

  it('routes workspace jobs by a stable hash, global jobs to shard 0, and keeps the bulk result order', async () => {
    const [a, b] = workspacesOnDifferentShards();
    const p = producer(2);
    const single = await p.enqueue(testEcho, { workspaceId: b, value: 'x' });
    const bulk = await p.enqueueBulk(
      testEcho,
      [a, b, a, b].map((workspaceId, n) => ({ data: { workspaceId, value: `v${n}` } })),
    );
    await p.enqueue(testSleep, { ms: 0, tag: 'global' });
    const queues = { maintenance: rawQueue('maintenance'), 'maintenance-1': rawQueue('maintenance-1') };
    const shardOfA = shardFor(a, 2) === 0 ? 'maintenance' : 'maintenance-1';
    const shardOfB = shardOfA === 'maintenance' ? 'maintenance-1' : 'maintenance';
    const values = async (name: keyof typeof queues) =>
      (await queues[name].getWaiting()).map((j) => (j.data as { value?: string; tag?: string }).value ?? j.data.tag).sort();
    expect(await values(shardOfA)).toEqual(expect.arrayContaining(['v0', 'v2']));
    expect(await values(shardOfB)).toEqual(expect.arrayContaining(['x', 'v1', 'v3']));
    expect(await values('maintenance')).toContain('global');
    expect(await queues[shardOfB].getJob(single.id)).not.toBeNull();
    // result i is item i, whatever its shard
    for (const [i, r] of bulk.entries()) {
      const job = await queues[i % 2 === 0 ? shardOfA : shardOfB].getJob(r.id);
      expect(job?.data.value).toBe(`v${i}`);
    }
  });

  it('lists every shard in the admin status', async () => {
    const [a, b] = workspacesOnDifferentShards();
    await producer(2).enqueueBulk(
      testEcho,
      [a, b, b].map((workspaceId) => ({ data: { workspaceId, value: 'x' } })),
    );
    const admin = redis.track(openAdminQueues({ redisUrl: redis.redisUrl, prefix: redis.prefix, shards: { maintenance: 2 } }), (x) => x.close());
    expect(admin.shardsOf('maintenance').map((s) => s.bullName)).toEqual(['maintenance', 'maintenance-1']);
    expect(admin.shardsOf('email').map((s) => s.bullName)).toEqual(['email']);
    expect(admin.shardsOf('maintenance').map((s) => bullQueueOf(s).name)).toEqual(['maintenance', 'maintenance-1']);
    const rows = (await admin.status()).filter((r) => r.queue === 'maintenance');
    expect(rows.map((r) => [r.bullName, r.shard, r.waiting])).toEqual([
      ['maintenance', 0, shardFor(a, 2) === 0 ? 1 : 2],
      ['maintenance-1', 1, shardFor(a, 2) === 0 ? 2 : 1],
    ]);
    // the next job's age on every shard that holds one; none where nothing waits
    for (const r of rows) expect(r.oldestWaitingAgeSeconds).toBeGreaterThanOrEqual(0);
    expect((await admin.status()).find((r) => r.queue === 'email')!.oldestWaitingAgeSeconds).toBeNull();
  });

  it('fairness: 10 jobs of workspace B finish before 10% of workspace A’s 20,000-job backlog', async () => {
    const [a, b] = workspacesOnDifferentShards();
    expect(shardFor(a, 2)).not.toBe(shardFor(b, 2));
    const p = producer(2);
    const started = Date.now();
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 20_000 }, (_, n) => ({ data: { workspaceId: a, value: `a${n}` } })),
    );
    const enqueuedA = Date.now();
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 10 }, (_, n) => ({ data: { workspaceId: b, value: `b${n}` } })),
    );
    // the worker starts on the full backlog: both shards are waiting when fetching begins
    const { completed } = await countingWorker(2, 2);
    const workerStarted = Date.now();
    let aWhenBDone = -1;
    await waitFor(
      () => {
        if ((completed.get(b) ?? 0) >= 10) aWhenBDone = completed.get(a) ?? 0;
        return aWhenBDone >= 0;
      },
      { timeoutMs: 60_000, intervalMs: 1, what: 'B’s 10 jobs' },
    );
    const done = Date.now();
    console.log(
      `fairness (2 shards, concurrency 1+1): A enqueued 20,000 in ${enqueuedA - started} ms; ` +
        `B's 10 jobs all completed ${done - workerStarted} ms after the worker started, when A had completed ${aWhenBDone} (${((aWhenBDone / 20_000) * 100).toFixed(2)}%)`,
    );
    expect(aWhenBDone).toBeLessThan(2_000);
  }, 120_000);

  it('fairness while A’s backlog is being worked: B enqueued later still finishes within A’s next 10%', async () => {
    const [a, b] = workspacesOnDifferentShards();
    const p = producer(2);
    const { completed } = await countingWorker(2, 2);
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 20_000 }, (_, n) => ({ data: { workspaceId: a, value: `a${n}` } })),
    );
    const aAtB = completed.get(a) ?? 0;
    const enqueuedB = Date.now();
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 10 }, (_, n) => ({ data: { workspaceId: b, value: `b${n}` } })),
    );
    let aWhenBDone = -1;
    await waitFor(
      () => {
        if ((completed.get(b) ?? 0) >= 10) aWhenBDone = completed.get(a) ?? 0;
        return aWhenBDone >= 0;
      },
      { timeoutMs: 60_000, intervalMs: 1, what: 'B’s 10 jobs' },
    );
    console.log(
      `fairness, worker running: A had completed ${aAtB} when B enqueued; B's 10 jobs done ${Date.now() - enqueuedB} ms later, ` +
        `after A completed ${aWhenBDone - aAtB} more (${aWhenBDone} total)`,
    );
    expect(aAtB).toBeLessThan(20_000);
    expect(aWhenBDone - aAtB).toBeLessThan(2_000);
  }, 120_000);

  it('control: on one shard the same 10 jobs wait for the whole backlog ahead of them (FIFO)', async () => {
    const [a, b] = workspacesOnDifferentShards();
    const p = producer(1);
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 1_000 }, (_, n) => ({ data: { workspaceId: a, value: `a${n}` } })),
    );
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 10 }, (_, n) => ({ data: { workspaceId: b, value: `b${n}` } })),
    );
    const { completed } = await countingWorker(1, 2);
    await waitFor(() => (completed.get(b) ?? 0) >= 10, { timeoutMs: 60_000, intervalMs: 5, what: 'B’s 10 jobs' });
    const aWhenBDone = completed.get(a) ?? 0;
    console.log(`control (1 shard): A had completed ${aWhenBDone} of 1,000 when B's 10 jobs finished`);
    expect(aWhenBDone).toBeGreaterThanOrEqual(990);
  }, 120_000);
});
