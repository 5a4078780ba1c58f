/**
 * `npm run dev` enriches the demo leads with no provider account: the demo seed (packages/db)
 * creates the enrichment providers and the demo workspace's credits; the enrichment worker's dev
 * servers (its manifest's `coldcopy.devServers`: the Hunter, Apollo and DNS emulators) start from
 * the plan scripts/dev.ts uses, the worker gets its filled `devEnv`, and the demo batch that
 * scripts/dev.ts enqueues (scripts/demo-enrichment.ts) completes against the Apollo emulator.
 * A second demo batch over the same leads is answered by the cache.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getEnrichmentJob } from '../packages/db/src/repositories/enrichment.js';
import { loadDbEnv } from '../packages/db/src/env.js';
import { closePool, createPool, type Pool } from '../packages/db/src/pool.js';
import { seedDemo } from '../packages/db/src/seed.js';
import { JobSecurity } from '../packages/queue-core/src/security/job-security.js';
import { freePort } from '../packages/testing/src/free-port.js';
import { deletePrefix, testPrefix } from '../packages/testing/src/isolation.js';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '../packages/testing/src/keys.js';
import { createTestDatabase, type TestDatabase } from '../packages/testing/src/test-database.js';
import { waitFor } from '../packages/testing/src/wait-for.js';
import { spawnWorkerApp, type WorkerAppProcess } from '../packages/testing/src/worker-app.js';
import { type AppInfo, discoverApps, ROOT } from '../scripts/deploy/apps.js';
import { DEMO_ENRICHMENT_LEADS, enqueueDemoEnrichment } from '../scripts/demo-enrichment.js';
import { devEnvOf, type DevServicePlan, planDevServices } from '../scripts/dev-services.js';

const TSX = createRequire(import.meta.url).resolve('tsx');

describe('the dev stack enriches the seeded demo leads through the enrichment dev servers', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: AppInfo;
  let plan: DevServicePlan;
  const servers: ChildProcess[] = [];
  let worker: WorkerAppProcess | undefined;
  const prefix = testPrefix();
  const security = new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS });

  beforeAll(async () => {
    db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
    pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '2' }));
    const client = await pool.connect();
    try {
      await seedDemo(client, { seed: 42, leads: 200, refreshViews: false });
    } finally {
      client.release();
    }
    app = (await discoverApps(ROOT, () => {})).find((a) => a.name === 'enrichment-worker')!;
    // the app's own servers, on free ports (DEV_<NAME>_PORT, as dev.ts reads them)
    const names = [...planDevServices([app], { tsxImport: TSX, env: {} }).services.values()];
    const overrides: Record<string, string> = {};
    for (const s of names) overrides[s.overrideEnv] = String(await freePort());
    plan = planDevServices([app], { tsxImport: TSX, env: overrides });
    for (const p of plan.processes) {
      const child = spawn(p.command, [...p.args], { cwd: p.cwd, env: { ...process.env, ...p.env }, stdio: 'ignore' });
      servers.push(child);
    }
    for (const s of plan.services.values()) {
      if (!s.readyUrl) continue;
      await waitFor(
        () =>
          fetch(s.readyUrl!).then(
            (r) => r.ok,
            () => false,
          ),
        { timeoutMs: 60_000, intervalMs: 200, what: `dev server ${s.name}` },
      );
    }
    const env = devEnvOf(app, plan, { redisUrl: inject('redisUrl'), databaseUrl: db.url }, {});
    worker = await spawnWorkerApp(app.dir, { ...env, REDIS_URL: inject('redisUrl'), BULL_PREFIX: prefix, DATABASE_URL: db.url, DATABASE_POOL_MAX: '4' });
  }, 180_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    for (const s of servers) {
      const gone = new Promise((r) => s.once('exit', r));
      if (s.exitCode === null && s.signalCode === null) s.kill('SIGTERM');
      await gone;
    }
    await deletePrefix(inject('redisUrl'), prefix);
    if (pool) await closePool(pool);
    await db?.drop();
  }, 60_000);

  const apolloLog = async () => {
    const url = `http://127.0.0.1:${plan.services.get('apollo')!.port}/__emulator/requests`;
    return ((await (await fetch(url)).json()) as { requests: Array<{ endpoint: string; status: number; credits: number; items?: unknown[] }> }).requests;
  };

  it('the seed gives the demo workspace providers and credits; the demo batch completes through the Apollo emulator, the second from the cache', async () => {
    const credits = (
      await pool.query<{ name: string; credits_available: number }>(
        `SELECT p.name, c.credits_available FROM enrichment_credits c JOIN enrichment_providers p ON p.id = c.provider_id
           JOIN workspaces w ON w.id = c.workspace_id WHERE w.slug = 'demo-42' ORDER BY p.name`,
      )
    ).rows;
    expect(credits).toEqual([
      { name: 'apollo', credits_available: 10_000 },
      { name: 'hunter', credits_available: 10_000 },
    ]);

    const run = async () => {
      const batch = await enqueueDemoEnrichment({ redisUrl: inject('redisUrl'), databaseUrl: db.url, prefix, security });
      expect(batch).toBeDefined();
      return waitFor(
        async () => {
          const j = await getEnrichmentJob(pool, batch!.workspaceId, batch!.enrichmentJobId);
          return j?.status === 'completed' ? j : false;
        },
        { timeoutMs: 120_000, intervalMs: 250, what: 'the demo batch completed' },
      );
    };
    const first = await run();
    expect(first).toMatchObject({ total: DEMO_ENRICHMENT_LEADS, processed: DEMO_ENRICHMENT_LEADS, succeeded: DEMO_ENRICHMENT_LEADS, failed: 0 });
    const calls = await apolloLog();
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.endpoint === 'people/bulk_match' && c.status === 200)).toBe(true);
    expect(calls.reduce((n, c) => n + c.items!.length, 0)).toBe(DEMO_ENRICHMENT_LEADS);
    expect(calls.reduce((n, c) => n + c.credits, 0)).toBe(DEMO_ENRICHMENT_LEADS);
    const enriched = (
      await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM leads l JOIN workspaces w ON w.id = l.workspace_id WHERE w.slug = 'demo-42' AND l.last_enriched_at IS NOT NULL`,
      )
    ).rows[0]!.n;
    expect(enriched).toBe(DEMO_ENRICHMENT_LEADS);

    const second = await run();
    expect(second).toMatchObject({ total: DEMO_ENRICHMENT_LEADS, succeeded: DEMO_ENRICHMENT_LEADS, skipped_cached: DEMO_ENRICHMENT_LEADS });
    expect(await apolloLog()).toHaveLength(calls.length);
  }, 240_000);
});
