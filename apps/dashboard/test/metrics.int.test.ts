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
    const { email, enrichment, ai } = fx.admin.queues;
    const now = Date.now();
    await email.add('send-email', { n: 1 }, { timestamp: now - 120_000 } as never);
    await email.add('send-email', { n: 2 });
    await email.add('send-email', { n: 3 }, { delay: 60_000 });
    // A paused queue keeps its waiting jobs in the `paused` list: still waiting.
    await enrichment.pause();
    await enrichment.add('enrich-lead', { n: 1 });
    await enrichment.add('enrich-lead', { n: 2 });

    // A worker with Bull's per-minute metrics on, as the workers need to run for throughput.
    const worker = fx.openQueues({ metricsDataPoints: 60 });
    void worker.queues.ai.process('*', async (job) => {
      if ((job.data as { fail?: boolean }).fail) throw new Error('nope');
      return 'ok';
    });
    await ai.add('draft-email', { fail: false }, { attempts: 1 });
    await ai.add('draft-email', { fail: false }, { attempts: 1 });
    await ai.add('draft-email', { fail: true }, { attempts: 1 });
    await waitFor(async () => (await ai.getCompletedCount()) === 2 && (await ai.getFailedCount()) === 1, { what: 'ai jobs to finish' });

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
    await fx.admin.queues.email.add('send-email', { n: 1 });
    const text = (await request(fx.app).get('/metrics')).text;
    const result = spawnSync(promtool.path, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
