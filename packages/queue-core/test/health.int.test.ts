import { spawnSync } from 'node:child_process';
import { requireDebianBinary } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import { startHealthServer } from '../src/runtime/health-server.js';

describe('worker health server', () => {
  it('answers /livez always, /readyz from the readiness check, /metrics in Prometheus text', async () => {
    let ready = false;
    const metrics = createWorkerMetrics();
    metrics.completed.labels('email', 'send-email').inc(3);
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, ready: async () => ready });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/livez`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const res = await fetch(`${base}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/bull_jobs_completed_total\{queue="email",job_name="send-email"\} 3/);
      expect(text).toMatch(/# TYPE bull_job_duration_seconds histogram/);
      expect(text).toMatch(/process_cpu_seconds_total/);
      expect(text).not.toMatch(/nodejs_active_handles_total/);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/livez`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('exports worker metrics that `promtool check metrics` accepts', async (ctx) => {
    const promtool = requireDebianBinary('promtool', 'prometheus');
    if (!promtool.path) return ctx.skip(promtool.missing);
    const metrics = createWorkerMetrics();
    metrics.completed.labels('email', 'send-email').inc();
    metrics.duration.labels('email', 'send-email', 'completed').observe(0.2);
    metrics.wait.labels('email', 'send-email').observe(0.01);
    const result = spawnSync(promtool.path, ['check', 'metrics'], { input: await metrics.registry.metrics(), encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });
});
