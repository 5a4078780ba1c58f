import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import winston from 'winston';
import { z } from 'zod';
import { defineJob } from '../src/definitions/define-job.js';
import { createLogger } from '../src/observability/logger.js';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import { Producer } from '../src/producer/producer.js';
import type { Handler, JobContext } from '../src/runtime/job-context.js';
import type { FinalFailure, WorkerOptions } from '../src/runtime/worker.js';
import { openRawQueue, type RawJobOptions, type RawQueue } from '../src/testing/raw-queue.js';
import { readEvents, useIsolatedRedis, waitFor } from './helpers.js';
import { testEcho, testFlaky, testHandlers, testSleep, type TestDeps } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';

const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

/** test-sleep with a 200 ms time budget and no retries */
const shortSleep = defineJob({
  name: 'test-sleep',
  queue: 'maintenance',
  description: 'test-sleep with a 200 ms budget',
  scope: 'global',
  payload: { ms: z.number().int(), tag: z.string(), honourAbort: z.boolean().default(true) },
  options: { timeoutMs: 200, attempts: 1 },
});

describe('worker runtime (real Redis)', () => {
  const redis = useIsolatedRedis();

  function producer(): Producer {
    return redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity() }), (p) => p.close());
  }

  const worker = (overrides: Partial<WorkerOptions<'maintenance', TestDeps>> = {}) => redis.worker(overrides);

  function rawQueue(): RawQueue {
    const q = openRawQueue('maintenance', redis.redisUrl, redis.prefix);
    return redis.track(q, (x) => x.close());
  }

  it('runs a valid job and passes the parsed payload with defaults applied', async () => {
    await worker();
    const p = producer();
    const { id } = await p.enqueue(testEcho, { workspaceId: WS, value: 'hi' });
    const q = rawQueue();
    await waitFor(async () => (await (await q.getJob(id))?.isCompleted()) || undefined);
    const job = (await q.getJob(id))!; // read after completion: a hash read before it has no returnvalue
    expect(job.returnvalue).toEqual({ echoed: 'hi', workspaceId: WS });
    expect(await readEvents(redis.client(), redis.prefix)).toEqual(['echo:hi:0']);
  });

  it('fails an invalid payload found in Redis after one attempt, without retries, saying why', async () => {
    await worker();
    // Written past the producer (but signed), as an old deploy would.
    const data = { workspaceId: 'not-a-uuid', value: 3 };
    const opts = { jobId: 'test-echo.old-deploy', attempts: 5 };
    const job = await rawQueue().add('test-echo', data, { ...opts, signature: testSecurity().sign('test-echo', data, opts) } as RawJobOptions);
    await waitFor(async () => (await job.isFailed()) || undefined);
    const failed = (await rawQueue().getJob(job.id))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid payload for test-echo/);
    expect(failed.failedReason).toMatch(/workspaceId/);
    expect(failed.failedReason).toMatch(/value/);
    expect(await readEvents(redis.client(), redis.prefix)).toEqual([]);
  });

  it('fails an unknown job name permanently', async () => {
    await worker();
    const job = await rawQueue().add('no-such-job', {}, { attempts: 5 });
    await waitFor(async () => (await job.isFailed()) || undefined);
    const failed = (await rawQueue().getJob(job.id))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/no handler for job "no-such-job"/);
  });

  it('retries a transient error with backoff, stops at once on a permanent one, honours Retry-After', async () => {
    const metrics = createWorkerMetrics(undefined, { defaultMetrics: false });
    const finalFailures: FinalFailure[] = [];
    await worker({ metrics, onFinalFailure: (f) => void finalFailures.push(f) });
    const p = producer();
    const a = await p.enqueue(testFlaky, { mode: 'transient-then-ok', tag: 'a' });
    const b = await p.enqueue(testFlaky, { mode: 'permanent', tag: 'b' });
    const c = await p.enqueue(testFlaky, { mode: 'always-transient', tag: 'c' });
    const d = await p.enqueue(testFlaky, { mode: 'retry-after', tag: 'd' });
    const q = rawQueue();
    const state = async (id: string) => (await q.getJob(id))!.getState();
    await waitFor(async () => (await state(a.id)) === 'completed', { what: 'a to complete' });
    await waitFor(async () => (await state(b.id)) === 'failed', { what: 'b to fail' });
    await waitFor(async () => (await state(c.id)) === 'failed', { what: 'c to fail' });
    const dStarted = Date.now();
    await waitFor(async () => (await state(d.id)) === 'completed', { what: 'd to complete' });
    expect((await q.getJob(b.id))!.attemptsMade).toBe(1);
    expect((await q.getJob(c.id))!.attemptsMade).toBe(3);
    const events = await readEvents(redis.client(), redis.prefix);
    expect(events.filter((e) => e.startsWith('attempt:a:'))).toEqual(['attempt:a:1', 'attempt:a:2']);
    expect(events.filter((e) => e.startsWith('attempt:b:'))).toEqual(['attempt:b:1']);
    expect(events.filter((e) => e.startsWith('attempt:c:'))).toEqual(['attempt:c:1', 'attempt:c:2', 'attempt:c:3']);
    const dJob = (await q.getJob(d.id))!;
    // the second attempt waited for the provider's 300 ms, not the 50 ms base backoff
    expect(dJob.processedOn! - dJob.timestamp).toBeGreaterThanOrEqual(300);
    expect(Date.now() - dStarted).toBeLessThan(20_000);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/bull_jobs_failed_total\{queue="maintenance",job_name="test-flaky",final="true"\} 2/);
    expect(text).toMatch(/bull_jobs_completed_total\{queue="maintenance",job_name="test-flaky"\} 2/);
    // the final-failure hook gets the failed jobs as plain values, never Bull's Job
    const hooked = await waitFor(() => finalFailures.length >= 2 && finalFailures, { what: 'both final failures hooked' });
    expect(hooked.map((f) => [f.queue, f.job.id, f.job.state, f.job.attemptsMade, f.error.message]).sort()).toEqual(
      [
        ['maintenance', b.id, 'failed', 1, 'cannot ever work'],
        ['maintenance', c.id, 'failed', 3, 'still failing'],
      ].sort(),
    );
    expect(hooked.every((f) => Object.getPrototypeOf(f.job) === Object.prototype)).toBe(true);
  });

  it('aborts the handler signal when the time budget runs out and fails the attempt', async () => {
    await worker({ definitions: [testEcho, shortSleep, testFlaky], abortGraceMs: 500 });
    const { id } = await producer().enqueue(shortSleep, { ms: 10_000, tag: 't' });
    const q = rawQueue();
    await waitFor(async () => (await q.getJob(id))!.isFailed().then((f) => f || undefined));
    const job = (await q.getJob(id))!;
    expect(job.failedReason).toMatch(/exceeded its time budget of 200 ms/);
    expect(await readEvents(redis.client(), redis.prefix)).toEqual([`start:t:${process.pid}`]);
  });

  it('fails a handler that ignores its signal once the abort grace is over; a signal read late is born aborted', async () => {
    const seen: string[] = [];
    await worker({
      definitions: [testEcho, shortSleep, testFlaky],
      abortGraceMs: 300,
      handlers: {
        ...(testHandlers as object),
        'test-sleep': (async (p: { ms: number; tag: string; honourAbort: boolean }, ctx: JobContext<TestDeps>) => {
          if (p.honourAbort) return new Promise(() => {}); // never settles, never looks at the signal
          await new Promise((r) => setTimeout(r, p.ms)); // past the budget, then a first look at the signal
          seen.push(`${ctx.signal.aborted}:${(ctx.signal.reason as Error).name}`);
          return 'stopped late';
        }) as never,
      } as never,
    });
    const p = producer();
    const stuck = await p.enqueue(shortSleep, { ms: 0, tag: 'stuck', honourAbort: true });
    const late = await p.enqueue(shortSleep, { ms: 350, tag: 'late', honourAbort: false });
    const q = rawQueue();
    await waitFor(async () => (await q.getJob(stuck.id))!.isFailed().then((f) => f || undefined));
    expect((await q.getJob(stuck.id))!.failedReason).toMatch(/exceeded its time budget of 200 ms/);
    await waitFor(async () => (await q.getJob(late.id))!.isCompleted().then((f) => f || undefined));
    expect(seen).toEqual(['true:JobTimeoutError']);
  });

  it('runs at most the configured concurrency across all job names of the queue', async () => {
    let running = 0;
    let peak = 0;
    const slow = (ms: number) =>
      (async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, ms));
        running--;
      }) as unknown as Handler<never, TestDeps>;
    await worker({
      concurrency: 3,
      handlers: { 'test-echo': slow(150), 'test-sleep': slow(150), 'test-flaky': slow(150) } as never,
    });
    const p = producer();
    await p.enqueueBulk(
      testEcho,
      Array.from({ length: 6 }, (_, i) => ({ data: { workspaceId: WS, value: `v${i}` } })),
    );
    await p.enqueueBulk(
      testSleep,
      Array.from({ length: 6 }, (_, i) => ({ data: { ms: 1, tag: `s${i}` } })),
    );
    await p.enqueueBulk(
      testFlaky,
      Array.from({ length: 6 }, (_, i) => ({ data: { mode: 'permanent' as const, tag: `f${i}` } })),
    );
    const q = rawQueue();
    await waitFor(async () => (await q.getCompletedCount()) === 18 || undefined, { what: '18 completions' });
    expect(peak).toBe(3);
  });

  it('runs higher priorities first (1 is highest in Bull) and FIFO within a priority', async () => {
    const p = producer();
    const order = ['background', 'low', 'normal', 'critical', 'high', 'normal'] as const;
    for (const [i, priority] of order.entries()) {
      await p.enqueue(testEcho, { workspaceId: WS, value: priority, n: i }, { priority });
    }
    await worker({ concurrency: 1 });
    const q = rawQueue();
    await waitFor(async () => (await q.getCompletedCount()) === 6 || undefined);
    expect(await readEvents(redis.client(), redis.prefix)).toEqual([
      'echo:critical:3',
      'echo:high:4',
      'echo:normal:2',
      'echo:normal:5',
      'echo:low:1',
      'echo:background:0',
    ]);
  });

  it('closes cleanly right after starting: no unhandled rejection, no error line', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) })],
    });
    for (let i = 0; i < 5; i++) {
      const w = await worker({ logger });
      await w.close(1000);
    }
    await new Promise((r) => setTimeout(r, 100)); // a late rejection would surface here (vitest fails the run on one)
    expect(lines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  it('a job its stalled check fails (stalled more than allowed) is a final failure, attempts left or not: hook and metric', async () => {
    const metrics = createWorkerMetrics(undefined, { defaultMetrics: false });
    const finalFailures: FinalFailure[] = [];
    const { id } = await producer().enqueue(testEcho, { workspaceId: WS, value: 'orphan' }, { attempts: 3 });
    // taken by a worker that died, after two earlier recoveries (the default maxStalledCount is 2):
    // active, its lock gone, stalledCounter 2
    const q = rawQueue();
    const taken = (await q.getNextJob())!;
    expect(String(taken.id)).toBe(id);
    await redis.client().del(`${redis.prefix}:maintenance:${id}:lock`);
    await redis.client().hset(`${redis.prefix}:maintenance:${id}`, 'stalledCounter', 2);
    await worker({ metrics, onFinalFailure: (f) => void finalFailures.push(f), locks: { stalledInterval: 200 } });
    const [failure] = await waitFor(() => finalFailures.length > 0 && finalFailures, { what: 'the stalled job as a final failure' });
    expect(failure!.job.id).toBe(id);
    expect(failure!.error.message).toBe('job stalled more than allowable limit');
    expect(await (await q.getJob(id))!.getState()).toBe('failed');
    expect(await metrics.registry.metrics()).toMatch(/bull_jobs_failed_total\{queue="maintenance",job_name="test-echo",final="true"\} 1/);
    expect(await readEvents(redis.client(), redis.prefix)).toEqual([]);
  });

  it('logs completed jobs only at debug, and follows a level changed at run time', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) })],
    });
    await worker({ logger });
    const completedLines = () => lines.filter((l) => l.includes('"message":"job completed"'));
    await producer().enqueue(testEcho, { workspaceId: WS, value: 'at-info' });
    await waitFor(async () => (await readEvents(redis.client(), redis.prefix)).length === 1 || undefined);
    expect(completedLines()).toEqual([]);
    logger.level = 'debug';
    // the worker re-reads the level at most a second later: jobs keep coming until a line shows
    let n = 0;
    await waitFor(
      async () => {
        await producer().enqueue(testEcho, { workspaceId: WS, value: `at-debug-${n++}` });
        return completedLines().length > 0 || undefined;
      },
      { timeoutMs: 10_000, what: 'a job completed line after the switch to debug' },
    );
    expect(JSON.parse(completedLines()[0]!)).toMatchObject({ level: 'debug', queue: 'maintenance', job: 'test-echo', workspaceId: WS });
  });

  it('close() waits for the active job to finish', async () => {
    const w = await worker();
    await producer().enqueue(testSleep, { ms: 400, tag: 'c' });
    const events = redis.client();
    await waitFor(async () => (await readEvents(events, redis.prefix)).length === 1 || undefined);
    const result = await w.close(5000);
    expect(result).toEqual({ graceful: true, abandoned: 0 });
    expect(await readEvents(events, redis.prefix)).toEqual([`start:c:${process.pid}`, `done:c:${process.pid}`]);
  });

  it("never shows one prefix's jobs to a worker on another prefix", async () => {
    const other = `${redis.prefix}x`;
    const foreign = new Producer({ redisUrl: redis.redisUrl, prefix: other, security: testSecurity() });
    redis.track(foreign, (f) => f.close());
    redis.track(other, async () => {
      const { deletePrefix } = await import('@coldcopy/testing');
      await deletePrefix(redis.redisUrl, other);
    });
    await foreign.enqueue(testEcho, { workspaceId: WS, value: 'foreign' });
    await worker();
    await producer().enqueue(testEcho, { workspaceId: WS, value: 'mine' });
    await waitFor(async () => (await readEvents(redis.client(), redis.prefix)).length === 1 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(await readEvents(redis.client(), redis.prefix)).toEqual(['echo:mine:0']);
    const foreignQueue = openRawQueue('maintenance', redis.redisUrl, other);
    redis.track(foreignQueue, (q) => q.close());
    expect(await foreignQueue.getWaitingCount()).toBe(1);
  });
});
