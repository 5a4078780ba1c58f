import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { sample, useDashboard, waitFor } from './helpers.js';
import { requireDebianBinary } from '@coldcopy/testing';
import { DeadLetterStore } from '@coldcopy/queue-core/admin';
import { Redis } from 'ioredis';

describe('/metrics', () => {
  const fx = useDashboard();

  it('exports queue depth by state (waiting includes paused), oldest waiting age, paused, workers, throughput', async () => {
    const now = Date.now();
    const first = await fx.queues.enqueue('email', { n: 1 });
    // created two minutes ago: the oldest waiting job's age counts from there
    await fx.admin.connections.client.hset(fx.shard('email').keyOf(first.id), 'timestamp', String(now - 120_000));
    await fx.queues.enqueue('email', { n: 2 });
    await fx.queues.enqueue('email', { n: 3 }, { delay: 60_000 });
    // A paused queue keeps its waiting jobs in the `paused` list: still waiting.
    await fx.shard('enrichment').inspect.pause();
    await fx.queues.enqueue('enrichment', { n: 1 });
    await fx.queues.enqueue('enrichment', { n: 2 });

    // A worker (the runtime records Bull's per-minute metrics, as the workers need for throughput).
    await fx.queues.startWorker('ai', async (data) => {
      if (data.fail) throw new Error('nope');
      return 'ok';
    });
    await fx.queues.enqueue('ai', { fail: false }, { attempts: 1 });
    await fx.queues.enqueue('ai', { fail: false }, { attempts: 1 });
    await fx.queues.enqueue('ai', { fail: true }, { attempts: 1 });
    const ai = fx.shard('ai').inspect;
    await waitFor(async () => ((c) => c.completed === 2 && c.failed === 1)(await ai.counts()), { what: 'ai jobs to finish' });

    const res = await request(fx.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    const text = res.text;
    const q = (queue: string, state: string) => sample(text, 'bull_queue_jobs', { queue, state });
    expect([q('email', 'waiting'), q('email', 'delayed'), q('email', 'active')]).toEqual([2, 1, 0]);
    expect(q('enrichment', 'waiting')).toBe(2);
    expect(sample(text, 'bull_queue_paused', { queue: 'enrichment' })).toBe(1);
    expect(sample(text, 'bull_queue_paused', { queue: 'email' })).toBe(0);
    expect([q('ai', 'completed'), q('ai', 'failed')]).toEqual([2, 1]);
    expect(q('maintenance', 'waiting')).toBe(0);

    const age = sample(text, 'bull_queue_oldest_waiting_age_seconds', { queue: 'email' })!;
    expect(age).toBeGreaterThanOrEqual(119);
    expect(age).toBeLessThan(200);
    expect(sample(text, 'bull_queue_oldest_waiting_age_seconds', { queue: 'maintenance' })).toBeUndefined();

    expect(sample(text, 'bull_queue_workers', { queue: 'ai' })).toBe(1);
    expect(sample(text, 'bull_queue_workers', { queue: 'email' })).toBe(0);
    expect(sample(text, 'bull_queue_jobs_finished_total', { queue: 'ai', status: 'completed' })).toBe(2);
    expect(sample(text, 'bull_queue_jobs_finished_total', { queue: 'ai', status: 'failed' })).toBe(1);
    // No metrics recorded for email: no series rather than a misleading 0.
    expect(sample(text, 'bull_queue_jobs_finished_total', { queue: 'email', status: 'completed' })).toBeUndefined();

    expect(sample(text, 'bull_redis_up')).toBe(1);
    expect(sample(text, 'bull_exporter_scrape_errors_total')).toBe(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'bull_queue_dead_letter_jobs', { queue: 'email' })).toBe(0);
    expect(text).not.toMatch(/job_id|jobId/);

    // /health lists the same worker connection.
    const health = await request(fx.app).get('/health');
    const aiHealth = (health.body.queues as Array<{ queue: string; workers: number; workerConnections: Array<{ addr: string }> }>).find(
      (x) => x.queue === 'ai',
    )!;
    expect(aiHealth.workers).toBe(1);
    expect(aiHealth.workerConnections[0]!.addr).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('exports the dead-letter store size per queue', async () => {
    const client = new Redis(fx.redisUrl);
    try {
      const store = new DeadLetterStore(client, fx.prefix);
      const now = Date.now();
      for (const jobId of ['1', '2']) {
        await store.add({
          id: DeadLetterStore.entryId('email', jobId),
          queue: 'email',
          jobName: 'send-email',
          jobId,
          data: {},
          opts: {},
          error: { name: 'PermanentJobError', message: 'rejected' },
          attemptsMade: 1,
          firstFailedAt: now,
          lastFailedAt: now,
        });
      }
      const text = (await request(fx.app).get('/metrics')).text;
      expect(sample(text, 'bull_queue_dead_letter_jobs', { queue: 'email' })).toBe(2);
      expect(sample(text, 'bull_queue_dead_letter_jobs', { queue: 'ai' })).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('is accepted by `promtool check metrics`', async (ctx) => {
    const promtool = requireDebianBinary('promtool', 'prometheus');
    if (!promtool.path) return ctx.skip(promtool.missing);
    await fx.queues.enqueue('email', { n: 1 });
    const text = (await request(fx.app).get('/metrics')).text;
    const result = spawnSync(promtool.path, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
