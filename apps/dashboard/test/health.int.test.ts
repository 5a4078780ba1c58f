import { RedisServer } from '@coldcopy/testing';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDashboard, waitFor } from './helpers.js';

describe('/health while Redis goes away and comes back', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const fx = useDashboard({}, () => redis.url);

  it('answers 200 with counts, 503 while Redis is down, 200 again after it returns', async () => {
    await fx.queues.enqueue('email', { n: 1 });
    await fx.queues.enqueue('ai', { n: 2 }, { delay: 60_000 });

    const ok = await request(fx.app).get('/health');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'ok', redis: { reachable: true } });
    expect(ok.body.redis.latencyMs).toBeGreaterThanOrEqual(0);
    expect(ok.body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(ok.body.memory.rss).toBeGreaterThan(0);
    const byQueue = Object.fromEntries((ok.body.queues as Array<{ queue: string }>).map((q) => [q.queue, q]));
    expect(Object.keys(byQueue).sort()).toEqual(['ai', 'analytics', 'email', 'enrichment', 'integration', 'maintenance']);
    expect(byQueue.email).toMatchObject({ waiting: 1, active: 0, paused: false, workers: 0, workerConnections: [] });
    expect(byQueue.ai).toMatchObject({ waiting: 0, delayed: 1 });
    expect((await request(fx.app).get('/livez')).status).toBe(200);

    await redis.stopProcess();
    const started = Date.now();
    const down = await request(fx.app).get('/health');
    expect(down.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(down.body).toMatchObject({ status: 'unavailable', redis: { reachable: false, latencyMs: null }, queues: [] });
    expect((await request(fx.app).get('/livez')).status).toBe(200); // liveness never fails on Redis
    const metrics = await request(fx.app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^bull_redis_up 0$/m);
    expect(metrics.text).toMatch(/^bull_exporter_scrape_errors_total [1-9]/m);
    expect(metrics.text).not.toMatch(/^bull_queue_jobs\{/m); // dropped, not stale

    await redis.startProcess();
    const back = await waitFor(
      async () => {
        const res = await request(fx.app).get('/health');
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: '/health to recover' },
    );
    expect(back.body.status).toBe('ok');
    expect((await request(fx.app).get('/metrics')).text).toMatch(/^bull_redis_up 1$/m);
  });
});
