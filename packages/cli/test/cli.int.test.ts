import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deletePrefix, testPrefix } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { TEST_SECURITY_ENV } from '../../queue-core/test/fixtures/test-keys.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const redisUrl = inject('redisUrl');

/** Runs the CLI as `pnpm jobs` does: a separate Node process. */
function jobs(args: string[], prefix: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, REDIS_URL: redisUrl, BULL_PREFIX: prefix, ...TEST_SECURITY_ENV },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pnpm jobs', () => {
  let prefix = '';
  let redis: Redis;
  beforeEach(() => {
    prefix = testPrefix();
    redis = new Redis(redisUrl);
  });
  afterEach(async () => {
    redis.disconnect();
    await deletePrefix(redisUrl, prefix);
  });

  it('catalog --json lists exactly the six queues and 24 job types, each with a JSON Schema', () => {
    const r = jobs(['catalog', '--json'], prefix);
    expect(r.code, r.stderr).toBe(0);
    const { queues } = JSON.parse(r.stdout) as { queues: Array<{ name: string; jobs: Array<{ name: string; schema: { type: string } }> }> };
    expect(queues.map((q) => q.name)).toEqual(['email', 'enrichment', 'ai', 'analytics', 'integration', 'maintenance']);
    const names = queues.flatMap((q) => q.jobs.map((j) => j.name));
    expect(names).toHaveLength(24);
    expect(new Set(names).size).toBe(24);
    for (const q of queues) for (const j of q.jobs) expect(j.schema.type).toBe('object');
  });

  it('enqueue send-email --data {} exits non-zero naming the missing fields, and Redis holds no new job', async () => {
    const r = jobs(['enqueue', 'send-email', '--data', '{}'], prefix);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid data for send-email/);
    expect(r.stderr).toMatch(/workspaceId: required/);
    expect(r.stderr).toMatch(/campaignEmailId: required/);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('enqueue with valid data adds the job; status shows it waiting; bad usage exits 2', async () => {
    const data = JSON.stringify({ workspaceId: '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11', campaignEmailId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f' });
    const r = jobs(['enqueue', 'send-email', '--data', data, '--priority', 'high'], prefix);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/enqueued send-email on email as job send-email\./);
    const s = jobs(['status', '--json'], prefix);
    expect(s.code, s.stderr).toBe(0);
    const status = JSON.parse(s.stdout) as { queues: Array<{ queue: string; waiting: number }> };
    expect(status.queues.find((q) => q.queue === 'email')!.waiting).toBe(1);
    expect(jobs(['enqueue', 'no-such-job', '--data', '{}'], prefix).code).toBe(2);
    expect(jobs(['enqueue', 'send-email', '--data', 'not json'], prefix).code).toBe(2);
    expect(jobs(['frobnicate'], prefix).code).toBe(2);
  });

  it('bad flag values exit 2 with one clear line and no stack; delays past the horizon are refused; nothing is written', async () => {
    const data = JSON.stringify({ workspaceId: '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11', campaignEmailId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f' });
    const cases: Array<[string[], RegExp]> = [
      [['--delay', '-5'], /--delay/],
      [['--delay=-5'], /--delay must be a whole number of milliseconds/],
      [['--delay', '1e30'], /--delay must be a whole number/],
      [['--delay', '99999999999999'], /delay: must be at most 365 days/],
      [['--run-at', '+275760-09-13T00:00:00.000Z'], /runAt: must be at most 365 days ahead/],
      [['--run-at', 'next tuesday'], /runAt: must be a valid date/],
      [['--priority'], /--priority/],
    ];
    for (const [flags, message] of cases) {
      const r = jobs(['enqueue', 'send-email', '--data', data, ...flags], prefix);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('every command that reads Redis names it on stderr (host, port, prefix), never the password; catalog reads none', () => {
    const { port } = new URL(redisUrl);
    for (const args of [['status'], ['schedules'], ['stuck'], ['dlq', 'list']]) {
      const r = jobs(args, prefix);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split('\n')[0]).toBe(`jobs: Redis 127.0.0.1:${port}, prefix ${prefix} (from REDIS_URL)`);
    }
    expect(jobs(['catalog'], prefix).stderr).toBe('');
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'status'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: 'redis://admin:hunter2-secret@127.0.0.1:1', BULL_PREFIX: prefix },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^jobs: Redis 127\.0\.0\.1:1, prefix /);
    expect(r.stderr + r.stdout).not.toMatch(/hunter2|admin/);
  });

  it('status counts paused jobs as waiting', async () => {
    const data = JSON.stringify({ workspaceId: '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11', campaignEmailId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f' });
    expect(jobs(['enqueue', 'send-email', '--data', data], prefix).code).toBe(0);
    // Pause globally the way Bull does: the wait list is renamed to paused.
    await redis.rename(`${prefix}:email:wait`, `${prefix}:email:paused`);
    await redis.set(`${prefix}:email:meta-paused`, '1');
    const status = JSON.parse(jobs(['status', '--json'], prefix).stdout) as { queues: Array<{ queue: string; waiting: number; paused: boolean }> };
    expect(status.queues.find((q) => q.queue === 'email')).toMatchObject({ waiting: 1, paused: true });
  });

  it('stuck lists lock-expired and overdue active jobs (dry run by default); --fix moves back or dead-letters', async () => {
    const { Producer } = await import('../../queue-core/src/producer/producer.js');
    const { testSecurity } = await import('../../queue-core/test/fixtures/test-keys.js');
    const { QUEUES } = await import('../../queue-core/src/definitions/queues.js');
    const { getJob } = await import('../../queue-core/src/jobs/index.js');
    const producer = new Producer({ redisUrl, prefix, security: testSecurity() });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await producer.enqueue('cache-warming', { requestedBy: 'system' }, { idempotencyKey: `stuck-${i}` })).id);
    await producer.close();
    const budget = getJob('cache-warming')!.options.timeoutMs ?? QUEUES.maintenance.defaults.timeoutMs;
    const key = (k: string) => `${prefix}:maintenance:${k}`;
    // what moveToActive leaves behind, then: A's worker died (no lock), B's is wedged (lock held for
    // 4x its budget), C is running normally
    const [a, b, c] = ids as [string, string, string];
    const started = { [a]: Date.now() - 5_000, [b]: Date.now() - 4 * budget, [c]: Date.now() - 1_000 };
    for (const id of ids) {
      await redis.multi().lrem(key('wait'), 0, id).zrem(key('priority'), id).lpush(key('active'), id).hset(key(id), 'processedOn', started[id]!).exec();
    }
    await redis.set(key(`${b}:lock`), 'token-b', 'PX', 60_000);
    await redis.set(key(`${c}:lock`), 'token-c', 'PX', 60_000);

    const dry = jobs(['stuck', '--json'], prefix);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; stuck: Array<{ jobId: string; reason: string }>; outcomes: unknown[] };
    expect(report.dryRun).toBe(true);
    expect(report.stuck.map((s) => [s.jobId, s.reason]).sort()).toEqual(
      [
        [a, 'lock-expired'],
        [b, 'overdue'],
      ].sort(),
    );
    expect(report.outcomes).toEqual([]);
    expect((await redis.lrange(key('active'), 0, -1)).sort()).toEqual([...ids].sort()); // nothing changed

    const text = jobs(['stuck'], prefix);
    expect(text.stdout).toMatch(/dry run: nothing changed; --fix would move 1 back to waiting and dead-letter 1/);

    const fixed = jobs(['stuck', '--fix'], prefix);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(new RegExp(`${a}  moved-to-wait`));
    expect(fixed.stdout).toMatch(new RegExp(`${b}  dead-lettered`));
    expect(await redis.lrange(key('active'), 0, -1)).toEqual([c]);
    expect(await redis.lrange(key('wait'), 0, -1)).toEqual([a]);
    expect(await redis.zscore(key('failed'), b)).not.toBeNull();
    expect(await redis.hget(key(b), 'failedReason')).toMatch(/stuck: attempt 1 ran \d+ s, more than 4× its/);
    const dlq = jobs(['dlq', 'list', '--json'], prefix);
    const entries = (JSON.parse(dlq.stdout) as { entries: Array<{ jobId: string; error: { name: string } }> }).entries;
    expect(entries.map((e) => [e.jobId, e.error.name])).toEqual([[b, 'StuckJobError']]);

    expect(jobs(['stuck', '--queue', 'nope'], prefix)).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown queue\(s\) nope/) });
    expect(jobs(['stuck', '--overdue-factor', '0.5'], prefix)).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--overdue-factor must be a number >= 1/),
    });
  });
});

describe('pnpm jobs: shards and schedules', () => {
  let prefix = '';
  beforeEach(() => {
    prefix = testPrefix();
  });
  afterEach(async () => {
    await deletePrefix(redisUrl, prefix);
  });

  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: redisUrl, BULL_PREFIX: prefix, ...TEST_SECURITY_ENV, ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('enqueue routes by workspace to a shard and status shows one row per shard', () => {
    const env = { EMAIL_SHARDS: '3' };
    for (const n of [1, 2, 3, 4]) {
      const data = JSON.stringify({ workspaceId: `7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b1${n}`, campaignEmailId: `0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6${n}` });
      expect(run(['enqueue', 'send-email', '--data', data], env).code).toBe(0);
    }
    const s = run(['status', '--json'], env);
    expect(s.code, s.stderr).toBe(0);
    const rows = (JSON.parse(s.stdout) as { queues: Array<{ queue: string; bullName: string; shard: number; waiting: number }> }).queues;
    const email = rows.filter((r) => r.queue === 'email');
    expect(email.map((r) => [r.bullName, r.shard])).toEqual([
      ['email', 0],
      ['email-1', 1],
      ['email-2', 2],
    ]);
    expect(email.reduce((n, r) => n + r.waiting, 0)).toBe(4);
    expect(rows.filter((r) => r.queue === 'ai').map((r) => r.bullName)).toEqual(['ai']);
    const table = run(['status'], env).stdout;
    expect(table).toMatch(/^email-2 +\d/m);
    expect(run(['status'], { EMAIL_SHARDS: 'many' }).code).toBe(2);
  });

  it('schedules lists every declared schedule with its next run once a worker reconciled it', async () => {
    const before = run(['schedules', '--json']);
    expect(before.code, before.stderr).toBe(0);
    const declared = (JSON.parse(before.stdout) as { schedules: Array<{ key: string; state: string; nextRun: string | null }> }).schedules;
    expect(declared.length).toBeGreaterThanOrEqual(9);
    expect(declared.every((r) => r.state === 'pending' && r.nextRun === null)).toBe(true);

    // what the maintenance worker does at startup
    const { reconcileSchedules } = await import('../../queue-core/src/runtime/schedule-reconciler.js');
    const { schedulesOn } = await import('../../queue-core/src/jobs/schedules.js');
    const { createBullQueue } = await import('../../queue-core/src/redis/bull-queue.js');
    const { RedisConnections } = await import('../../queue-core/src/redis/connections.js');
    const { testSecurity } = await import('../../queue-core/test/fixtures/test-keys.js');
    const connections = new RedisConnections(redisUrl, 'worker');
    const queue = createBullQueue('maintenance', { prefix, connections });
    try {
      await reconcileSchedules({ queue, schedules: schedulesOn('maintenance'), security: testSecurity() });
      await queue.add('cleanup-old-data', {}, { jobId: 'old', repeat: { cron: '0 4 * * *', tz: 'UTC' } });
    } finally {
      await queue.close();
      await connections.close();
    }

    const after = run(['schedules', '--json']);
    const rows = (
      JSON.parse(after.stdout) as { schedules: Array<{ key: string; queue: string; cron: string; tz: string; state: string; nextRun: string | null }> }
    ).schedules;
    const cleanup = rows.find((r) => r.key === 'cleanup-old-data')!;
    expect(cleanup).toMatchObject({ queue: 'maintenance', cron: '0 2 * * *', tz: 'UTC', state: 'active' });
    expect(Date.parse(cleanup.nextRun!)).toBeGreaterThan(Date.now());
    expect(new Date(cleanup.nextRun!).getUTCHours()).toBe(2);
    expect(rows.filter((r) => r.queue === 'analytics').every((r) => r.state === 'pending')).toBe(true);
    expect(rows.find((r) => r.state === 'stale')).toMatchObject({ key: 'old', cron: '0 4 * * *' });
    const table = run(['schedules']).stdout;
    expect(table).toMatch(/^schedule +job +queue +cron +tz +next run +state$/m);
    expect(table).toMatch(/^cleanup-old-data +cleanup-old-data +maintenance +0 2 \* \* \* +UTC +\d{4}-\d\d-\d\dT02:00:00\.000Z +active$/m);
  });
});
