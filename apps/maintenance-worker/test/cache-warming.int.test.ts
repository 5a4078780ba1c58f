import { randomUUID } from 'node:crypto';
import { seedDemo } from '@coldcopy/db/seed';
import { freePort } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CacheWarmingResult, cacheWarmingHandler } from '../src/handlers/cache-warming.js';
import { createRedisWarmCache, type WarmCache } from '../src/providers/warm-cache.js';
import { testContext, useMaintenanceHarness } from './harness.js';

const h = useMaintenanceHarness();
let redis: Redis;
let cache: WarmCache;
beforeAll(async () => {
  const client = await h.pool.connect();
  await seedDemo(client, { seed: 41, leads: 150, refreshViews: true });
  client.release();
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
  cache = createRedisWarmCache(inject('redisUrl'));
});
afterAll(async () => {
  await cache?.close();
  await redis?.quit();
});

type Payload = Parameters<typeof cacheWarmingHandler>[0];
const run = async (payload: Partial<Payload>, warmCache: WarmCache) =>
  (await cacheWarmingHandler({ requestedBy: 'system', ...payload } as Payload, testContext(h.deps({ warmCache })))) as CacheWarmingResult;

describe('cache-warming', () => {
  it('writes every scope under keys that carry the workspace id, with an expiry', async () => {
    const { rows } = await h.pool.query(`SELECT id FROM workspaces WHERE status IN ('trial', 'active')`);
    const workspaces = rows.map((r) => r.id as string);
    expect(workspaces.length).toBeGreaterThan(0);
    // the demo seed computes no lead scores: give the first workspace some
    await h.pool.query(
      `INSERT INTO lead_scores (lead_id, workspace_id, total) SELECT id, workspace_id, (abs(hashtext(id::text)) % 101) FROM leads WHERE workspace_id = $1 LIMIT 20`,
      [workspaces[0]],
    );
    const result = await run({}, cache);
    expect(result.errors).toEqual([]);
    expect(result.skipped).toBeUndefined();
    expect(result.workspaces).toBe(workspaces.length);

    const keys: string[] = [];
    for (const ws of workspaces) keys.push(...(await redis.keys(`cache:${ws}:*`)));
    expect(keys.length).toBe(result.warmed);
    expect(keys.every((k) => workspaces.some((ws) => k.startsWith(`cache:${ws}:`)))).toBe(true);
    const ws = workspaces[0]!;
    const scores = JSON.parse((await redis.get(`cache:${ws}:lead-scores:top`))!) as Array<{ total: number }>;
    expect(scores.length).toBeGreaterThan(0);
    expect(scores.map((s) => s.total)).toEqual([...scores.map((s) => s.total)].sort((a, b) => b - a));
    const campaignKeys = keys.filter((k) => k.startsWith(`cache:${ws}:campaign:`));
    expect(campaignKeys.length).toBeGreaterThan(0);
    const campaign = JSON.parse((await redis.get(campaignKeys[0]!))!) as { workspace_id: string; campaign_status: string };
    expect(campaign).toMatchObject({ workspace_id: ws, campaign_status: 'active' });
    expect(JSON.parse((await redis.get(`cache:${ws}:workspace-analytics`))!)).toMatchObject({ workspace_id: ws });
    const ttl = await redis.ttl(`cache:${ws}:workspace-analytics`);
    expect(ttl).toBeGreaterThan(40 * 60);
    expect(ttl).toBeLessThanOrEqual(45 * 60);

    // scopes and limits
    const only = await run({ scopes: ['lead-scores'], limits: { maxWorkspaces: 1, maxKeysPerWorkspace: 3 } }, cache);
    expect(only).toMatchObject({ warmed: 1, workspaces: 1, errors: [] });
  });

  it('Redis down: skipped, and the job succeeds', async () => {
    const down = createRedisWarmCache(`redis://127.0.0.1:${await freePort()}`);
    try {
      expect(await run({}, down)).toEqual({ warmed: 0, workspaces: 0, errors: [], skipped: 'redis unavailable' });
    } finally {
      await down.close();
    }
  });

  it('never writes keys of a workspace that is not warmed', async () => {
    const ws = randomUUID();
    await h.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'gone', $2, 'cancelled')`, [ws, `gone-${ws.slice(0, 8)}`]);
    await run({}, cache);
    expect(await redis.keys(`cache:${ws}:*`)).toEqual([]);
  });
});
