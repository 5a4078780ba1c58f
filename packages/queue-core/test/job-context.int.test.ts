import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../src/definitions/define-job.js';
import { JobValidationError } from '../src/definitions/errors.js';
import { Producer } from '../src/producer/producer.js';
import { RedisConnections } from '../src/redis/connections.js';
import { shardFor, shardQueueName } from '../src/redis/sharding.js';
import type { JobContext } from '../src/runtime/job-context.js';
import { openRawQueue, type RawJobOptions, type RawQueue } from '../src/testing/raw-queue.js';
import { testEcho, testHandlers, testJobs, type TestDeps } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';
import { readEvents, useIsolatedRedis, waitFor } from './helpers.js';

const ws = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A job whose handler does what its payload says with its context, and reports what it saw. */
const testContext = defineJob({
  name: 'test-context',
  queue: 'maintenance',
  description: 'exercises the job context',
  scope: 'global',
  payload: {
    action: z.enum(['facts', 'enqueue', 'enqueue-bulk', 'enqueue-invalid', 'pause', 'resume']),
    workspaces: z.array(z.string()).default([]),
  },
  options: { attempts: 1 },
});

describe('job context: facts, enqueue, pause (real Redis)', () => {
  const redis = useIsolatedRedis();
  const seen: Array<{ jobId: string; attempt: number; scheduledAt: number; result?: unknown; error?: string }> = [];

  const handlers = {
    ...testHandlers,
    'test-context': async (p: z.output<typeof testContext.schema>, ctx: JobContext<TestDeps>) => {
      const facts = { jobId: ctx.jobId, attempt: ctx.attempt, scheduledAt: ctx.scheduledAt.getTime() };
      try {
        switch (p.action) {
          case 'facts':
            break;
          case 'enqueue':
            for (const [i, workspaceId] of p.workspaces.entries()) await ctx.enqueue(testEcho, { workspaceId, value: `one-${i}` });
            break;
          case 'enqueue-bulk':
            await ctx.enqueueBulk(
              testEcho,
              p.workspaces.map((workspaceId, i) => ({ data: { workspaceId, value: `bulk-${i}` }, options: { idempotencyKey: `k${i}` } })),
            );
            break;
          case 'enqueue-invalid':
            await ctx.enqueue(testEcho, { workspaceId: 'not-a-uuid', value: 'x' });
            break;
          case 'pause':
            await ctx.pauseQueue();
            break;
          case 'resume':
            await ctx.resumeQueue();
            break;
        }
        seen.push(facts);
      } catch (err) {
        seen.push({ ...facts, error: err instanceof JobValidationError ? 'JobValidationError' : (err as Error).message });
      }
      return {};
    },
  };

  // its own connection name, so that CLIENT LIST shows exactly this worker's connections
  const start = (shards = 2) => {
    const connections = redis.track(new RedisConnections(redis.redisUrl, 'worker', `ctx-${redis.prefix}`), (c) => c.close());
    return redis.worker({ definitions: [...testJobs, testContext], handlers: handlers as never, shards, shardCounts: {}, connections, redisUrl: undefined });
  };

  function producer(): Producer {
    return redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity(), shards: { maintenance: 2 } }), (p) =>
      p.close(),
    );
  }

  function rawQueue(name: string): RawQueue {
    return redis.track(openRawQueue(name, redis.redisUrl, redis.prefix), (x) => x.close());
  }

  it('reports jobId, attempt and scheduledAt (enqueue time plus delay; a repeat run its cron slot)', async () => {
    seen.length = 0;
    await start();
    const p = producer();
    const before = Date.now();
    const plain = await p.enqueue(testContext, { action: 'facts' });
    await waitFor(() => seen.length === 1 || undefined);
    expect(seen[0]).toMatchObject({ jobId: plain.id, attempt: 1 });
    expect(seen[0]!.scheduledAt).toBeGreaterThanOrEqual(before);
    expect(seen[0]!.scheduledAt).toBeLessThanOrEqual(Date.now());

    const delayed = await p.enqueue(testContext, { action: 'facts' }, { delay: 300 });
    await waitFor(() => seen.length === 2 || undefined);
    const job = (await rawQueue('maintenance').getJob(delayed.id))!;
    expect(seen[1]!.scheduledAt).toBe(job.timestamp + 300);

    // what Bull puts on a repeatable run: its slot in `prevMillis`, whatever the enqueue time
    const slot = Date.parse('2026-12-01T14:55:00Z');
    const data = { action: 'facts', workspaces: [] };
    const opts = { jobId: 'test-context.slot', prevMillis: slot };
    await rawQueue('maintenance').add('test-context', data, { ...opts, signature: testSecurity().sign('test-context', data, opts) } as RawJobOptions);
    await waitFor(() => seen.length === 3 || undefined);
    expect(seen[2]!.scheduledAt).toBe(slot);
  });

  it('ctx.enqueue and ctx.enqueueBulk sign and shard like the producer, over the worker connections', async () => {
    seen.length = 0;
    const worker = await start();
    const client = redis.client();
    const workerConnections = async () => ((await client.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=ctx-${redis.prefix} `)).length;
    const p = producer();
    await p.enqueue(testContext, { action: 'facts' });
    await waitFor(() => seen.length === 1 || undefined);
    const connectionsBefore = await workerConnections();

    const workspaces = [ws(1), ws(2), ws(3), ws(4), ws(5), ws(6)];
    expect(new Set(workspaces.map((w) => shardFor(w, 2))).size).toBe(2); // both shards are used
    await p.enqueue(testContext, { action: 'enqueue', workspaces });
    await p.enqueue(testContext, { action: 'enqueue-bulk', workspaces });
    await waitFor(async () => (await readEvents(client, redis.prefix)).length === 12 || undefined);
    expect(seen.filter((s) => s.error)).toEqual([]);
    // the worker verified every signature (a bad one fails the job) and ran them all
    expect((await readEvents(client, redis.prefix)).sort()).toEqual(
      [...workspaces.map((_, i) => `echo:one-${i}:0`), ...workspaces.map((_, i) => `echo:bulk-${i}:0`)].sort(),
    );
    // each job sits on the shard of its workspace, the bulk ones under their idempotency keys
    for (const [i, workspaceId] of workspaces.entries()) {
      const shard = rawQueue(shardQueueName('maintenance', shardFor(workspaceId, 2)));
      const bulk = await shard.getJob(`test-echo.k${i}`);
      expect(bulk?.data.workspaceId).toBe(workspaceId);
    }
    // no connection set of its own: the worker's command client and subscriber, no more (Bull
    // renames the blocking clients after the queue)
    expect(connectionsBefore).toBe(2);
    expect(await workerConnections()).toBe(connectionsBefore);
    expect(worker.activeCount()).toBe(0);
  });

  it('ctx.enqueue rejects bad data with a JobValidationError and writes nothing', async () => {
    seen.length = 0;
    await start(1);
    await producer().enqueue(testContext, { action: 'enqueue-invalid' });
    await waitFor(() => seen.length === 1 || undefined);
    expect(seen[0]!.error).toBe('JobValidationError');
    expect(await rawQueue('maintenance').getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('ctx.pauseQueue pauses every shard for every worker, ctx.resumeQueue resumes them', async () => {
    seen.length = 0;
    await start(2);
    const p = producer();
    const client = redis.client();
    const paused = async () => Promise.all(['maintenance', 'maintenance-1'].map(async (n) => (await client.exists(`${redis.prefix}:${n}:meta-paused`)) === 1));
    await p.enqueue(testContext, { action: 'pause' });
    await waitFor(async () => (await paused()).every(Boolean) || undefined);
    // a job added now waits
    await p.enqueue(testEcho, { workspaceId: ws(1), value: 'held' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await readEvents(client, redis.prefix)).toEqual([]);
    // resumed by a job on the other side: resume the queue from a context of a second worker
    // is not possible while paused, so an operator resumes it here and a job pauses/resumes again
    await Promise.all(['maintenance', 'maintenance-1'].map((n) => rawQueue(n).resume()));
    await waitFor(async () => (await readEvents(client, redis.prefix)).includes('echo:held:0') || undefined);
    await p.enqueue(testContext, { action: 'pause' });
    await waitFor(async () => (await paused()).every(Boolean) || undefined);
    await Promise.all(['maintenance', 'maintenance-1'].map((n) => rawQueue(n).resume()));
    await p.enqueue(testContext, { action: 'resume' });
    await waitFor(() => seen.length === 3 || undefined);
    expect(await paused()).toEqual([false, false]);
  });
});
