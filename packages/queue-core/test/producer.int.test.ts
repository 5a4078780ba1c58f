import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@coldcopy/testing';
import { describe, expect, it, vi } from 'vitest';
import { JobValidationError, QueueUnavailableError } from '../src/definitions/errors.js';
import { Producer, getProducer } from '../src/producer/producer.js';
import { openRawQueue, type RawJobOptions } from '../src/testing/raw-queue.js';
import { useIsolatedRedis } from './helpers.js';
import { testSecurity } from './fixtures/test-keys.js';
import { testEcho, testSleep } from './fixtures/test-jobs.js';

const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

describe('producer (real Redis)', () => {
  const redis = useIsolatedRedis();
  const producer = () => redis.track(new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity() }), (p) => p.close());
  const keys = async () => (await redis.client().keys(`${redis.prefix}:*`)).sort();

  it('rejects bad data with a typed error naming every bad field, and writes nothing', async () => {
    const p = producer();
    const err = await p.enqueue(testEcho, { workspaceId: 'nope', value: 5, extra: 1 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobValidationError);
    const issues = (err as JobValidationError).issues.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['workspaceId', 'value', '(root)']));
    expect((err as Error).message).toMatch(/unknown field\(s\): extra/);
    expect(await keys()).toEqual([]);
  });

  it('rejects a whole bulk call when one item is bad, naming its index, and writes nothing', async () => {
    const p = producer();
    const items = [{ data: { workspaceId: WS, value: 'a' } }, { data: { workspaceId: WS, value: 'b' } }, { data: { workspaceId: WS } as never }];
    const err = await p.enqueueBulk(testEcho, items).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobValidationError);
    expect((err as JobValidationError).issues).toEqual([{ path: '[2].value', message: 'required' }]);
    expect(await keys()).toEqual([]);
  });

  it('adds bulk items in chunks with priorities and delays', async () => {
    const p = new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, bulkChunkSize: 7, security: testSecurity() });
    redis.track(p, (x) => x.close());
    const added = await p.enqueueBulk(
      testEcho,
      Array.from({ length: 20 }, (_, i) => ({ data: { workspaceId: WS, value: `v${i}` }, options: i === 0 ? { delay: 60_000 } : {} })),
    );
    expect(added).toHaveLength(20);
    const q = redis.track(openRawQueue('maintenance', redis.redisUrl, redis.prefix), (x) => x.close());
    expect(await q.getWaitingCount()).toBe(19);
    expect(await q.getDelayedCount()).toBe(1);
    const job = (await q.getJob(added[1]!.id))!;
    expect(job.opts.priority).toBe(10);
    expect(job.opts.attempts).toBe(1);
    expect(job.opts.removeOnComplete).toEqual({ age: 86400, count: 1000 });
  });

  it("stores jobs exactly as Bull's queue.add and addBulk would (it runs Bull's addJob script itself, with the data text it signed)", async () => {
    const p = producer();
    const single = await p.enqueue(testEcho, { workspaceId: WS, value: 's' }, { priority: 'high', delay: 60_000, attempts: 3 });
    const [bulk] = await p.enqueueBulk(testEcho, [{ data: { workspaceId: WS, value: 'b' }, options: { priority: 'low' } }]);
    const client = redis.client();
    const q = redis.track(openRawQueue('maintenance', redis.redisUrl, redis.prefix), (x) => x.close());
    const stored = async (id: string) => client.hgetall(`${redis.prefix}:maintenance:${id}`);
    for (const [id, viaBull] of [
      [single.id, (opts: RawJobOptions, data: unknown) => q.add('test-echo', data, opts)],
      [bulk!.id, async (opts: RawJobOptions, data: unknown) => (await q.addBulk([{ name: 'test-echo', data, opts }]))[0]!],
    ] as const) {
      const ours = await stored(id);
      const opts = JSON.parse(ours.opts!) as RawJobOptions & { jobId: string };
      // the same name, data and options again through Bull's own entry point, under another id
      const copy = await viaBull({ ...opts, jobId: `${opts.jobId}-copy` }, JSON.parse(ours.data!));
      const theirs = await stored(String(copy.id));
      expect({ ...theirs, opts: JSON.parse(theirs.opts!) }).toEqual({ ...ours, opts: { ...opts, jobId: `${opts.jobId}-copy` } });
    }
    // A job read back carries its data's text as stored (patches/bull@4.16.5.patch): the worker
    // checks the signature over those bytes.
    const fetched = (await q.getJob(single.id)) as unknown as { storedData?: unknown };
    expect(fetched.storedData).toBe((await stored(single.id)).data);
  });

  it('turns an idempotency key into a deterministic job id: a second enqueue is a no-op', async () => {
    const p = producer();
    const a = await p.enqueue(testEcho, { workspaceId: WS, value: 'x' }, { idempotencyKey: 'order-42' });
    const b = await p.enqueue(testEcho, { workspaceId: WS, value: 'x' }, { idempotencyKey: 'order-42' });
    const c = await p.enqueue(testEcho, { workspaceId: WS, value: 'x' }, { idempotencyKey: 'weird key: with spaces' });
    expect(a.id).toBe('test-echo.order-42');
    expect(b.id).toBe(a.id);
    expect(c.id).toMatch(/^test-echo\.[0-9a-f]{40}$/);
    const q = redis.track(openRawQueue('maintenance', redis.redisUrl, redis.prefix), (x) => x.close());
    expect(await q.getWaitingCount()).toBe(2);
  });

  it('schedules with delay and runAt, and refuses bad options without writing', async () => {
    const p = producer();
    const runAt = new Date(Date.now() + 3_600_000);
    const a = await p.enqueue(testSleep, { ms: 1, tag: 'a' }, { runAt });
    const q = redis.track(openRawQueue('maintenance', redis.redisUrl, redis.prefix), (x) => x.close());
    const job = (await q.getJob(a.id))!;
    expect(await job.getState()).toBe('delayed');
    expect(Math.abs(job.timestamp + (job.opts.delay ?? 0) - runAt.getTime())).toBeLessThan(1000);
    const before = await keys();
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { priority: 'urgent' as never })).rejects.toThrow(/priority: must be one of critical/);
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { delay: -5 })).rejects.toThrow(/delay/);
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { delay: 5, runAt })).rejects.toThrow(/either delay or runAt/);
    // a misspelt option is refused, not ignored (a JavaScript caller would otherwise get a job due now)
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { delayMs: 60_000 } as never)).rejects.toThrow(/delayMs: unknown option \(known: priority, delay/);
    // jobs that would never run: a delay past the horizon (default one year), a far-future runAt
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { delay: 1e30 })).rejects.toThrow(/delay: must be at most 365 days/);
    await expect(p.enqueue(testSleep, { ms: 1, tag: 'b' }, { runAt: '+275760-09-13T00:00:00.000Z' })).rejects.toThrow(/runAt: must be at most 365 days ahead/);
    expect(await keys()).toEqual(before);
    // the horizon is the producer's to set
    const patient = redis.track(
      new Producer({ redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity(), maxDelayMs: 2 * 365 * 86_400_000 }),
      (x) => x.close(),
    );
    await expect(patient.enqueue(testSleep, { ms: 1, tag: 'c' }, { delay: 400 * 86_400_000 })).resolves.toMatchObject({ queue: 'maintenance' });
  });

  it('fails fast with QueueUnavailableError when Redis is down', async () => {
    const port = await freePort(); // nothing listens here
    const p = new Producer({ redisUrl: `redis://127.0.0.1:${port}`, prefix: redis.prefix, connectTimeoutMs: 500, security: testSecurity() });
    redis.track(p, (x) => x.close());
    const started = Date.now();
    const err = await p.enqueue(testEcho, { workspaceId: WS, value: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('getProducer reuses one producer per process across module reloads (Next.js hot reload)', async () => {
    const config = { redisUrl: redis.redisUrl, prefix: redis.prefix, security: testSecurity() };
    const first = getProducer(config);
    redis.track(first, (x) => x.close());
    // A re-evaluated copy of the module, as Next.js dev does after an edit.
    vi.resetModules();
    const reloaded = await import('../src/producer/producer.js');
    expect(reloaded.getProducer).not.toBe(getProducer);
    expect(reloaded.getProducer(config)).toBe(first);
    await first.close();
    const fresh = getProducer(config);
    expect(fresh).not.toBe(first);
    await fresh.close();
  });
});

describe('producer import', () => {
  it('loads no worker code, SDK, HTTP framework, logger or metrics library', () => {
    const script = fileURLToPath(new URL('../../testing/src/list-loaded-modules.ts', import.meta.url));
    const entry = fileURLToPath(new URL('../src/producer/index.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', script, entry], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const loaded = JSON.parse(result.stdout) as string[];
    expect(loaded.some((m) => m.includes('/bull/'))).toBe(true); // sanity: the list is real
    const forbidden = /\/(winston|prom-client|express|@aws-sdk|openai|@anthropic-ai|@bull-board)\/|queue-core\/src\/(runtime|observability)\//;
    expect(loaded.filter((m) => forbidden.test(m))).toEqual([]);
  });
});
