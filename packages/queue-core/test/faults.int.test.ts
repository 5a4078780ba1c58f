import { RedisServer } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { Producer } from '../src/producer/producer.js';
import { openRawQueue } from '../src/testing/raw-queue.js';
import { readEvents, spawnWorker, useIsolatedRedis, waitFor } from './helpers.js';
import { testSleep } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';

/**
 * Faults against real processes: a worker killed with SIGKILL, a worker stopped with SIGTERM,
 * and a Redis server restarted under a running worker.
 */
describe('fault tolerance (real worker processes)', () => {
  const redis = useIsolatedRedis();
  // Short locks so that a crashed worker's job is recovered in seconds, not a minute.
  const fastLocks = { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' };

  const env = (extra: Record<string, string> = {}) => ({
    REDIS_URL: redis.redisUrl,
    BULL_PREFIX: redis.prefix,
    MAINTENANCE_CONCURRENCY: '2',
    ...fastLocks,
    ...extra,
  });
  const producer = (url = redis.redisUrl) => redis.track(new Producer({ redisUrl: url, prefix: redis.prefix, security: testSecurity() }), (p) => p.close());
  const queue = (url = redis.redisUrl) => redis.track(openRawQueue('maintenance', url, redis.prefix), (q) => q.close());

  it('a job whose worker is killed with SIGKILL is completed by another worker after its lock expires', async () => {
    const a = await spawnWorker(env());
    redis.track(a, (w) => w.child.kill('SIGKILL'));
    const { id } = await producer().enqueue(testSleep, { ms: 1500, tag: 'k' });
    const events = redis.client();
    await waitFor(async () => (await readEvents(events, redis.prefix)).includes(`start:k:${a.pid}`) || undefined, { what: 'job start in A' });
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');

    const b = await spawnWorker(env());
    redis.track(b, (w) => w.child.kill('SIGKILL'));
    const q = queue();
    await waitFor(async () => (await (await q.getJob(id))!.getState()) === 'completed' || undefined, {
      timeoutMs: 30_000,
      what: 'the job to be completed by worker B',
    });
    const seen = await readEvents(events, redis.prefix);
    expect(seen).toContain(`done:k:${b.pid}`);
    expect(seen).not.toContain(`done:k:${a.pid}`);
    const job = (await q.getJob(id))!;
    expect(job.attemptsMade).toBe(0); // a stall does not use up an attempt
    expect(b.output()).toMatch(/"message":"job completed"/);
  });

  it('SIGTERM lets the in-flight job finish and the process exits 0', async () => {
    const w = await spawnWorker(env({ SHUTDOWN_GRACE_SECONDS: '20' }));
    redis.track(w, (x) => x.child.kill('SIGKILL'));
    const { id } = await producer().enqueue(testSleep, { ms: 1200, tag: 't' });
    const events = redis.client();
    await waitFor(async () => (await readEvents(events, redis.prefix)).includes(`start:t:${w.pid}`) || undefined);
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit, w.output()).toEqual({ code: 0, signal: null });
    expect(await readEvents(events, redis.prefix)).toContain(`done:t:${w.pid}`);
    expect(await (await queue().getJob(id))!.getState()).toBe('completed');
    const stopped = w
      .output()
      .split('\n')
      .find((l) => l.includes('"message":"stopped"'));
    expect(stopped).toMatch(/"graceful":true/);
  });

  it('SIGTERM past the grace period aborts the job, exits 0, and the job is recovered, not lost', async () => {
    const w = await spawnWorker(env({ SHUTDOWN_GRACE_SECONDS: '1' }));
    redis.track(w, (x) => x.child.kill('SIGKILL'));
    const { id } = await producer().enqueue(testSleep, { ms: 60_000, tag: 'g' });
    const events = redis.client();
    await waitFor(async () => (await readEvents(events, redis.prefix)).includes(`start:g:${w.pid}`) || undefined);
    w.child.kill('SIGTERM');
    expect(await w.exited, w.output()).toEqual({ code: 0, signal: null });
    expect(w.output()).toMatch(/"abandoned":1/);
    const q = queue();
    const job = (await q.getJob(id))!;
    expect(job.attemptsMade).toBe(0); // not recorded as a failed attempt
    expect(['active', 'waiting']).toContain(await job.getState());
    // A new worker picks it up once the lock has expired; shorten the rerun. Changed data needs a
    // new signature (an unsigned edit would be rejected), written where Bull keeps the options.
    const shorter = { ms: 10, tag: 'g' };
    await job.update(shorter);
    const opts = { ...job.opts, signature: testSecurity().sign('test-sleep', shorter, job.opts) };
    await redis.client().hset(`${redis.prefix}:maintenance:${id}`, 'opts', JSON.stringify(opts));
    const next = await spawnWorker(env());
    redis.track(next, (x) => x.child.kill('SIGKILL'));
    await waitFor(async () => (await (await q.getJob(id))!.getState()) === 'completed' || undefined, { timeoutMs: 30_000 });
  });

  it('a worker keeps processing after Redis restarts, without a process restart', async () => {
    const server = await RedisServer.start({ appendOnly: true });
    redis.track(server, (s) => s.stop());
    const w = await spawnWorker(env({ REDIS_URL: server.url }));
    redis.track(w, (x) => x.child.kill('SIGKILL'));
    const p = producer(server.url);
    const events = redis.client(server.url);
    for (let i = 0; i < 3; i++) await p.enqueue(testSleep, { ms: 10, tag: `before${i}` });
    await waitFor(async () => (await readEvents(events, redis.prefix)).filter((e) => e.startsWith('done:')).length === 3 || undefined);

    await server.restart();

    for (let i = 0; i < 3; i++) {
      await waitFor(
        () =>
          p.enqueue(testSleep, { ms: 10, tag: `after${i}` }).then(
            () => true,
            () => false,
          ),
        { what: 'enqueue after restart' },
      );
    }
    await waitFor(async () => (await readEvents(events, redis.prefix)).filter((e) => e.startsWith('done:after')).length === 3 || undefined, {
      timeoutMs: 30_000,
      what: 'jobs enqueued after the restart to complete',
    });
    expect(w.child.exitCode).toBeNull();
    const done = (await readEvents(events, redis.prefix)).filter((e) => e.startsWith('done:'));
    expect(done.every((e) => e.endsWith(`:${w.pid}`))).toBe(true);
  });
});
