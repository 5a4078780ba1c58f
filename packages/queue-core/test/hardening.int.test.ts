import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import winston from 'winston';
import { z } from 'zod';
import { createAlertNotifier } from '../src/observability/alert-webhook.js';
import { DeadLetterStore, openDeadLetters, type DeadLetterEntry } from '../src/dead-letters/store.js';
import { defineJob } from '../src/definitions/define-job.js';
import { PermanentJobError } from '../src/definitions/errors.js';
import { JobSecurity } from '../src/security/job-security.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import { Producer } from '../src/producer/producer.js';
import { type WorkerOptions } from '../src/runtime/worker.js';
import { openRawQueue, runStalledCheck } from '../src/testing/raw-queue.js';
import { readEvents, useIsolatedRedis, waitFor as waitForShort } from './helpers.js';
import { testEcho, testFlaky, testHandlers, testJobs, testSleep, type TestDeps } from './fixtures/test-jobs.js';
import { TEST_ENCRYPTION_KEYS, TEST_OLD_SIGNING_KEYS, TEST_SIGNING_KEYS, testSecurity } from './fixtures/test-keys.js';

const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

/** Patient waits (not timing assertions): the shared machine is often busy. */
const waitFor = <T>(check: Parameters<typeof waitForShort<T>>[0], opts: { timeoutMs?: number; what?: string } = {}) =>
  waitForShort(check, { timeoutMs: 90_000, ...opts });

/** A test-only job carrying a secret: the catalog's jobs carry ids, never tokens. */
const testConnect = defineJob({
  name: 'test-connect',
  queue: 'maintenance',
  description: 'uses an OAuth token a workspace gave us (test only)',
  scope: 'workspace',
  payload: { accessToken: z.string().min(8), account: z.string() },
  sensitive: ['accessToken'],
});

function captureLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ transports: [new winston.transports.Stream({ stream })] });
  return {
    logger,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('dead letters, signed jobs and encrypted fields (real Redis)', { timeout: 240_000 }, () => {
  const redis = useIsolatedRedis();

  const producer = (security = testSecurity()) => redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security }), (p) => p.close());
  const rawQueue = () => redis.track(openRawQueue('maintenance', redis.redisUrl, redis.prefix), (q) => q.close());
  const deadLetters = () => redis.track(openDeadLetters({ redisUrl: redis.redisUrl, prefix: redis.prefix }), (d) => d.close());

  const worker = (overrides: Partial<WorkerOptions<'maintenance', TestDeps>> = {}) => redis.worker({ concurrency: 4, ...overrides });

  /** test-flaky whose provider is down until `state.broken` is false */
  function switchableHandlers(state: { broken: boolean }) {
    return {
      ...testHandlers,
      'test-flaky': async (p: { tag: string }, ctx: { deps: TestDeps; attempt: number }) => {
        await ctx.deps.record(`attempt:${p.tag}:${ctx.attempt}`);
        if (state.broken) throw new Error('provider is down');
        return { ok: true };
      },
    } as never;
  }

  it('a job failing its last attempt is dead-lettered with its error, counted, and replayed successfully once', async () => {
    const state = { broken: true };
    const metrics = createWorkerMetrics(undefined, { defaultMetrics: false });
    const log = captureLogger();
    await worker({ handlers: switchableHandlers(state), metrics, logger: log.logger });
    const { id } = await producer().enqueue(testFlaky, { mode: 'always-transient', tag: 'x' }, { idempotencyKey: 'order-7' });
    expect(id).toBe('test-flaky.order-7');
    const dlq = deadLetters();
    const entry = await waitFor(() => dlq.get(`maintenance:${id}`), { what: 'the dead-letter entry' });
    expect(entry).toMatchObject({
      queue: 'maintenance',
      jobName: 'test-flaky',
      jobId: id,
      data: { mode: 'always-transient', tag: 'x' },
      attemptsMade: 3,
      error: { name: 'Error', message: 'provider is down' },
    });
    expect(entry.error.stack).toMatch(/provider is down/);
    expect(entry.firstFailedAt).toBeLessThan(entry.lastFailedAt);
    expect(await dlq.count()).toBe(1);
    expect((await dlq.countByQueue()).maintenance).toBe(1);
    expect(await metrics.registry.metrics()).toMatch(/bull_dead_letter_added_total\{queue="maintenance",job_name="test-flaky"\} 1/);
    const dead = log.lines().find((l) => l.message === 'job dead-lettered');
    expect(dead).toMatchObject({ level: 'error', queue: 'maintenance', job: 'test-flaky', jobId: id, attempts: 3 });

    state.broken = false;
    const security = testSecurity();
    expect(await dlq.replay([entry.id], { security })).toEqual([{ id: entry.id, status: 'replayed', jobId: id }]);
    const q = rawQueue();
    await waitFor(async () => (await (await q.getJob(id))?.getState()) === 'completed' || undefined, { what: 'the replayed job to complete' });
    // Run twice: nothing is enqueued again.
    expect(await dlq.replay([entry.id], { security })).toEqual([{ id: entry.id, status: 'not-found' }]);
    expect(await dlq.count()).toBe(0);
    const attempts = (await readEvents(redis.client(), redis.prefix)).filter((e) => e.startsWith('attempt:x:'));
    expect(attempts).toEqual(['attempt:x:1', 'attempt:x:2', 'attempt:x:3', 'attempt:x:1']);
  });

  it('a job whose data was altered in Redis is rejected by signature, never reaches its handler, and is not replayed unforced', async () => {
    const { id } = await producer().enqueue(testEcho, { workspaceId: WS, value: 'pay 10' });
    const key = `${redis.prefix}:maintenance:${id}`;
    const client = redis.client();
    const stored = JSON.parse((await client.hget(key, 'data'))!) as Record<string, unknown>;
    await client.hset(key, 'data', JSON.stringify({ ...stored, value: 'pay 10000' }));
    const log = captureLogger();
    await worker({ logger: log.logger });
    const dlq = deadLetters();
    const entry = await waitFor(() => dlq.get(`maintenance:${id}`), { what: 'the dead-letter entry' });
    expect(entry.error).toMatchObject({ name: 'JobSignatureError', message: 'signature check failed for job test-echo: mismatch' });
    expect(entry.attemptsMade).toBe(1);
    expect(await readEvents(client, redis.prefix)).toEqual([]); // the handler never ran
    expect(log.lines().find((l) => l.security === true && l.level === 'error')).toMatchObject({
      message: 'security: job rejected, signature check failed',
      jobId: id,
      reason: 'mismatch',
    });
    const [outcome] = await dlq.replay([entry.id], { security: testSecurity() });
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(await dlq.count()).toBe(1);

    // a job added without any signature fails the same way
    const unsigned = await rawQueue().add('test-echo', { workspaceId: WS, value: 'u' }, { attempts: 3 });
    const e2 = await waitFor(() => dlq.get(`maintenance:${unsigned.id}`));
    expect(e2.error.message).toMatch(/: missing$/);
    expect(await readEvents(client, redis.prefix)).toEqual([]);
  });

  it('a signed job copied under a new id, or stored again with more attempts, a lower priority number or no delay, is refused before its handler', async () => {
    const client = redis.client();
    const k = (name: string) => `${redis.prefix}:maintenance:${name}`;
    const { id } = await producer().enqueue(testEcho, { workspaceId: WS, value: 'once' }, { delay: 3_600_000 });
    expect(await client.zscore(k('delayed'), id)).not.toBeNull();
    expect(id).toMatch(/^[0-9a-f-]{36}$/); // a job without an idempotency key gets an id the signature binds
    const hash = await client.hgetall(k(id));
    const opts = JSON.parse(hash.opts!) as Record<string, unknown>;
    /** a copy of the genuine job's hash under `copyId`, in the wait list, with `change` on its options */
    const plant = async (copyId: string, change: Record<string, unknown>) => {
      await client.hset(k(copyId), { ...hash, opts: JSON.stringify({ ...opts, ...change }), delay: '0' });
      await client.lpush(k('wait'), copyId);
    };
    await plant('copied-under-new-id', {});
    await client.zrem(k('delayed'), id); // the genuine one, made due now with its delay removed
    await plant(id, { delay: 0 });
    await plant('more-attempts', { attempts: 50 });
    await plant('higher-priority', { priority: 1 });
    const log = captureLogger();
    await worker({ logger: log.logger });
    const dlq = deadLetters();
    for (const jobId of ['copied-under-new-id', id, 'more-attempts', 'higher-priority']) {
      const entry = await waitFor(() => dlq.get(`maintenance:${jobId}`), { what: `the dead-letter entry of ${jobId}` });
      expect(entry.error).toMatchObject({ name: 'JobSignatureError', message: 'signature check failed for job test-echo: mismatch' });
    }
    expect(await readEvents(client, redis.prefix)).toEqual([]); // no copy and no altered job ran
    expect(log.lines().filter((l) => l.security === true && l.reason === 'mismatch').length).toBeGreaterThanOrEqual(4);
    // the genuine job, enqueued again with its own options, runs once
    const again = await producer().enqueue(testEcho, { workspaceId: WS, value: 'twice' });
    await waitFor(async () => (await readEvents(client, redis.prefix)).length === 1 || undefined);
    expect(await readEvents(client, redis.prefix)).toEqual(['echo:twice:0']);
    expect(again.id).not.toBe(id);
  });

  it.each([
    ['data', '{not json'],
    ['opts', '{"attempts":3,'],
  ] as const)('a job whose stored %s is not valid JSON is dead-lettered whole, with a security line, and never runs', async (field, poison) => {
    const { id } = await producer().enqueue(testEcho, { workspaceId: WS, value: 'poison' });
    const key = `${redis.prefix}:maintenance:${id}`;
    const client = redis.client();
    const other = field === 'data' ? await client.hget(key, 'opts') : await client.hget(key, 'data');
    await client.hset(key, field, poison);
    const log = captureLogger();
    await worker({ logger: log.logger });
    const dlq = deadLetters();
    const entry = await waitFor(() => dlq.get(`maintenance:${id}`), { what: 'the dead-letter entry' });
    expect(entry.error).toMatchObject({ name: 'CorruptJobError' });
    expect(entry.error.message).toContain(`its ${field} is not valid JSON`);
    expect(entry.stored).toEqual(field === 'data' ? { data: poison, opts: other } : { data: other, opts: poison });
    expect(await readEvents(client, redis.prefix)).toEqual([]); // the handler never ran
    expect(log.lines().find((l) => l.security === true && l.level === 'error')).toMatchObject({
      message: 'security: job rejected, stored job is corrupt',
      reason: 'corrupt',
      jobId: id,
      field,
    });
    expect(await rawQueue().getJobCountByTypes(['failed'])).toBe(1);
    const [outcome] = await dlq.replay([entry.id], { security: testSecurity(), force: true });
    expect(outcome).toMatchObject({ status: 'refused', reason: expect.stringContaining('corrupt') });
  });

  it("Bull's stalled check moves a stalled job with corrupt options to failed instead of losing it (patched script)", async () => {
    const queue = rawQueue();
    const job = await queue.add('test-echo', { workspaceId: WS, value: 'x' }, { attempts: 1 });
    const id = String(job.id);
    const client = redis.client();
    const k = (name: string) => `${redis.prefix}:maintenance:${name}`;
    // As a worker that died holding the job leaves it: in active, no lock, marked stalled, and
    // stalled once already (maxStalledCount 1), with options damaged meanwhile.
    await client.lrem(k('wait'), 0, id);
    await client.lpush(k('active'), id);
    await client.sadd(k('stalled'), id);
    await client.hset(k(id), 'stalledCounter', '1', 'opts', '{"attempts":');
    await client.del(k('stalled-check')); // the check is due now
    await runStalledCheck(queue);
    expect(await client.zscore(k('failed'), id)).not.toBeNull();
    expect(await client.hget(k(id), 'failedReason')).toBe('job stalled more than allowable limit');
    expect(await client.lrange(k('active'), 0, -1)).toEqual([]);
  });

  it('after a key rotation, jobs signed with the previous key still verify', async () => {
    const before = producer(new JobSecurity({ signingKeys: TEST_OLD_SIGNING_KEYS }));
    const { id } = await before.enqueue(testEcho, { workspaceId: WS, value: 'old-key' });
    const job = (await rawQueue().getJob(id))!;
    expect((job.opts as { signature?: string }).signature).toMatch(/^v2\.k1\./);
    await worker({ security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS }) }); // k2 current, k1 previous
    const after = await producer().enqueue(testEcho, { workspaceId: WS, value: 'new-key' });
    await waitFor(async () => (await readEvents(redis.client(), redis.prefix)).length === 2 || undefined);
    expect((await readEvents(redis.client(), redis.prefix)).sort()).toEqual(['echo:new-key:0', 'echo:old-key:0']);
    expect(((await rawQueue().getJob(after.id))!.opts as { signature?: string }).signature).toMatch(/^v2\.k2\./);
  });

  it('an encrypted field is unreadable in Redis (redis-cli) and in dead letters, and correct inside the handler', async () => {
    const token = 'ya29.a0Af-very-secret-oauth-token';
    const seen: string[] = [];
    let fail = false;
    await worker({
      definitions: [...testJobs, testConnect],
      handlers: {
        ...testHandlers,
        'test-connect': async (p: { accessToken: string }, ctx: { job: { data: unknown } }) => {
          seen.push(p.accessToken);
          expect((ctx.job.data as { accessToken: string }).accessToken).toMatch(/^enc:v1:/); // the job itself keeps the envelope
          if (fail) throw new PermanentJobError('token revoked');
          return { ok: true };
        },
      } as never,
    });
    const p = producer();
    const { id } = await p.enqueue(testConnect, { workspaceId: WS, accessToken: token, account: 'a@b.c' });
    await waitFor(() => seen.length === 1 || undefined);
    expect(seen).toEqual([token]);

    const cli = spawnSync('redis-cli', ['-u', redis.redisUrl, 'HGET', `${redis.prefix}:maintenance:${id}`, 'data'], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('"accessToken":"enc:v1:e1:');
    expect(cli.stdout).toContain('"account":"a@b.c"');
    const dump = spawnSync('redis-cli', ['-u', redis.redisUrl, '--scan', '--pattern', `${redis.prefix}:*`], { encoding: 'utf8' });
    for (const k of dump.stdout.split('\n').filter(Boolean)) {
      const type = await redis.client().type(k);
      if (type === 'hash') expect(JSON.stringify(await redis.client().hgetall(k))).not.toContain('very-secret');
    }

    fail = true;
    const second = await p.enqueue(testConnect, { workspaceId: WS, accessToken: token, account: 'x' });
    const dlq = deadLetters();
    const entry = await waitFor(() => dlq.get(`maintenance:${second.id}`));
    expect(JSON.stringify(entry)).not.toContain('very-secret');
    expect((entry.data as { accessToken: string }).accessToken).toMatch(/^enc:v1:e1:/);

    // a worker with another encryption key fails the job permanently
    const wrongKey = new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: 'e1:fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlU=' });
    expect(() => wrongKey.open(testConnect, entry.data)).toThrow(/authentication failed/);
    expect(new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS }).open(testConnect, entry.data)).toMatchObject({
      accessToken: token,
    });
  });

  it('the alert webhook gets one post at once and one summary for a burst of 100 failures, without payload data', async () => {
    const posts: string[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        posts.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    redis.track(server, (s) => new Promise((r) => s.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    // A window far longer than the burst; close() delivers the summary, so no timing is involved.
    const notifier = createAlertNotifier({ url, windowMs: 600_000 });
    // The recorder notifies after its store write: count the notifications, so close() runs after the 100th.
    let notified = 0;
    const alerts: typeof notifier = {
      notify: (event) => {
        notified++;
        notifier.notify(event);
      },
      close: () => notifier.close(),
    };
    await worker({ concurrency: 10, deadLetters: { alerts } });
    await producer().enqueueBulk(
      testFlaky,
      Array.from({ length: 100 }, (_, i) => ({ data: { mode: 'permanent' as const, tag: `secret-tag-${i}` } })),
    );
    const dlq = deadLetters();
    await waitFor(async () => (await dlq.count()) === 100 || undefined, { what: '100 dead letters' });
    await waitFor(() => notified === 100 || undefined, { what: '100 alert notifications' });
    await waitFor(() => posts.length === 1 || undefined, { what: 'the first alert' });
    await alerts.close();
    expect(posts).toHaveLength(2);
    const texts = posts.map((p) => (JSON.parse(p) as { text: string }).text);
    expect(texts[0]).toBe('job dead-lettered: maintenance/test-flaky (PermanentJobError)');
    expect(texts[1]).toMatch(/^100 jobs dead-lettered in the last \d+ s: maintenance\/test-flaky ×100$/);
    expect(posts.join('')).not.toContain('secret-tag');
  });

  it('the store stays bounded by count and age, and filters by queue, job name and age', async () => {
    const store = new DeadLetterStore(redis.client(), redis.prefix, { maxEntries: 5, maxAgeMs: 3_600_000 });
    const entry = (i: number, jobName = 'test-echo', queue: 'maintenance' | 'email' = 'maintenance'): DeadLetterEntry => ({
      id: `${queue}:${i}`,
      queue,
      jobName,
      jobId: String(i),
      data: { i },
      opts: {},
      error: { name: 'Error', message: 'x' },
      attemptsMade: 1,
      firstFailedAt: 0,
      lastFailedAt: 0,
    });
    const now = Date.now();
    await store.add(entry(1), now - 7_200_000); // already too old when the next add runs
    for (let i = 2; i <= 8; i++) await store.add(entry(i, i % 2 ? 'test-sleep' : 'test-echo', i === 8 ? 'email' : 'maintenance'), now - (10 - i) * 60_000);
    // 5 per queue: maintenance keeps its newest five, email's one entry is not counted against them
    expect(await store.count()).toBe(6);
    const ids = (await store.list()).map((e) => e.id);
    expect(ids).toEqual(['email:8', 'maintenance:7', 'maintenance:6', 'maintenance:5', 'maintenance:4', 'maintenance:3']);
    expect((await store.list({ queue: 'email' })).map((e) => e.id)).toEqual(['email:8']);
    expect((await store.list({ jobName: 'test-sleep' })).map((e) => e.id)).toEqual(['maintenance:7', 'maintenance:5', 'maintenance:3']);
    expect((await store.list({ olderThanMs: 5 * 60_000 })).map((e) => e.id)).toEqual(['maintenance:5', 'maintenance:4', 'maintenance:3']);
    expect(await store.purge({ queue: 'maintenance', olderThanMs: 5 * 60_000 })).toBe(3);
    expect(await store.count()).toBe(3);
    expect((await store.countByQueue()).email).toBe(1);
    const ttl = await redis.client().pttl(`${redis.prefix}:dlq:e:email:8`);
    expect(ttl).toBeGreaterThan(3_500_000);
    // a flood of one queue's failures never evicts another queue's entries
    for (let i = 100; i < 120; i++) await store.add(entry(i, 'test-echo', 'email'), now);
    expect(await store.count('email')).toBe(5);
    expect((await store.list({ queue: 'maintenance' })).map((e) => e.id)).toEqual(['maintenance:7', 'maintenance:6']);
  });

  it('a failing dead-letter write is logged and the worker keeps processing', async () => {
    const log = captureLogger();
    // A key of the wrong type under the index makes the add script fail.
    await redis.client().set(`${redis.prefix}:dlq:index`, 'not a sorted set');
    await worker({ logger: log.logger });
    const p = producer();
    await p.enqueue(testFlaky, { mode: 'permanent', tag: 'p' });
    await waitFor(() => log.lines().some((l) => l.message === 'dead-letter write failed') || undefined);
    await p.enqueue(testSleep, { ms: 1, tag: 'after' });
    await waitFor(async () => (await readEvents(redis.client(), redis.prefix)).includes(`done:after:${process.pid}`) || undefined);
  });
});
