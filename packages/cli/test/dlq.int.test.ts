import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { Producer } from '@coldcopy/queue-core/producer';
import { openAdminQueues, openDeadLetters } from '@coldcopy/queue-core/admin';
import { deletePrefix, testPrefix } from '@coldcopy/testing';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { testFlaky, testHandlers, testJobs } from '../../queue-core/test/fixtures/test-jobs.js';
import { TEST_SECURITY_ENV, testSecurity } from '../../queue-core/test/fixtures/test-keys.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const redisUrl = inject('redisUrl');

/** `pnpm jobs …` as a separate Node process (async: the worker runs in this process meanwhile). */
function jobs(args: string[], prefix: string, env: Record<string, string> = TEST_SECURITY_ENV) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redisUrl, BULL_PREFIX: prefix, JOB_SIGNING_KEYS: '', JOB_ENCRYPTION_KEYS: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('pnpm jobs dlq', () => {
  let prefix = '';
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeEach(() => {
    prefix = testPrefix();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    await deletePrefix(redisUrl, prefix);
  });

  // Generous timeouts: every `pnpm jobs` call is a new Node process, slow on a busy shared machine.
  it('lists a job that failed its last attempt, shows it, replays it once, and purges by filter', { timeout: 300_000 }, async () => {
    const state = { broken: true };
    const runs: number[] = [];
    const worker: Worker = await startWorker({
      queue: 'maintenance',
      redisUrl,
      prefix,
      definitions: testJobs,
      handlers: {
        ...testHandlers,
        'test-flaky': async (_p: unknown, ctx: { attempt: number }) => {
          runs.push(ctx.attempt);
          if (state.broken) throw new Error('provider is down');
          return { ok: true };
        },
      } as never,
      deps: { record: async () => {} },
      logger: createSilentLogger(),
      concurrency: 2,
      security: testSecurity(),
    });
    cleanups.push(() => worker.close(2000));
    const producer = new Producer({ redisUrl, prefix, security: testSecurity() });
    cleanups.push(() => producer.close());
    const admin = openAdminQueues({ redisUrl, prefix });
    cleanups.push(() => admin.close());
    const queue = admin.shardsOf('maintenance')[0]!.inspect;

    const { id } = await producer.enqueue(testFlaky, { mode: 'always-transient', tag: 'cli' }, { idempotencyKey: 'k-1' });
    await waitFor(async () => (await queue.job(id))?.state === 'failed', 'the job to fail for good');
    const entryId = `maintenance:${id}`;

    const dlq = openDeadLetters({ redisUrl, prefix });
    cleanups.push(() => dlq.close());
    await waitFor(() => dlq.get(entryId), 'the dead-letter entry');
    const list = await jobs(['dlq', 'list', '--json'], prefix);
    expect(list.code, list.stderr).toBe(0);
    const [entry] = (JSON.parse(list.stdout) as { entries: Array<Record<string, unknown>> }).entries;
    expect(entry).toMatchObject({ id: entryId, queue: 'maintenance', jobName: 'test-flaky', attemptsMade: 3, error: { message: 'provider is down' } });

    const table = await jobs(['dlq', 'list', '--queue', 'maintenance', '--job', 'test-flaky'], prefix);
    expect(table.stdout).toMatch(new RegExp(`${entryId}\\s+test-flaky\\s+3\\s+Error: provider is down`));
    expect((await jobs(['dlq', 'list', '--older-than', '1h'], prefix)).stdout).toBe('no dead-lettered jobs\n');
    const show = await jobs(['dlq', 'show', entryId], prefix);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/attempts: +3/);
    expect(show.stdout).toMatch(/first failed: +\d{4}-/);

    state.broken = false;
    const replay = await jobs(['dlq', 'replay', entryId], prefix);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe(`replayed ${entryId} as job ${id}\n`);
    await waitFor(async () => (await queue.job(id))?.state === 'completed', 'the replayed job to complete');
    expect(runs).toEqual([1, 2, 3, 1]);

    // Running it again enqueues nothing.
    const again = await jobs(['dlq', 'replay', entryId], prefix);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no dead letter .* \(already replayed or purged\?\)/);
    expect(runs).toEqual([1, 2, 3, 1]);

    // purge by filter
    state.broken = true;
    await producer.enqueue(testFlaky, { mode: 'always-transient', tag: 'p' }, { attempts: 1 });
    await waitFor(async () => (await dlq.count()) === 1, 'a second dead letter');
    const purge = await jobs(['dlq', 'purge', '--job', 'test-flaky'], prefix);
    expect(purge.stdout).toBe('purged 1 dead-letter entry\n');
  });

  it('refuses bad usage with exit 2 and a replay without signing keys', { timeout: 300_000 }, async () => {
    expect((await jobs(['dlq'], prefix)).code).toBe(2);
    expect((await jobs(['dlq', 'purge'], prefix)).code).toBe(2); // needs ids, a filter or --all
    expect((await jobs(['dlq', 'list', '--queue', 'nope'], prefix)).code).toBe(2);
    expect((await jobs(['dlq', 'list', '--older-than', 'soon'], prefix)).code).toBe(2);
    expect((await jobs(['dlq', 'replay', 'x', '--all'], prefix)).code).toBe(2);
    const noKeys = await jobs(['dlq', 'replay', '--all'], prefix, {});
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toMatch(/JOB_SIGNING_KEYS is not set/);
    expect((await jobs(['dlq', 'show', 'maintenance:404'], prefix)).code).toBe(1);
  });
});
