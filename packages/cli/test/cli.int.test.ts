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

  it('status counts paused jobs as waiting', async () => {
    const data = JSON.stringify({ workspaceId: '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11', campaignEmailId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f' });
    expect(jobs(['enqueue', 'send-email', '--data', data], prefix).code).toBe(0);
    // Pause globally the way Bull does: the wait list is renamed to paused.
    await redis.rename(`${prefix}:email:wait`, `${prefix}:email:paused`);
    await redis.set(`${prefix}:email:meta-paused`, '1');
    const status = JSON.parse(jobs(['status', '--json'], prefix).stdout) as { queues: Array<{ queue: string; waiting: number; paused: boolean }> };
    expect(status.queues.find((q) => q.queue === 'email')).toMatchObject({ waiting: 1, paused: true });
  });
});
